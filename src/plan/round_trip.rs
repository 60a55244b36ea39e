//! The round trip of `hardrun plan --format docker`: the printed `docker run` line, read
//! back by hardrun's own argv parser (which parses as the docker CLI does) and hardened
//! again, must give the very create body the plan holds. A user may paste that line into
//! `docker run`, so a field it drops, misquotes or spells ambiguously is a container other
//! than the one reviewed. The policy tests run every plan they build through [`check`].

use super::{Plan, SeccompSource, docker_argv};
use crate::policy::{Host, harden};
use crate::profile::Profile;

/// Where the round trip pretends the bundled seccomp profile was written.
const SECCOMP_DIR: &str = "/round-trip/seccomp";

/// Prints `plan` as a docker line, reads it back as `hardrun run` would, hardens it with
/// the same profile and host, and says how the two plans differ, if they do.
pub fn check(plan: &Plan, profile: &Profile, host: &Host) -> Result<(), String> {
    let mut host = host.clone();
    let seccomp_file = match &plan.seccomp {
        SeccompSource::File(p) => p.clone(),
        SeccompSource::Bundled(name) => {
            let path = format!("{SECCOMP_DIR}/{name}.json");
            let text = crate::seccomp::bundled(name).ok_or_else(|| format!("{name} is not bundled"))?;
            host.files.insert(path.clone().into(), text.to_string());
            path
        }
    };
    let argv = docker_argv::argv(plan, &seccomp_file);
    let line = docker_argv::render(plan, &seccomp_file);
    // Printed to a terminal, the line must show what it runs.
    if let Some(c) = line.chars().find(|c| crate::sanitize::dangerous(*c)) {
        return Err(format!("{}: holds {c:?}, which a terminal acts on", crate::sanitize::escape(&line)));
    }
    // What the shell hands the docker CLI is what hardrun meant, word for word.
    let words = split(&line)?;
    if words != argv {
        return Err(format!("{line}: the shell splits it into {words:?}, not {argv:?}"));
    }
    if argv.get(..2) != Some(&["docker".to_string(), "run".to_string()][..]) {
        return Err(format!("{line}: not a docker run line"));
    }
    let mut args = own_labels_dropped(&argv[2..]);
    runc_default_group(plan, &mut args);
    let req = crate::run_args::parse_for_test(&args).map_err(|e| format!("{line}: does not parse: {e}"))?;
    // The printed line names the seccomp and AppArmor profiles the plan chose; reading
    // them back as flags must not be refused for being flags.
    let mut profile = profile.clone();
    profile.seccomp_allow_custom = true;
    profile.apparmor_allow_custom = true;
    profile.allow_flags.push("security-opt-label".into());
    // Every tmpfs the plan gave the image's folders is a --tmpfs in the line; read back,
    // they are the user's, and the profile must not add more beside them.
    profile.filesystem.image_tmpfs.max = 0;
    resolve_networks(plan, &mut profile, &mut host);
    let again = harden(&req, &profile, &host).map_err(|r| {
        format!("{line}: refused when read back: {}", r.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(" | "))
    })?;
    let (want, have) = (body(plan), body(&again));
    if want != have {
        return Err(format!("{line}\n  differs when read back:\n{}", diff(&want, &have)));
    }
    if plan.lifecycle != again.lifecycle || plan.name != again.name {
        return Err(format!("{line}: lifecycle {:?} read back as {:?}", plan.lifecycle, again.lifecycle));
    }
    Ok(())
}

/// The words a shell makes of `line`: bash itself when the line uses ANSI-C quoting
/// (`$'...'`, which shell_words does not read).
pub fn split(line: &str) -> Result<Vec<String>, String> {
    if !line.contains("$'") {
        return shell_words::split(line).map_err(|e| format!("{line}: not one shell line: {e}"));
    }
    let out = std::process::Command::new("bash")
        .args(["-c", &format!("printf '%s\\0' {line}")])
        .output()
        .map_err(|e| format!("bash: {e}"))?;
    if !out.status.success() {
        return Err(format!("{line}: bash cannot read it: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let text = String::from_utf8(out.stdout).map_err(|e| format!("{line}: not UTF-8 from bash: {e}"))?;
    Ok(text.split_terminator('\0').map(str::to_string).collect())
}

/// Panics with the difference: for test helpers that build plans.
#[track_caller]
pub fn assert_round_trips(plan: &Plan, profile: &Profile, host: &Host) {
    if let Err(e) = check(plan, profile, host) {
        panic!("docker argv round trip: {e}");
    }
}

/// hardrun's own labels (`org.hardrun.*`) are in the line, since hardrun sends them, but
/// hardening adds them itself and refuses them as flags: the read-back leaves them out
/// and the comparison of bodies checks they come back the same.
fn own_labels_dropped(args: &[String]) -> Vec<&str> {
    let mut out = Vec::new();
    let mut it = args.iter().map(String::as_str).peekable();
    while let Some(a) = it.next() {
        if a == "--label" && it.peek().is_some_and(|v| v.starts_with("org.hardrun.")) {
            it.next();
            continue;
        }
        out.push(a);
    }
    out
}

/// `--user UID` whose image has no such user runs, as runc does it, in group 0: the
/// plan sends that as `UID:0`, and the line says so. Policy refuses the root group only
/// when it is asked for, so the read-back asks as the plan's request did.
fn runc_default_group<'a>(plan: &'a Plan, args: &mut [&'a str]) {
    let Some(user) = plan.create.user.as_deref() else { return };
    if let Some(uid) = user.strip_suffix(":0").filter(|u| *u != "0") {
        for a in args.iter_mut().filter(|a| **a == user) {
            *a = uid;
        }
    }
}

/// The line names networks by the ID hardening resolved (or hardrun's own network by
/// name, when planned without the daemon); the daemon resolves those the same way, so
/// the read-back host does too, and the profile that allowed them allows their IDs.
fn resolve_networks(plan: &Plan, profile: &mut Profile, host: &mut Host) {
    let hc = plan.create.host_config.as_ref();
    let endpoints = plan.create.networking_config.as_ref().and_then(|n| n.endpoints_config.as_ref());
    let named = hc
        .and_then(|hc| hc.network_mode.clone())
        .into_iter()
        .chain(endpoints.into_iter().flat_map(|e| e.keys().cloned()));
    for term in named {
        if matches!(term.as_str(), "default" | "bridge" | "none") || host.networks.contains_key(&term) {
            continue;
        }
        let known = host.networks.values().find(|n| n.id == term).cloned();
        let isolated = crate::policy::ISOLATED_NETWORK;
        let facts = known.unwrap_or_else(|| {
            let name = if host.isolated_network.as_deref() == Some(term.as_str()) { isolated } else { term.as_str() };
            crate::policy::NetworkFacts { id: term.clone(), name: name.into(), driver: "bridge".into(), icc: true }
        });
        if facts.name == isolated {
            profile.network.allow.push(isolated.into());
        }
        host.networks.insert(term, facts);
    }
}

/// The body as JSON, with one equivalence the daemon makes: the only endpoint being the
/// NetworkMode network with no settings is the same as sending no endpoint (the daemon
/// attaches NetworkMode's network with defaults), and `--network NAME` always sends it.
fn body(plan: &Plan) -> serde_json::Value {
    let mut v = serde_json::to_value(&plan.create).expect("the create body serializes");
    let mode = v.pointer("/HostConfig/NetworkMode").and_then(|m| m.as_str()).map(str::to_string);
    let endpoints = v.pointer("/NetworkingConfig/EndpointsConfig").and_then(|e| e.as_object());
    if let (Some(mode), Some(eps)) = (mode, endpoints)
        && eps.len() == 1
        && eps.get(&mode).is_some_and(|e| e.as_object().is_some_and(|o| o.values().all(|v| v.is_null())))
    {
        v.as_object_mut().expect("an object").remove("NetworkingConfig");
    }
    v
}

/// The paths whose values differ, one line each, so a failure says what was lost.
fn diff(want: &serde_json::Value, have: &serde_json::Value) -> String {
    use serde_json::Value;
    fn walk(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                for k in keys {
                    let (va, vb) = (x.get(k).unwrap_or(&Value::Null), y.get(k).unwrap_or(&Value::Null));
                    walk(&format!("{path}.{k}"), va, vb, out);
                }
            }
            _ if a != b => {
                let short = |v: &Value| {
                    let s = v.to_string();
                    if s.len() > 300 { format!("{}…", &s[..300]) } else { s }
                };
                out.push(format!("    {path}: planned {} read back {}", short(a), short(b)));
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk("", want, have, &mut out);
    out.join("\n")
}

mod samples;

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::samples::{NEVER_PLANNED, SAMPLES};
    use super::*;
    use crate::policy::NetworkFacts;
    use crate::profile::load::{Loader, Location};
    use crate::run_args::flag::Arity;

    /// The default profile, opened up so that every sample can be planned.
    fn open_profile() -> Profile {
        let mut p = Loader { locations: vec![Location::Bundled] }.load("default").unwrap();
        p.sysctls_allow =
            ["net.ipv4.ip_unprivileged_port_start", "net.core.somaxconn", "kernel.msgmax"].map(String::from).to_vec();
        p.annotations_allow = vec!["org.example.*".into()];
        p.allow_flags = crate::profile::model::LOOSENING_FLAGS.map(String::from).to_vec();
        p.seccomp_allow_custom = true;
        p.filesystem.binds_propagation = true;
        p
    }

    fn host() -> Host {
        let id = "b4c4e9d0a1f2e3d4c5b6a7980123456789abcdef0123456789abcdef01234567";
        let backend = NetworkFacts { id: id.into(), name: "backend".into(), driver: "bridge".into(), icc: true };
        let id = "f00dfeed00000000000000000000000000000000000000000000000000000001";
        let frontend = NetworkFacts { id: id.into(), name: "frontend".into(), driver: "bridge".into(), icc: true };
        let donor = crate::policy::MountFacts {
            kind: "volume".into(),
            source: "/var/lib/docker/volumes/shared/_data".into(),
            name: Some("shared".into()),
            destination: "/shared".into(),
        };
        Host {
            cwd: "/home/dev/project".into(),
            home: Some("/home/dev".into()),
            apparmor: Some(false),
            daemon_asked: true,
            networks: [("backend".to_string(), backend), ("frontend".to_string(), frontend)].into_iter().collect(),
            containers: [("donor".to_string(), vec![donor])].into_iter().collect(),
            ..Host::default()
        }
    }

    fn words(long: &str, value: &str) -> Vec<String> {
        let flag = crate::run_args::defs::all().find(|f| f.long == long).unwrap_or_else(|| panic!("no --{long}"));
        match flag.arity {
            Arity::Switch => vec![format!("--{long}{value}")],
            _ => vec![format!("--{long}"), value.to_string()],
        }
    }

    /// Plans `args IMAGE`: `None` when it does not parse or is refused.
    fn planned(args: &[String]) -> Option<(Plan, Profile, Host)> {
        let mut argv: Vec<&str> = args.iter().map(String::as_str).collect();
        argv.push("img:1.2");
        let req = crate::run_args::parse_for_test(&argv).ok()?;
        let (profile, host) = (open_profile(), host());
        let plan = harden(&req, &profile, &host).ok()?;
        Some((plan, profile, host))
    }

    #[test]
    fn every_flag_has_samples_or_a_reason_it_is_never_planned() {
        for f in crate::run_args::defs::all() {
            let sampled = SAMPLES.iter().any(|(l, _)| *l == f.long);
            let never = NEVER_PLANNED.iter().any(|(l, _)| *l == f.long);
            assert!(sampled != never, "--{}: give it samples or a reason it never reaches a plan", f.long);
        }
    }

    #[test]
    fn every_sample_is_planned_and_reads_back_the_same() {
        let mut failures = Vec::new();
        for (long, values) in SAMPLES {
            for v in *values {
                let args = words(long, v);
                match planned(&args) {
                    None => failures.push(format!("{args:?}: not planned (samples must be accepted)")),
                    Some((plan, profile, host)) => {
                        if let Err(e) = check(&plan, &profile, &host) {
                            failures.push(e);
                        }
                    }
                }
            }
        }
        assert!(failures.is_empty(), "{} samples fail:\n{}", failures.len(), failures.join("\n\n"));
    }

    /// Flags that the default profile refuses are planned nowhere; their plans cannot
    /// be printed, so the round trip has nothing to say about them.
    #[test]
    fn never_planned_flags_are_refused() {
        for (long, value) in [("link", "db"), ("pid", "host"), ("uts", "host"), ("device", "/dev/sda")] {
            assert!(planned(&words(long, value)).is_none(), "--{long} {value}");
        }
    }

    fn mix() -> impl Strategy<Value = Vec<String>> {
        let one = prop::sample::select(SAMPLES.to_vec())
            .prop_flat_map(|(long, values)| prop::sample::select(values.to_vec()).prop_map(move |v| words(long, v)));
        prop::collection::vec(one, 1..7).prop_map(|v| v.into_iter().flatten().collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(600))]

        #[test]
        fn mixes_of_flags_read_back_the_same(args in mix()) {
            if let Some((plan, profile, host)) = planned(&args)
                && let Err(e) = check(&plan, &profile, &host)
            {
                return Err(TestCaseError::fail(e));
            }
        }
    }
}
