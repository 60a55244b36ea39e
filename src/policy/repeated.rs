//! Keys given twice to a map-valued flag (`--log-opt`, `--sysctl`, `--storage-opt`,
//! `--annotation`, `--ulimit`, a `--network` driver-opt): the docker CLI builds a map, so
//! the daemon gets only the last value. hardrun sends the same map, but a repeated key is
//! refused outright: it is how a value meant to be judged hides behind another.
//! (`--mount` keys are storage's, which knows the mount they belong to.)

use super::{Hardening, Refusal};

pub(super) fn apply(h: &mut Hardening) {
    let mut repeated: Vec<(String, String)> =
        h.req.repeated_keys.iter().map(|r| (r.flag.to_string(), r.key.clone())).collect();
    for net in &h.req.networks {
        for (i, (key, _)) in net.driver_opts.iter().enumerate() {
            if net.driver_opts[..i].iter().any(|(k, _)| k == key) {
                repeated.push((format!("--network {} driver-opt", net.name), key.clone()));
            }
        }
    }
    for (flag, key) in repeated {
        h.refuse(Refusal::never(
            format!("{flag} {key} given twice"),
            "the daemon keeps only the last value, so what is judged and what runs could differ",
            "give each key once",
        ));
    }
}
