//! `hardrun run ARGS`: clap and the flag table into a `RunRequest`, then `policy::harden`
//! under each bundled profile. The input is split into arguments at NUL bytes.
//! Properties, for any argument list:
//! - parsing ends without a panic, and gives the same request twice;
//! - an accepted request names an image docker can parse;
//! - scalar flags are last-wins, as in the docker CLI: `--privileged=false` put first
//!   changes nothing but an absent `--privileged`;
//! - a plan hardrun accepts is never weaker than its profile: all capabilities dropped
//!   and only allowed ones added, not privileged, read-only root, no-new-privileges and
//!   an inline seccomp profile, a non-root user, finite memory/CPU/pids within the
//!   ceilings, no host namespace, no device, binds only from the project.

#![no_main]

use std::path::Path;
use std::sync::LazyLock;

use clap::{CommandFactory, FromArgMatches};
use hardrun_fuzz::capability::Capability;
use hardrun_fuzz::cli::{Cli, Command};
use hardrun_fuzz::image::ImageRef;
use hardrun_fuzz::policy::{Host, harden};
use hardrun_fuzz::profile::Profile;
use hardrun_fuzz::profile::load::{Loader, Location};
use hardrun_fuzz::request::{RunRequest, UserSpec};
use libfuzzer_sys::fuzz_target;

const PROJECT: &str = "/home/dev/project";

static PROFILES: LazyLock<Vec<Profile>> = LazyLock::new(|| {
    let bundled = Loader { locations: vec![Location::Bundled] };
    ["default", "web", "strict"].into_iter().map(|n| bundled.load(n).unwrap()).collect()
});

/// hardrun's command line, built once (building it is most of the cost of a parse).
static COMMAND: LazyLock<clap::Command> = LazyLock::new(|| {
    let mut command = Cli::command();
    command.build();
    command
});

fn env(key: &str) -> Option<String> {
    (key == "FUZZ_HOME").then(|| "/home/dev".to_string())
}

/// `hardrun run ARGS` as a request, or `None` when clap or the flag table refuses it.
fn request(args: &[&str]) -> Option<RunRequest> {
    let argv = ["hardrun", "run"].into_iter().chain(args.iter().copied());
    let matches = COMMAND.clone().try_get_matches_from(argv).ok()?;
    let cli = Cli::from_arg_matches(&matches).ok()?;
    let Command::Run(cmd) = cli.command else { return None };
    cmd.docker.to_request(Path::new(PROJECT), &env).ok()
}

fn check_plan(req: &RunRequest, profile: &Profile) {
    let host = Host { cwd: PROJECT.into(), apparmor: Some(false), daemon_asked: true, ..Host::default() };
    let Ok(plan) = harden(req, profile, &host) else { return };
    let hc = plan.create.host_config.as_ref().expect("a plan has a host config");
    assert_eq!(hc.cap_drop.as_deref(), Some(&["ALL".to_string()][..]));
    for cap in hc.cap_add.iter().flatten() {
        let c = Capability::parse(cap).expect("a capability hardrun added parses");
        assert!(!c.is_host_root(), "{cap}");
        assert!(profile.capabilities.allow.contains(&c) || profile.capabilities.add.contains(&c), "{cap}");
    }
    assert_ne!(hc.privileged, Some(true));
    assert_eq!(hc.readonly_rootfs, Some(profile.filesystem.read_only));
    let opts = hc.security_opt.as_ref().expect("security options");
    assert!(opts.iter().any(|o| o == "no-new-privileges"), "{opts:?}");
    assert!(opts.iter().any(|o| o.starts_with("seccomp={")), "seccomp is sent inline");
    assert!(!opts.iter().any(|o| o.contains("unconfined") || o == "label=disable"), "{opts:?}");
    let user = UserSpec::parse(plan.create.user.as_deref().expect("a user")).expect("the user sent parses");
    assert!(!user.is_root(), "{user}");
    let mem = hc.memory.unwrap_or(0);
    assert!(mem > 0 && profile.resources.memory.within(mem), "memory {mem}");
    assert_eq!(hc.memory_swap, Some(mem), "no swap beyond memory");
    let cpus = hc.nano_cpus.unwrap_or(0);
    assert!(cpus > 0 && profile.resources.cpus.within(cpus), "cpus {cpus}");
    let pids = hc.pids_limit.unwrap_or(0);
    assert!(pids > 0 && profile.resources.pids.within(pids), "pids {pids}");
    let mode = hc.network_mode.as_deref().unwrap_or_default();
    assert!(mode != "host" && !mode.starts_with("container:"), "{mode}");
    assert!(hc.pid_mode.is_none() && hc.uts_mode.is_none() && hc.userns_mode.is_none());
    assert!(hc.devices.is_none() && hc.device_cgroup_rules.is_none());
    for b in hc.binds.iter().flatten() {
        let src = b.split(':').next().unwrap_or_default();
        assert!(!src.starts_with('/') || Path::new(src).starts_with(PROJECT), "bind {b}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let args: Vec<&str> = text.split('\0').collect();
    if args.len() > 64 {
        return;
    }
    let Some(req) = request(&args) else { return };
    assert_eq!(request(&args).as_ref(), Some(&req), "parsing is deterministic");
    assert!(ImageRef::parse(&req.image).is_ok(), "{:?}", req.image);

    let mut first = vec!["--privileged=false"];
    first.extend(&args);
    let mut expected = req.clone();
    expected.privileged = req.privileged.or(Some(false));
    assert_eq!(request(&first), Some(expected), "the last --privileged wins");

    for profile in PROFILES.iter() {
        check_plan(&req, profile);
    }
});
