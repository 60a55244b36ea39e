//! A service's resource keys that are not a single flag: `ulimits`, `blkio_config`,
//! `devices`, microsecond durations, and `deploy` (its resource limits become the same
//! controls as `mem_limit`, `cpus` and `pids_limit`; the rest is Compose's).

use serde_yaml::Value;

use super::merge::scalar_text;
use super::translate::Translation;

impl Translation<'_> {
    /// `cpu_rt_*`: microseconds, or a duration (`400ms`).
    pub(super) fn microseconds(&mut self, v: &Value, key: &str) -> Option<String> {
        let t = self.text(v, key)?;
        if t.parse::<i64>().is_ok() {
            return Some(t);
        }
        match crate::request::duration::parse_nanos(&t) {
            Some(n) => Some((n / 1000).to_string()),
            None => {
                self.problem(key, format!("invalid duration {t:?}"));
                None
            }
        }
    }

    pub(super) fn devices(&mut self, v: &Value) {
        let Value::Sequence(items) = v else {
            return self.problem("devices", "devices is a list");
        };
        for (i, item) in items.iter().enumerate() {
            let key = format!("devices[{i}]");
            let spec = match item {
                Value::Mapping(m) => ["source", "target", "permissions"]
                    .iter()
                    .filter_map(|k| m.get(*k).map(scalar_text))
                    .collect::<Vec<_>>()
                    .join(":"),
                other => self.text(other, &key).unwrap_or_default(),
            };
            self.flag("device", &spec, &key);
        }
    }

    pub(super) fn ulimits(&mut self, v: &Value) {
        let Value::Mapping(m) = v else {
            return self.problem("ulimits", "ulimits maps a name to a number or {soft, hard}");
        };
        for (k, val) in m {
            let name = scalar_text(k);
            let key = format!("ulimits.{name}");
            let spec = match val {
                Value::Mapping(sh) => {
                    let soft = sh.get("soft").map(scalar_text);
                    let hard = sh.get("hard").map(scalar_text);
                    match (soft, hard) {
                        (Some(s), Some(h)) => format!("{name}={s}:{h}"),
                        _ => {
                            self.problem(&key, "a ulimit mapping needs soft and hard");
                            continue;
                        }
                    }
                }
                other => format!("{name}={}", self.text(other, &key).unwrap_or_default()),
            };
            self.flag("ulimit", &spec, &key);
        }
    }

    pub(super) fn blkio(&mut self, v: &Value) {
        let Value::Mapping(m) = v else {
            return self.problem("blkio_config", "blkio_config is a mapping");
        };
        for (k, val) in m {
            let name = scalar_text(k);
            let key = format!("blkio_config.{name}");
            let (long, field) = match name.as_str() {
                "weight" => {
                    if let Some(t) = self.text(val, &key) {
                        self.flag("blkio-weight", &t, &key);
                    }
                    continue;
                }
                "weight_device" => ("blkio-weight-device", "weight"),
                "device_read_bps" => ("device-read-bps", "rate"),
                "device_write_bps" => ("device-write-bps", "rate"),
                "device_read_iops" => ("device-read-iops", "rate"),
                "device_write_iops" => ("device-write-iops", "rate"),
                _ => {
                    self.problem(&key, "not a blkio_config key hardrun knows");
                    continue;
                }
            };
            for (i, item) in val.as_sequence().into_iter().flatten().enumerate() {
                let path = item.get("path").map(scalar_text).unwrap_or_default();
                let amount = item.get(field).map(scalar_text).unwrap_or_default();
                self.flag(long, &format!("{path}:{amount}"), &format!("{key}[{i}]"));
            }
        }
    }

    /// `deploy`: resource limits become the same controls as mem_limit, cpus and
    /// pids_limit; what only a swarm reads is kept as written; device reservations
    /// (GPUs) are devices.
    pub(super) fn deploy(&mut self, v: &Value) {
        let Value::Mapping(m) = v else {
            return self.problem("deploy", "deploy is a mapping");
        };
        let mut kept = m.clone();
        if let Some(Value::Mapping(res)) = kept.remove("resources") {
            for (k, val) in &res {
                let section = scalar_text(k);
                let Value::Mapping(items) = val else { continue };
                for (ik, iv) in items {
                    let item = scalar_text(ik);
                    let key = format!("deploy.resources.{section}.{item}");
                    let long = match (section.as_str(), item.as_str()) {
                        ("limits", "memory") => "memory",
                        ("limits", "cpus") => "cpus",
                        ("limits", "pids") => "pids-limit",
                        ("reservations", "memory") => "memory-reservation",
                        ("reservations", "cpus") => continue,
                        ("reservations", "devices") | ("reservations", "generic_resources") => {
                            self.flag("gpus", "all", &key);
                            continue;
                        }
                        _ => {
                            self.problem(&key, "not a resource key hardrun knows");
                            continue;
                        }
                    };
                    if self.svc.origins.iter().any(|o| o.flag == long) {
                        self.problem(&key, format!("set twice (also by the service's own key for --{long})"));
                        continue;
                    }
                    if let Some(t) = self.text(iv, &key) {
                        self.flag(long, &t, &key);
                    }
                }
            }
        }
        if !kept.is_empty() {
            self.svc.kept.insert("deploy".into(), Value::Mapping(kept));
        }
    }
}
