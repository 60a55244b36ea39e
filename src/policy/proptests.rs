//! Property: whatever mix of flags a user passes, a plan that is not refused is never
//! weaker than the profile: capabilities within what it allows, limits within its
//! ceilings, the root read-only, no-new-privileges and seccomp on, never root.

use proptest::prelude::*;

use super::*;
use crate::capability::Capability;
use crate::profile::load::{Loader, Location};
use crate::run_args::parse_for_test;

fn flag() -> impl Strategy<Value = Vec<String>> {
    let caps = prop::sample::select(vec![
        "NET_BIND_SERVICE",
        "chown",
        "CAP_KILL",
        "net_raw",
        "SYS_ADMIN",
        "all",
        "cap_bpf",
        "SETUID",
        "dac_read_search",
    ]);
    let sizes = prop::sample::select(vec!["0", "1", "64m", "512m", "1g", "8g", "9g", "64g", "1.5g"]);
    let counts = prop::sample::select(vec!["-1", "0", "1", "64", "256", "4096", "4097", "100000"]);
    let cpus = prop::sample::select(vec!["0", "0.01", "0.5", "1", "4", "4.5", "64"]);
    let bools = prop::sample::select(vec!["", "=true", "=false", "=1", "=0", "=T", "=f"]);
    let users = prop::sample::select(vec!["0", "root", "1000", "1000:0", "app", "65532:65532", "+0", "00:00"]);
    let opts = prop::sample::select(vec![
        "no-new-privileges",
        "no-new-privileges=false",
        "no-new-privileges:0",
        "seccomp=unconfined",
        "seccomp:unconfined",
        "apparmor=unconfined",
        "label=disable",
        "systempaths=unconfined",
    ]);
    let volumes = prop::sample::select(vec![
        "./data:/data",
        "/:/h",
        "/etc:/e",
        "../../..:/x",
        "/var/run/docker.sock:/s",
        "named:/n",
        "/anon",
        "/srv:/srv",
    ]);
    let networks =
        prop::sample::select(vec!["host", "none", "bridge", "backend", "container:db", "name=host", "default"]);
    prop_oneof![
        caps.clone().prop_map(|c| vec!["--cap-add".into(), c.into()]),
        caps.prop_map(|c| vec!["--cap-drop".into(), c.into()]),
        sizes.clone().prop_map(|s| vec!["-m".into(), s.into()]),
        sizes.prop_map(|s| vec!["--memory-swap".into(), s.into()]),
        counts.clone().prop_map(|c| vec!["--pids-limit".into(), c.into()]),
        counts.prop_map(|c| vec!["--ulimit".into(), format!("nofile={c}")]),
        cpus.prop_map(|c| vec!["--cpus".into(), c.into()]),
        bools.clone().prop_map(|b| vec![format!("--privileged{b}")]),
        bools.prop_map(|b| vec![format!("--read-only{b}")]),
        users.prop_map(|u| vec!["-u".into(), u.into()]),
        opts.prop_map(|o| vec!["--security-opt".into(), o.into()]),
        volumes.prop_map(|v| vec!["-v".into(), v.into()]),
        networks.prop_map(|n| vec!["--network".into(), n.into()]),
        Just(vec!["--pid".into(), "host".into()]),
        Just(vec!["--ipc=host".into()]),
        Just(vec!["--oom-kill-disable".into()]),
        Just(vec!["--tmpfs".into(), "/t:exec".into()]),
        Just(vec!["--device".into(), "/dev/sda".into()]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn no_accepted_plan_is_weaker_than_its_profile(
        flags in prop::collection::vec(flag(), 0..8),
        name in prop::sample::select(vec!["default", "web", "strict"]),
    ) {
        let profile = Loader { locations: vec![Location::Bundled] }.load(name).unwrap();
        let host = Host { cwd: "/home/dev/project".into(), apparmor: Some(false), daemon_asked: true, ..Host::default() };
        let mut args: Vec<String> = flags.into_iter().flatten().collect();
        args.push("img:1.2".into());
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let Ok(req) = parse_for_test(&argv) else { return Ok(()) };
        let Ok(plan) = harden(&req, &profile, &host) else { return Ok(()) };
        // And `hardrun plan --format docker` prints a line that means this very plan.
        if let Err(e) = crate::plan::round_trip::check(&plan, &profile, &host) {
            return Err(TestCaseError::fail(e));
        }
        let hc = plan.create.host_config.as_ref().unwrap();

        prop_assert_eq!(hc.cap_drop.as_deref(), Some(&["ALL".to_string()][..]));
        for cap in hc.cap_add.iter().flatten() {
            let c = Capability::parse(cap).unwrap();
            prop_assert!(!c.is_host_root());
            prop_assert!(profile.capabilities.allow.contains(&c) || profile.capabilities.add.contains(&c), "{}", cap);
        }
        prop_assert_ne!(hc.privileged, Some(true));
        prop_assert_eq!(hc.readonly_rootfs, Some(true));
        let opts = hc.security_opt.as_ref().unwrap();
        prop_assert!(opts.iter().any(|o| o == "no-new-privileges"));
        let inline_seccomp = opts.iter().any(|o| o.starts_with("seccomp={"));
        prop_assert!(inline_seccomp, "seccomp is sent inline");
        prop_assert!(!opts.iter().any(|o| o.contains("unconfined") || o.contains("disable")));
        let user = crate::request::UserSpec::parse(plan.create.user.as_deref().unwrap()).unwrap();
        prop_assert!(!user.is_root());

        let mem = hc.memory.unwrap_or(0);
        prop_assert!(mem > 0 && profile.resources.memory.within(mem));
        prop_assert_eq!(hc.memory_swap, Some(mem), "no swap beyond memory");
        let cpus = hc.nano_cpus.unwrap_or(0);
        prop_assert!(cpus > 0 && profile.resources.cpus.within(cpus));
        let pids = hc.pids_limit.unwrap_or(0);
        prop_assert!(pids > 0 && profile.resources.pids.within(pids));
        for u in hc.ulimits.iter().flatten() {
            if let Some(rule) = profile.resources.ulimits.iter().find(|r| Some(r.name) == u.name.as_deref()) {
                prop_assert!(u.hard.unwrap() >= 0 && u.hard.unwrap() <= rule.max);
            }
        }
        let mode = hc.network_mode.as_deref().unwrap_or_default();
        prop_assert!(mode != "host" && !mode.starts_with("container:"));
        prop_assert!(hc.pid_mode.is_none() && hc.uts_mode.is_none() && hc.userns_mode.is_none());
        prop_assert!(matches!(hc.ipc_mode.as_deref(), Some("private" | "shareable" | "none")));
        prop_assert!(hc.devices.is_none());
        for b in hc.binds.iter().flatten() {
            let src = b.split(':').next().unwrap();
            prop_assert!(src.starts_with("/home/dev/project") || !src.starts_with('/'), "{}", b);
        }
    }
}
