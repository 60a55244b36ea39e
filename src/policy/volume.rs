//! Named volumes: the driver, and for the local driver the options the daemon mounts it
//! with, judged as the final map the daemon gets (the last value of a repeated key). The
//! local driver passes `type`, `device` and `o` to mount(2) from the host, so a volume
//! can be a bind of any host path or a host kernel filesystem: only a known-safe set of
//! filesystem types is accepted, and a bind is judged as a bind of where it really points.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Hardening, Refusal, storage};
use crate::request::mount;

/// The options the local driver accepts (moby's volume/local `validOpts`).
const LOCAL_OPTIONS: [&str; 4] = ["type", "device", "o", "size"];

/// mount(2) flags in `o` that do not mount a filesystem but move, remount or change how
/// mounts propagate between the volume's folder and the host.
const MOUNT_MANIPULATION: [&str; 10] =
    ["remount", "move", "shared", "rshared", "slave", "rslave", "private", "rprivate", "unbindable", "runbindable"];

/// Judges a volume of `driver` (the local driver when `None`) with the driver `options`
/// as the daemon gets them. Returns the options to send: a bind's device is replaced by
/// the real path it was judged as, so it cannot be swapped afterwards.
pub(super) fn judge(
    h: &mut Hardening,
    asked: &str,
    driver: Option<&str>,
    options: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let driver = driver.unwrap_or("local");
    if !h.profile.filesystem.volume_drivers.iter().any(|d| d == driver) {
        h.refuse(Refusal::unless(
            asked,
            format!("volume driver {driver} decides on its own what the volume really is (a host path, a device)"),
            "use the local driver",
            "filesystem.volume_drivers",
        ));
        return options.clone();
    }
    if driver != "local" {
        // A driver the profile lists is trusted with its own options.
        return options.clone();
    }
    let mut sent = options.clone();
    if let Some(unknown) = options.keys().find(|k| !LOCAL_OPTIONS.contains(&k.as_str())) {
        h.refuse(Refusal::never(
            asked,
            format!("the local volume driver knows no option {unknown:?} (only type, device, o and size)"),
            "give only the options the local driver knows",
        ));
        return sent;
    }
    let typ = options.get("type").map(String::as_str);
    let device = options.get("device").map(String::as_str);
    let flags: Vec<&str> = options.get("o").map(|o| o.split(',').collect()).unwrap_or_default();
    if let Some(flag) = flags.iter().find(|f| MOUNT_MANIPULATION.contains(f)) {
        h.refuse(Refusal::never(
            asked,
            format!("o={flag} moves, remounts or shares mounts on the host instead of mounting a volume"),
            "leave it out",
        ));
        return sent;
    }
    // mount(2) with MS_BIND ignores the type: any `o=bind` volume is a bind of its device.
    if flags.iter().any(|f| *f == "bind" || *f == "rbind") {
        match device {
            Some(dev) if dev.starts_with('/') => {
                let typed = mount::clean(Path::new(dev));
                let asked = format!("{asked} (a bind of {dev})");
                if storage::judge_bind(h, &asked, &typed) {
                    sent.insert("device".into(), h.host.real(&typed).display().to_string());
                }
            }
            _ => h.refuse(Refusal::never(asked, "a bind volume needs an absolute device path", "use -v ./path:/dst")),
        }
        return sent;
    }
    match typ {
        None => {}
        Some("none") => h.refuse(Refusal::never(
            asked,
            "type=none mounts nothing but a bind (o=bind)",
            "use a plain named volume, or -v ./path:/dst for a bind",
        )),
        Some(t) if SAFE_TYPES.contains(&t) && !h.profile.filesystem.volume_types.iter().any(|allowed| allowed == t) => {
            h.refuse(Refusal::unless(
                asked,
                format!(
                    "a {t} volume is mounted by the daemon from the host, outside the container's limits and network"
                ),
                "use a plain named volume",
                "filesystem.volume_types",
            ));
        }
        Some(t) if SAFE_TYPES.contains(&t) => {}
        Some(t) => {
            let what = device.map(|d| format!(" of {d}")).unwrap_or_default();
            h.refuse(Refusal::never(
                asked,
                format!("the volume mounts a {t} filesystem{what} from the host: a host device or the kernel's own"),
                "use a plain named volume, or a tmpfs volume",
            ));
        }
    }
    sent
}

/// Filesystem types a volume may be made of, when the profile lists them: memory, and
/// network shares. Every other type is a host device or a kernel filesystem (proc,
/// sysfs, overlay of host folders...) and is refused whatever the profile says.
pub const SAFE_TYPES: [&str; 4] = ["tmpfs", "nfs", "nfs4", "cifs"];
