//! Isolation flags. Parsing only: whether a value is allowed is policy's decision.

use super::value::nonempty;
use crate::capability::Capability;
use crate::request::{MapFlag, NamespaceKind, NamespaceMode, SecurityOpt, key_value};
use crate::run_args::flag::{Flag, Section::Security};

pub const FLAGS: &[Flag] = &[
    Flag::switch("privileged", "Give the container all host privileges (always refused)", Security, |r, b| {
        r.privileged = Some(b)
    }),
    Flag::many("cap-add", "CAP", "Add a Linux capability", Security, |r, v, _| {
        r.cap_add.push(Capability::parse(v)?);
        Ok(())
    }),
    Flag::many("cap-drop", "CAP", "Drop a Linux capability", Security, |r, v, _| {
        r.cap_drop.push(Capability::parse(v)?);
        Ok(())
    }),
    Flag::many(
        "security-opt",
        "OPT",
        "Security option (seccomp=, apparmor=, label=, no-new-privileges)",
        Security,
        |r, v, _| {
            r.security_opts.push(SecurityOpt::parse(v)?);
            Ok(())
        },
    ),
    Flag::switch("read-only", "Mount the root filesystem read-only (hardrun's default)", Security, |r, b| {
        r.read_only = Some(b)
    }),
    Flag::one("userns", "MODE", "User namespace mode", Security, |r, v, _| {
        r.userns = Some(NamespaceMode::parse(NamespaceKind::User, v)?);
        Ok(())
    }),
    Flag::one("cgroupns", "MODE", "Cgroup namespace: private (hardrun's default) or host", Security, |r, v, _| {
        r.cgroupns = Some(NamespaceMode::parse(NamespaceKind::Cgroup, v)?);
        Ok(())
    }),
    Flag::one("pid", "MODE", "PID namespace to use", Security, |r, v, _| {
        r.pid = Some(NamespaceMode::parse(NamespaceKind::Pid, v)?);
        Ok(())
    }),
    Flag::one("ipc", "MODE", "IPC mode: private, shareable, none, host, container:NAME", Security, |r, v, _| {
        r.ipc = Some(NamespaceMode::parse(NamespaceKind::Ipc, v)?);
        Ok(())
    }),
    Flag::one("uts", "MODE", "UTS namespace to use", Security, |r, v, _| {
        r.uts = Some(NamespaceMode::parse(NamespaceKind::Uts, v)?);
        Ok(())
    }),
    Flag::many("device", "DEVICE", "Add a host device (always refused)", Security, |r, v, _| {
        r.devices.push(nonempty("device", v)?);
        Ok(())
    }),
    Flag::many(
        "device-cgroup-rule",
        "RULE",
        "Add a rule to the device cgroup (always refused)",
        Security,
        |r, v, _| {
            r.device_cgroup_rules.push(nonempty("device-cgroup-rule", v)?);
            Ok(())
        },
    ),
    Flag::one("gpus", "GPUS", "GPU devices to add (always refused)", Security, |r, v, _| {
        r.gpus = Some(nonempty("gpus", v)?);
        Ok(())
    }),
    Flag::one("runtime", "RUNTIME", "OCI runtime for the container", Security, |r, v, _| {
        r.runtime = Some(nonempty("runtime", v)?);
        Ok(())
    }),
    Flag::many("sysctl", "KEY=VALUE", "Set a namespaced kernel parameter", Security, |r, v, _| {
        let (k, val) = key_value("--sysctl", v)?;
        r.insert_keyed("--sysctl", k, val, MapFlag::Sysctl);
        Ok(())
    }),
    Flag::one("cgroup-parent", "CGROUP", "Parent cgroup for the container", Security, |r, v, _| {
        r.cgroup_parent = Some(v.to_string());
        Ok(())
    }),
    Flag::one("isolation", "TECH", "Isolation technology (Windows)", Security, |r, v, _| {
        r.isolation = Some(v.to_string());
        Ok(())
    }),
    Flag::switch("use-api-socket", "Mount the Docker API socket (always refused)", Security, |r, b| {
        r.use_api_socket = b
    }),
];

#[cfg(test)]
mod tests {
    use super::super::testing::{err, ok};
    use crate::capability::Capability;
    use crate::request::{SeccompChoice, SecurityOpt};

    #[test]
    fn privileged_last_wins() {
        assert_eq!(ok(&["--privileged=false", "--privileged", "img:1"]).privileged, Some(true));
        assert_eq!(ok(&["--privileged=1", "img:1"]).privileged, Some(true));
        assert_eq!(ok(&["--privileged", "--privileged=f", "img:1"]).privileged, Some(false));
    }

    #[test]
    fn capabilities_any_case_with_or_without_prefix() {
        let r = ok(&["--cap-add", "net_bind_service", "--cap-add=CAP_CHOWN", "--cap-drop", "all", "img:1"]);
        assert_eq!(r.cap_add, [Capability::Named("NET_BIND_SERVICE"), Capability::Named("CHOWN")]);
        assert_eq!(r.cap_drop, [Capability::All]);
        assert!(err(&["--cap-add", "WIZARDRY", "img:1"]).contains("unknown capability"));
    }

    #[test]
    fn security_opts() {
        let r = ok(&["--security-opt", "seccomp:unconfined", "--security-opt=no-new-privileges", "img:1"]);
        assert_eq!(
            r.security_opts,
            [SecurityOpt::Seccomp(SeccompChoice::Unconfined), SecurityOpt::NoNewPrivileges(true)]
        );
        assert!(err(&["--security-opt", "bogus=1", "img:1"]).contains("unknown option"));
    }

    #[test]
    fn namespaces_and_devices_are_recorded() {
        let r =
            ok(&["--pid=host", "--ipc", "host", "--uts", "host", "--userns", "host", "--cgroupns", "host", "img:1"]);
        assert!([r.pid, r.ipc, r.uts, r.userns, r.cgroupns].iter().all(|m| m.as_ref().unwrap().is_host()));
        let r = ok(&["--device", "/dev/sda", "--device-cgroup-rule", "c 1:3 mr", "--gpus", "all", "img:1"]);
        assert_eq!((r.devices.len(), r.device_cgroup_rules.len(), r.gpus.as_deref()), (1, 1, Some("all")));
        assert!(err(&["--cgroupns", "shared", "img:1"]).contains("--cgroupns"));
    }

    #[test]
    fn runtime_sysctl_cgroup_parent_api_socket() {
        let r = ok(&[
            "--runtime",
            "runsc",
            "--sysctl",
            "net.ipv4.ip_forward=1",
            "--cgroup-parent",
            "/x",
            "--use-api-socket",
            "--read-only=false",
            "--isolation",
            "default",
            "img:1",
        ]);
        assert_eq!(r.runtime.as_deref(), Some("runsc"));
        assert_eq!(r.sysctls["net.ipv4.ip_forward"], "1");
        assert_eq!(r.cgroup_parent.as_deref(), Some("/x"));
        assert!(r.use_api_socket);
        assert_eq!(r.read_only, Some(false));
        assert_eq!(r.isolation.as_deref(), Some("default"));
    }
}
