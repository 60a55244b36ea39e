//! Logging: the log driver and its options. dockerd itself sends a container's output
//! wherever the driver says, from the host, so a driver with a network address (syslog,
//! gelf, fluentd, splunk...) reaches past `--network none` and the host's firewall, and
//! an unbounded json-file fills the host's disk. Drivers and option keys come from the
//! profile's allow-lists; sizes and file counts stay under its ceilings.

use super::{Hardening, Refusal, hashmap};
use crate::request::size::{self, format_bytes};

pub(super) fn apply(h: &mut Hardening) {
    let rule = &h.profile.logging;
    let mut refusals = Vec::new();
    if let Some(driver) = &h.req.log_driver
        && !rule.drivers.iter().any(|d| d == driver)
    {
        refusals.push(Refusal::unless(
            format!("--log-driver {driver}"),
            format!(
                "the daemon sends the container's output through {driver} from the host, past the container's network \
                 and limits; this profile allows {}",
                rule.drivers.join(", ")
            ),
            "use json-file or local, and read the logs with docker logs",
            "logging.drivers",
        ));
    }
    for (key, value) in &h.req.log_opts {
        let asked = format!("--log-opt {key}={value}");
        if !rule.options.iter().any(|o| o == key) {
            refusals.push(Refusal::unless(
                asked,
                format!("{key} is not among the log options this profile allows ({})", rule.options.join(", ")),
                "leave it out",
                "logging.options",
            ));
            continue;
        }
        match key.as_str() {
            "max-size" => match size::parse_bytes(value) {
                Some(n) if n > 0 && n <= rule.max_size => {}
                _ => refusals.push(Refusal::unless(
                    asked,
                    format!(
                        "each log file may then grow past this profile's {} on the host's disk",
                        format_bytes(rule.max_size)
                    ),
                    format!("give a size up to {}", format_bytes(rule.max_size)),
                    "logging.max_size",
                )),
            },
            "max-file" => match value.parse::<i64>() {
                Ok(n) if n >= 1 && n <= rule.max_file => {}
                _ => refusals.push(Refusal::unless(
                    asked,
                    format!(
                        "the logs may then keep more files than this profile's {} on the host's disk",
                        rule.max_file
                    ),
                    format!("keep from 1 to {} files", rule.max_file),
                    "logging.max_file",
                )),
            },
            _ => {}
        }
    }
    for r in refusals {
        h.refuse(r);
    }
    let req = h.req;
    if req.log_driver.is_some() || !req.log_opts.is_empty() {
        h.hc.log_config = Some(bollard::models::HostConfigLogConfig {
            typ: req.log_driver.clone(),
            config: (!req.log_opts.is_empty()).then(|| hashmap(&req.log_opts)),
        });
    }
}
