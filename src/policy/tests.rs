//! The refusal and hardening rules, one test per rule, without a daemon.

use super::*;
use crate::profile::load::{Loader, Location};
use crate::run_args::parse_for_test;

pub(super) fn profile(name: &str) -> Profile {
    Loader { locations: vec![Location::Bundled] }.load(name).unwrap()
}

pub(super) fn host() -> Host {
    let backend = NetworkFacts { id: BACKEND_ID.into(), name: "backend".into(), driver: "bridge".into(), icc: true };
    Host {
        cwd: "/home/dev/project".into(),
        home: Some("/home/dev".into()),
        apparmor: Some(false),
        daemon_asked: true,
        networks: [("backend".to_string(), backend)].into_iter().collect(),
        ..Host::default()
    }
}

pub(super) const BACKEND_ID: &str = "b4c4e9d0a1f2e3d4c5b6a7980123456789abcdef0123456789abcdef01234567";

pub(super) fn plan_with(args: &[&str], profile: &Profile, host: &Host) -> Result<Plan, Vec<Refusal>> {
    let req = parse_for_test(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
    let plan = harden(&req, profile, host)?;
    // Every plan a policy test builds is also one `hardrun plan --format docker` prints.
    crate::plan::round_trip::assert_round_trips(&plan, profile, host);
    Ok(plan)
}

pub(super) fn plan(args: &[&str]) -> Plan {
    plan_with(args, &profile("default"), &host()).unwrap_or_else(|r| {
        panic!("{args:?} refused: {}", r.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(" | "))
    })
}

pub(super) fn refusals(args: &[&str]) -> Vec<String> {
    match plan_with(args, &profile("default"), &host()) {
        Ok(_) => panic!("{args:?} was not refused"),
        Err(r) => r.iter().map(|r| r.to_string()).collect(),
    }
}

pub(super) fn hc(p: &Plan) -> &bollard::models::HostConfig {
    p.create.host_config.as_ref().unwrap()
}

#[test]
fn the_issue_refusal_examples_are_refused() {
    let cases: &[&[&str]] = &[
        &["--privileged", "img:1.2"],
        &["--privileged=1", "img:1.2"],
        &["--net", "host", "img:1.2"],
        &["--network=host", "img:1.2"],
        &["--pid=host", "img:1.2"],
        &["--network", "container:db", "img:1.2"],
        &["--cap-add=CAP_SYS_ADMIN", "img:1.2"],
        &["--cap-add", "all", "img:1.2"],
        &["--security-opt", "seccomp:unconfined", "img:1.2"],
        &["--security-opt", "no-new-privileges=false", "img:1.2"],
        &["-v", "/:/host:ro", "img:1.2"],
        &["-v", "/etc/../:/h", "img:1.2"],
        &["--mount", "type=bind,src=/var/run/docker.sock,dst=/s", "img:1.2"],
        &["--device", "/dev/sda", "img:1.2"],
        &["-u", "root:root", "img:1.2"],
        &["--pids-limit", "-1", "img:1.2"],
        &["myimage:latest"],
        &["myimage"],
    ];
    for args in cases {
        let r = refusals(args);
        assert_eq!(r.len(), 1, "{args:?}: {r:?}");
        assert!(r[0].starts_with("refused "), "{r:?}");
    }
}

#[test]
fn the_issue_acceptance_examples_come_out_hardened() {
    let cases: &[&[&str]] = &[
        &["-d", "--name", "web", "-p", "127.0.0.1:8080:80", "img:1.2"],
        &["--cap-add", "NET_BIND_SERVICE", "img:1.2"],
        &["-v", "./data:/data", "img:1.2"],
        &["--tmpfs", "/cache:rw,size=64m", "img:1.2"],
        &["--user", "1000:1000", "img:1.2"],
        &["-it", "img:1.2", "sh", "-c", "echo --net=host"],
        &["--memory", "128m", "--cpus", "0.5", "img:1.2"],
    ];
    for args in cases {
        let p = plan(args);
        let hc = hc(&p);
        assert_eq!(hc.cap_drop.as_deref(), Some(&["ALL".to_string()][..]), "{args:?}");
        assert_eq!(hc.readonly_rootfs, Some(true));
        assert_eq!(hc.privileged, Some(false));
        let opts = hc.security_opt.as_ref().unwrap();
        assert!(opts.contains(&"no-new-privileges".to_string()));
        assert!(opts.iter().any(|o| o.starts_with("seccomp={")), "seccomp must be inline JSON");
        assert!(hc.memory.unwrap() > 0 && hc.nano_cpus.unwrap() > 0 && hc.pids_limit.unwrap() > 0);
        assert_eq!(hc.memory_swap, hc.memory, "swap equal to memory");
        let user = p.create.user.as_deref().unwrap();
        assert!(!user.starts_with("0") && !user.starts_with("root"), "{user}");
        assert!(hc.ulimits.as_ref().unwrap().iter().any(|u| u.name.as_deref() == Some("nofile")));
        assert_eq!(hc.cgroupns_mode, Some(bollard::models::HostConfigCgroupnsModeEnum::PRIVATE));
    }
}

#[test]
fn all_refusals_are_reported_together() {
    let r = refusals(&["--privileged", "--net=host", "-v", "/:/h", "-u", "0", "img"]);
    assert_eq!(r.len(), 5, "{r:?}");
}

#[test]
fn refusals_name_the_profile_key_when_a_profile_could_allow() {
    let r = refusals(&["--cap-add", "NET_RAW", "img:1"]);
    assert!(r[0].contains("capabilities.allow"), "{r:?}");
    let r = refusals(&["--privileged", "img:1"]);
    assert!(!r[0].contains("profile key"), "{r:?}");
    let r = refusals(&["-v", "/srv/data:/d", "img:1"]);
    assert!(r[0].contains("filesystem.binds.allow") && r[0].contains("outside the project"), "{r:?}");
}

#[test]
fn capabilities_drop_all_and_add_only_allowed() {
    let p = plan(&["--cap-add", "net_bind_service", "--cap-add", "CAP_CHOWN", "img:1"]);
    assert_eq!(hc(&p).cap_add.as_deref(), Some(&["CAP_NET_BIND_SERVICE".to_string(), "CAP_CHOWN".to_string()][..]));
    // An add survives --cap-drop ALL in docker, so it is checked whatever the drops say.
    let r = refusals(&["--cap-drop", "ALL", "--cap-add", "sys_admin", "img:1"]);
    assert!(r[0].contains("SYS_ADMIN"), "{r:?}");
    let p = plan(&["--cap-drop", "NET_BIND_SERVICE", "img:1"]);
    assert!(hc(&p).cap_add.is_none());
}

#[test]
fn a_profile_add_can_be_dropped_by_a_flag() {
    let mut granting = profile("default");
    granting.capabilities.add = vec![crate::capability::Capability::Named("CHOWN")];
    let p = plan_with(&["img:1"], &granting, &host()).unwrap();
    assert_eq!(hc(&p).cap_add.as_deref(), Some(&["CAP_CHOWN".to_string()][..]));
    let p = plan_with(&["--cap-drop", "chown", "img:1"], &granting, &host()).unwrap();
    assert!(hc(&p).cap_add.is_none());
}

#[test]
fn an_added_capability_is_said_to_be_inert_for_a_non_root_user() {
    let p = plan(&["--cap-add", "NET_BIND_SERVICE", "--cap-add", "CHOWN", "img:1"]);
    let note = p.notices.iter().find(|n| n.contains("will not be effective")).expect("a notice");
    assert!(note.contains("NET_BIND_SERVICE, CHOWN") && note.contains("non-root user 65532:65532"), "{note}");
    assert!(note.contains("ip_unprivileged_port_start=0"), "{note}");
    let p = plan(&["--cap-add", "CHOWN", "img:1"]);
    assert!(p.notices.iter().any(|n| n.contains("CHOWN will not be effective") && !n.contains("ports below")));
    let p = plan(&["img:1"]);
    assert!(!p.notices.iter().any(|n| n.contains("will not be effective")));
}

#[test]
fn root_in_any_spelling_is_refused() {
    for u in ["0", "root", "0:0", "root:root", "1000:0", "00", "+0"] {
        let r = refusals(&["-u", u, "img:1"]);
        assert!(r[0].contains("--user"), "{u}: {r:?}");
    }
    for g in ["0", "root"] {
        assert_eq!(refusals(&["--group-add", g, "img:1"]).len(), 1, "{g}");
    }
    assert_eq!(plan(&["img:1"]).create.user.as_deref(), Some("65532:65532"));
    assert_eq!(plan(&["-u", "1000:1000", "img:1"]).create.user.as_deref(), Some("1000:1000"));
}

#[test]
fn root_is_allowed_only_with_allow_root_and_remapped_users() {
    let mut p = profile("default");
    p.user.allow_root = true;
    assert!(plan_with(&["-u", "0", "img:1"], &p, &host()).is_err());
    let remapped = Host { userns_remapped: true, ..host() };
    assert!(plan_with(&["-u", "0", "img:1"], &p, &remapped).is_ok());
}

#[test]
fn image_user_policy() {
    let mut p = profile("default");
    p.user.default = crate::profile::DefaultUser::Image;
    let with_image =
        |user: &str| Host { image: Some(ImageFacts { user: user.into(), ..Default::default() }), ..host() };
    let plan = plan_with(&["img:1"], &p, &with_image("10001:10001")).unwrap();
    assert_eq!(plan.create.user.as_deref(), Some("10001:10001"));
    for root in ["", "root", "0"] {
        let r = plan_with(&["img:1"], &p, &with_image(root)).unwrap_err();
        assert!(r[0].to_string().contains("--user"), "{root}: {}", r[0]);
    }
    assert!(plan_with(&["-u", "1000", "img:1"], &p, &with_image("")).is_ok());
}

#[test]
fn namespaces() {
    for args in [
        &["--ipc", "host", "img:1"][..],
        &["--uts=host", "img:1"],
        &["--userns", "host", "img:1"],
        &["--cgroupns", "host", "img:1"],
        &["--pid", "container:db", "img:1"],
        &["--ipc", "container:db", "img:1"],
        &["--network", "name=host", "img:1"],
    ] {
        assert_eq!(refusals(args).len(), 1, "{args:?}");
    }
    let p = plan(&["--ipc", "shareable", "img:1"]);
    assert_eq!(hc(&p).ipc_mode.as_deref(), Some("shareable"));
}

#[test]
fn security_opts() {
    for opt in [
        "seccomp=unconfined",
        "apparmor=unconfined",
        "label=disable",
        "label:disable",
        "systempaths=unconfined",
        "no-new-privileges:false",
        "no-new-privileges=0",
        "seccomp=/tmp/mine.json",
        "apparmor=mine",
        "label=type:spc_t",
        "writable-cgroups=true",
    ] {
        assert_eq!(refusals(&["--security-opt", opt, "img:1"]).len(), 1, "{opt}");
    }
    assert!(plan(&["--security-opt", "no-new-privileges", "img:1"]).expect.no_new_privileges);
}

#[test]
fn apparmor_is_sent_only_where_enforced() {
    let p = plan(&["img:1"]);
    assert!(!hc(&p).security_opt.as_ref().unwrap().iter().any(|o| o.starts_with("apparmor")));
    assert!(p.notices.iter().any(|n| n.contains("AppArmor is not available")));
    let armored = Host { apparmor: Some(true), ..host() };
    let p = plan_with(&["img:1"], &profile("default"), &armored).unwrap();
    assert!(hc(&p).security_opt.as_ref().unwrap().contains(&"apparmor=hardrun-default".to_string()));
    let unloaded = Host { apparmor: Some(true), apparmor_unloaded: vec!["hardrun-default".into()], ..host() };
    let r = plan_with(&["img:1"], &profile("default"), &unloaded).unwrap_err();
    assert!(r[0].to_string().contains("apparmor_parser -r"), "{}", r[0]);
    let mut required = profile("default");
    required.apparmor_required = true;
    let r = plan_with(&["img:1"], &required, &host()).unwrap_err();
    assert!(r[0].to_string().contains("apparmor.required"));
}

#[test]
fn bind_sources_are_judged_after_resolution() {
    assert!(
        plan(&["-v", "./data:/data", "img:1"]).create.host_config.unwrap().binds.unwrap()[0]
            .starts_with("/home/dev/project/data:")
    );
    for spec in ["/:/h", "/etc:/e", "/etc/../:/h", "../../../../etc:/e", "/var:/v", "/proc/1/root:/r", "/home:/h"] {
        let r = refusals(&["-v", spec, "img:1"]);
        assert!(r[0].contains("exposes"), "{spec}: {r:?}");
    }
    // A symlink inside the project that points at /etc is judged where it points.
    let linked =
        Host { real_paths: [("/home/dev/project/etc-link".into(), "/etc".into())].into_iter().collect(), ..host() };
    let r = plan_with(&["-v", "./etc-link:/e", "img:1"], &profile("default"), &linked).unwrap_err();
    assert!(r[0].to_string().contains("resolves to /etc"), "{}", r[0]);
}

#[test]
fn docker_sockets_in_any_spelling() {
    for args in [
        &["-v", "/var/run/docker.sock:/s", "img:1"][..],
        &["-v", "/run/docker.sock:/s", "img:1"],
        &["--mount", "type=bind,source=/var/run/docker.sock,target=/s", "img:1"],
        &["--use-api-socket", "img:1"],
    ] {
        assert_eq!(refusals(args).len(), 1, "{args:?}");
    }
    let other = Host { daemon_sockets: vec!["/home/dev/project/.docker/run/docker.sock".into()], ..host() };
    let r = plan_with(&["-v", "./.docker/run:/d", "img:1"], &profile("default"), &other).unwrap_err();
    assert!(r[0].to_string().contains("API socket"));
}

#[test]
fn volumes_that_are_really_binds_or_devices() {
    let r = refusals(&[
        "--mount",
        "type=volume,src=etc,dst=/e,volume-opt=type=none,volume-opt=o=bind,volume-opt=device=/etc",
        "img:1",
    ]);
    assert!(r[0].contains("/etc"), "{r:?}");
    let r =
        refusals(&["--mount", "type=volume,src=disk,dst=/d,volume-opt=type=ext4,volume-opt=device=/dev/sda1", "img:1"]);
    assert!(r[0].contains("device"), "{r:?}");
    let existing = Host {
        volumes: [(
            "sneaky".to_string(),
            VolumeFacts {
                driver: "local".into(),
                options: [("o", "bind"), ("type", "none"), ("device", "/")].map(|(k, v)| (k.into(), v.into())).into(),
                ..VolumeFacts::default()
            },
        )]
        .into(),
        ..host()
    };
    assert!(plan_with(&["-v", "sneaky:/x", "img:1"], &profile("default"), &existing).is_err());
    assert!(plan(&["-v", "cache:/cache", "img:1"]).create.host_config.unwrap().binds.is_some());
    assert_eq!(refusals(&["--volume-driver", "convoy", "-v", "x1:/x", "img:1"]).len(), 2);
    assert_eq!(refusals(&["--volumes-from", "db", "img:1"]).len(), 1);
}

#[test]
fn tmpfs_and_read_only_root() {
    let p = plan(&["--tmpfs", "/cache:rw,size=64m", "img:1"]);
    assert_eq!(hc(&p).tmpfs.as_ref().unwrap()["/cache"], "rw,size=64m,uid=65532,gid=65532", "owned by the run user");
    assert_eq!(refusals(&["--tmpfs", "/cache:exec", "img:1"]).len(), 1);
    assert_eq!(refusals(&["--read-only=false", "img:1"]).len(), 1);
    let web = plan_with(&["img:1"], &profile("web"), &host()).unwrap();
    assert_eq!(hc(&web).tmpfs.as_ref().unwrap()["/tmp"], "size=64m,uid=65532,gid=65532");
    let mine = plan_with(&["-v", "./t:/tmp", "img:1"], &profile("web"), &host()).unwrap();
    assert!(hc(&mine).tmpfs.is_none(), "the user's mount at /tmp wins");
    assert_eq!(
        hc(&plan(&["img:1"])).tmpfs.as_ref().unwrap()["/tmp"],
        "size=64m,uid=65532,gid=65532",
        "/tmp by default"
    );
}

#[test]
fn limits_zero_and_negative_mean_unlimited() {
    for args in [
        &["--memory", "0", "img:1"][..],
        &["--memory-swap", "-1", "img:1"],
        &["--cpus", "0", "img:1"],
        &["--cpu-quota", "-1", "img:1"],
        &["--pids-limit", "0", "img:1"],
        &["--ulimit", "nofile=-1", "img:1"],
        &["--ulimit", "memlock=-1", "img:1"],
        &["--memory", "64g", "img:1"],
        &["--cpus", "16", "img:1"],
        &["--pids-limit", "100000", "img:1"],
        &["--ulimit", "nofile=1000000", "img:1"],
        &["-m", "256m", "--memory-swap", "1g", "img:1"],
        &["--oom-kill-disable", "--memory", "0", "img:1"],
    ] {
        assert!(!refusals(args).is_empty(), "{args:?}");
    }
    let p = plan(&["--memory", "128m", "--cpus", "0.5", "--pids-limit", "50", "img:1"]);
    let hc = hc(&p);
    assert_eq!(
        (hc.memory, hc.memory_swap, hc.nano_cpus, hc.pids_limit),
        (Some(128 << 20), Some(128 << 20), Some(500_000_000), Some(50))
    );
}

#[test]
fn cpu_quota_form_respects_the_ceiling() {
    let p = plan(&["--cpu-period", "100000", "--cpu-quota", "50000", "img:1"]);
    assert_eq!((hc(&p).cpu_quota, hc(&p).nano_cpus), (Some(50000), None));
    let p = plan(&["--cpu-period", "50000", "img:1"]);
    assert_eq!(hc(&p).cpu_quota, Some(50000), "the profile's one CPU in the user's period");
    assert!(!refusals(&["--cpu-quota", "1000000", "img:1"]).is_empty());
}

#[test]
fn networks() {
    let p = plan(&["img:1"]);
    assert_eq!(hc(&p).network_mode.as_deref(), Some("hardrun"), "the isolated network by name without a daemon");
    let with_net = Host { isolated_network: Some("0123abcd".into()), ..host() };
    let p = plan_with(&["img:1"], &profile("default"), &with_net).unwrap();
    assert_eq!(hc(&p).network_mode.as_deref(), Some("0123abcd"), "and by ID once the engine found it");
    let mut bridge_default = profile("default");
    bridge_default.network.default = "bridge".into();
    let p = plan_with(&["img:1"], &bridge_default, &host()).unwrap();
    assert_eq!(hc(&p).network_mode.as_deref(), Some("default"), "docker's own spelling of its default bridge");
    let p = plan(&["--network", "backend", "--network-alias", "api", "img:1"]);
    assert_eq!(hc(&p).network_mode.as_deref(), Some(BACKEND_ID), "sent as the ID the daemon resolved");
    let eps = p.create.networking_config.unwrap().endpoints_config.unwrap();
    assert_eq!(eps[BACKEND_ID].aliases.as_deref(), Some(&["api".to_string()][..]));
    let strict = profile("strict");
    assert!(plan_with(&["--network", "bridge", "img:1.2"], &strict, &host()).is_err());
    let p = plan_with(&["img:1.2"], &strict, &host()).unwrap();
    assert_eq!(hc(&p).network_mode.as_deref(), Some("none"));
    assert!(plan_with(&["-p", "80:80", "img:1.2"], &strict, &host()).is_err());
}

#[test]
fn kernel_tunables_devices_runtimes() {
    for args in [
        &["--sysctl", "net.ipv4.ip_forward=1", "img:1"][..],
        &["--runtime", "runsc", "img:1"],
        &["--cgroup-parent", "/x", "img:1"],
        &["--gpus", "all", "img:1"],
        &["--device-cgroup-rule", "c 1:3 mr", "img:1"],
        &["--oom-score-adj", "-100", "img:1"],
        &["--cpu-rt-runtime", "95000", "img:1"],
        &["-w", "/proc/self/fd/7", "img:1"],
        &["--entrypoint", "/proc/self/exe", "img:1"],
    ] {
        assert_eq!(refusals(args).len(), 1, "{args:?}");
    }
    assert!(plan_with(&["--runtime", "runc", "img:1"], &profile("default"), &host()).is_ok());
}

#[test]
fn intent_survives() {
    let p = plan(&[
        "-e",
        "A=1",
        "-l",
        "team=dev",
        "-w",
        "/app",
        "-h",
        "box",
        "--restart",
        "on-failure:2",
        "--dns",
        "10.0.0.1",
        "--add-host",
        "db:10.0.0.2",
        "--stop-signal",
        "SIGINT",
        "--init",
        "--entrypoint",
        "/bin/sh",
        "img:1",
        "-c",
        "echo hi",
    ]);
    let c = &p.create;
    assert_eq!(c.env.as_deref(), Some(&["A=1".to_string()][..]));
    assert_eq!(c.labels.as_ref().unwrap()["team"], "dev");
    assert_eq!(c.labels.as_ref().unwrap()["org.hardrun.profile"], "default");
    assert_eq!((c.working_dir.as_deref(), c.hostname.as_deref()), (Some("/app"), Some("box")));
    assert_eq!(c.cmd.as_deref(), Some(&["-c".to_string(), "echo hi".to_string()][..]));
    assert_eq!(c.entrypoint.as_deref(), Some(&["/bin/sh".to_string()][..]));
    assert_eq!(c.stop_signal.as_deref(), Some("SIGINT"));
    let hc = hc(&p);
    assert_eq!(hc.restart_policy.as_ref().unwrap().maximum_retry_count, Some(2));
    assert_eq!(hc.extra_hosts.as_deref(), Some(&["db:10.0.0.2".to_string()][..]));
    assert_eq!(hc.init, Some(true));
}

#[test]
fn streams_follow_the_docker_cli() {
    let p = plan(&["-i", "img:1"]);
    let c = &p.create;
    assert_eq!(
        (c.attach_stdin, c.attach_stdout, c.open_stdin, c.stdin_once),
        (Some(true), Some(true), Some(true), Some(true))
    );
    let p = plan(&["-d", "-i", "img:1"]);
    assert_eq!(
        (p.create.attach_stdin, p.create.attach_stdout, p.create.stdin_once),
        (Some(false), Some(false), Some(false))
    );
    let p = plan(&["-a", "stderr", "img:1"]);
    assert_eq!((p.create.attach_stdout, p.create.attach_stderr), (Some(false), Some(true)));
}

#[test]
fn image_tag_rules() {
    let strict = profile("strict");
    assert!(plan_with(&["img:1"], &strict, &host()).is_err());
    assert!(plan_with(&["img:1.2"], &strict, &host()).is_ok());
    let mut digest_only = profile("default");
    digest_only.image.tags = crate::profile::schema::TagRule::Digest;
    assert!(plan_with(&["img:1.2"], &digest_only, &host()).is_err());
    let mut registries = profile("default");
    registries.image.registries = vec!["registry.example.com".into()];
    assert!(plan_with(&["img:1.2"], &registries, &host()).is_err());
    assert!(plan_with(&["registry.example.com/team/img:1.2"], &registries, &host()).is_ok());
}

#[test]
fn every_decision_names_its_source() {
    let p = plan(&["--memory", "128m", "img:1"]);
    let memory = p.decisions.iter().find(|d| d.control == "memory").unwrap();
    assert_eq!(memory.source, crate::plan::Source::Flag { flag: "--memory 128m".into() });
    let cpus = p.decisions.iter().find(|d| d.control == "cpus").unwrap();
    assert_eq!(
        cpus.source,
        crate::plan::Source::Profile { key: "resources.cpus.default".into(), file: "bundled:default".into() }
    );
    for control in
        ["capabilities", "user", "root filesystem", "no-new-privileges", "seccomp", "apparmor", "pids", "network"]
    {
        assert!(p.decisions.iter().any(|d| d.control == control), "{control}");
    }
}

#[test]
fn a_root_default_user_needs_remapped_users_too() {
    let mut p = profile("default");
    p.user.allow_root = true;
    p.user.default = crate::profile::DefaultUser::Fixed(crate::request::UserSpec::parse("0:0").unwrap());
    let r = plan_with(&["img:1"], &p, &host()).unwrap_err();
    assert!(r[0].to_string().contains("user.default"), "{}", r[0]);
    let remapped = Host { userns_remapped: true, ..host() };
    assert_eq!(plan_with(&["img:1"], &p, &remapped).unwrap().create.user.as_deref(), Some("0:0"));
}

#[test]
fn the_floating_tag_hint_names_a_fixed_tag() {
    let r = refusals(&["registry.example.com/api:latest"]);
    assert!(r[0].contains("e.g. registry.example.com/api:1.2.3"), "{r:?}");
}

#[test]
fn the_isolated_default_is_the_default_bridge_when_it_keeps_containers_apart() {
    let bridge = |icc: bool| NetworkFacts { id: "d0c0".into(), name: "bridge".into(), driver: "bridge".into(), icc };
    let req = parse_for_test(&["img:1"]).unwrap();
    assert_eq!(isolated_default(Some(&bridge(false)), &req).0, IsolatedDefault::Bridge);
    assert_eq!(isolated_default(Some(&bridge(true)), &req).0, IsolatedDefault::Own);
    assert_eq!(isolated_default(None, &req).0, IsolatedDefault::Own, "not asked: hardrun's own, as before");
    let odd = NetworkFacts { driver: "macvlan".into(), ..bridge(false) };
    assert_eq!(isolated_default(Some(&odd), &req).0, IsolatedDefault::Own, "only a bridge's icc means anything");
    assert!(isolated_default(Some(&bridge(true)), &req).1.contains("\"icc\": false"), "the reason names the fix");
    for flags in [&["--ip", "10.1.2.3"][..], &["--ip6", "fd00::3"], &["--link-local-ip", "169.254.1.1"]] {
        let with_ip = parse_for_test(&[flags, &["img:1"]].concat()).unwrap();
        assert_eq!(isolated_default(Some(&bridge(false)), &with_ip).0, IsolatedDefault::Own, "{flags:?}");
    }

    let apart = Host { default_bridge: Some(bridge(false)), isolated_network: Some("0123abcd".into()), ..host() };
    let p = plan_with(&["img:1"], &profile("default"), &apart).unwrap();
    assert_eq!(hc(&p).network_mode.as_deref(), Some("default"), "the default bridge, as docker names it");
    let d = p.decisions.iter().find(|d| d.control == "network").unwrap();
    assert!(d.value.starts_with("bridge: ") && d.value.contains("icc"), "{}", d.value);

    let open = Host { default_bridge: Some(bridge(true)), isolated_network: Some("0123abcd".into()), ..host() };
    let p = plan_with(&["img:1"], &profile("default"), &open).unwrap();
    assert_eq!(hc(&p).network_mode.as_deref(), Some("0123abcd"));
    let d = p.decisions.iter().find(|d| d.control == "network").unwrap();
    assert!(d.value.starts_with("hardrun: "), "{}", d.value);

    // An explicit --network is the user's choice, whatever the bridge is.
    let p = plan_with(&["--network", "backend", "img:1"], &profile("default"), &apart).unwrap();
    assert_eq!(hc(&p).network_mode.as_deref(), Some(BACKEND_ID));
    // A profile that allows no bridge still gets it as the form its own default takes.
    let mut no_bridge = profile("default");
    no_bridge.network.allow = vec!["none".into()];
    let p = plan_with(&["img:1"], &no_bridge, &apart).unwrap();
    assert_eq!(hc(&p).network_mode.as_deref(), Some("default"));
    // Docker allows no --ip or --network-alias on its default bridge.
    let p = plan_with(&["--network-alias", "api", "img:1"], &profile("default"), &apart).unwrap();
    assert_eq!(hc(&p).network_mode.as_deref(), Some("0123abcd"));
}

#[test]
fn per_container_network_flags_reach_the_default_network() {
    let with_net = Host { isolated_network: Some("0123abcd".into()), ..host() };
    let p =
        plan_with(&["--network-alias", "api", "--ip", "10.1.2.3", "img:1"], &profile("default"), &with_net).unwrap();
    let eps = p.create.networking_config.unwrap().endpoints_config.unwrap();
    let ep = &eps["0123abcd"];
    assert_eq!(ep.aliases.as_deref(), Some(&["api".to_string()][..]));
    assert_eq!(ep.ipam_config.as_ref().unwrap().ipv4_address.as_deref(), Some("10.1.2.3"));
    assert!(plan(&["img:1"]).create.networking_config.is_none(), "nothing sent when nothing was asked");
}
