//! Kernel isolation: privileges, namespaces, capabilities, seccomp, AppArmor, SELinux
//! labels, no-new-privileges, devices, runtimes and sysctls.

use super::{Hardening, Refusal};
use crate::capability::Capability;
use crate::plan::SeccompSource;
use crate::request::{NamespaceKind, NamespaceMode, SeccompChoice, SecurityOpt};

pub(super) fn apply(h: &mut Hardening) {
    privileged(h);
    namespaces(h);
    capabilities(h);
    security_opts(h);
    devices(h);
    runtime_and_kernel(h);
}

fn privileged(h: &mut Hardening) {
    if h.req.privileged == Some(true) {
        h.refuse(Refusal::never(
            "--privileged",
            "it hands the container every capability and every host device and turns off seccomp and AppArmor",
            "drop it and add only the capability the service needs with --cap-add",
        ));
    }
    if h.req.use_api_socket {
        h.refuse(Refusal::never(
            "--use-api-socket",
            "the Docker API socket lets the container start a privileged container, which is root on the host",
            "give the container only what it needs from Docker through a narrow proxy or a CI service",
        ));
    }
    h.hc.privileged = Some(false);
}

/// Why a namespace mode is refused: the host's namespace, or another container's. The
/// one judgement of namespace modes; `audit` asks it too.
pub fn namespace_refusal(kind: NamespaceKind, mode: &NamespaceMode) -> Option<Refusal> {
    let asked = format!("{}={mode}", kind.flag());
    match mode {
        NamespaceMode::Default | NamespaceMode::Private | NamespaceMode::Shareable | NamespaceMode::None => None,
        NamespaceMode::Host => Some(Refusal::never(
            asked,
            format!("it puts the container in the host's {} namespace, so it sees and reaches the host's", kind.noun()),
            "leave the flag out: each container gets its own namespace",
        )),
        NamespaceMode::Container(other) => Some(Refusal::never(
            asked,
            format!("it joins container {other}'s namespace, so a break-in in either one reaches both"),
            "let the containers talk over a user-defined network instead (docker network create, --network)",
        )),
    }
}

fn namespaces(h: &mut Hardening) {
    let req = h.req;
    let modes = [
        (NamespaceKind::Pid, &req.pid),
        (NamespaceKind::Ipc, &req.ipc),
        (NamespaceKind::Uts, &req.uts),
        (NamespaceKind::User, &req.userns),
        (NamespaceKind::Cgroup, &req.cgroupns),
    ];
    for (kind, mode) in modes {
        if let Some(r) = mode.as_ref().and_then(|m| namespace_refusal(kind, m)) {
            h.refuse(r);
        }
    }
    // A private IPC and cgroup namespace whatever the daemon's defaults (on cgroup v1
    // hosts docker's default cgroup namespace is the host's).
    let ipc = match &req.ipc {
        None | Some(NamespaceMode::Default) => NamespaceMode::Private,
        Some(m) => m.clone(),
    };
    h.hc.ipc_mode = Some(ipc.as_api());
    h.hc.cgroupns_mode = Some(bollard::models::HostConfigCgroupnsModeEnum::PRIVATE);
    h.decide("cgroup namespace", "private", Hardening::rule("hardrun always asks for a private cgroup namespace"));
    for (field, value) in
        [(&mut h.hc.pid_mode, &req.pid), (&mut h.hc.uts_mode, &req.uts), (&mut h.hc.userns_mode, &req.userns)]
    {
        if let Some(v) = value.as_ref().filter(|v| **v != NamespaceMode::Default) {
            *field = Some(v.as_api());
        }
    }
}

fn capabilities(h: &mut Hardening) {
    let allow = &h.profile.capabilities.allow;
    let mut refusals = Vec::new();
    for cap in &h.req.cap_add {
        let asked = format!("--cap-add {}", cap.name());
        if *cap == Capability::All {
            refusals.push(Refusal::never(
                asked,
                "ALL includes SYS_ADMIN and the other capabilities that amount to root on the host",
                "add each capability the service needs by name",
            ));
        } else if cap.is_host_root() {
            refusals.push(Refusal::never(
                asked,
                format!("{} lets a process escape the container or control the host kernel", cap.name()),
                "find the narrower capability or the host-side setup that gives what is needed",
            ));
        } else if !allow.contains(cap) {
            refusals.push(Refusal::unless(
                asked,
                format!("{} is not among the capabilities this profile lets --cap-add grant", cap.name()),
                format!("check the service really needs it; allowed here: {}", names(allow)),
                "capabilities.allow",
            ));
        }
    }
    for r in refusals {
        h.refuse(r);
    }
    // Drop ALL, then add only the profile's grants (minus explicit drops) and the user's
    // allowed adds. As in docker, an explicit add survives a drop.
    let drops = &h.req.cap_drop;
    let mut add: Vec<(Capability, crate::plan::Source)> = Vec::new();
    for cap in &h.profile.capabilities.add {
        if !drops.contains(cap) && !drops.contains(&Capability::All) {
            add.push((*cap, h.profile_source("capabilities.add")));
        }
    }
    for cap in &h.req.cap_add {
        if allow.contains(cap) && !add.iter().any(|(c, _)| c == cap) {
            add.push((*cap, Hardening::flag(format!("--cap-add {}", cap.name()))));
        }
    }
    h.hc.cap_drop = Some(vec!["ALL".into()]);
    h.decide("capabilities", "drop ALL", Hardening::rule("every capability is dropped, then only explicit ones added"));
    for (cap, source) in &add {
        h.decide("capability", format!("add {}", cap.name()), source.clone());
    }
    if !add.is_empty() {
        h.hc.cap_add = Some(add.iter().map(|(c, _)| c.api_name()).collect());
    }
    h.expect.capabilities = add.iter().map(|(c, _)| c.name().to_string()).collect();
    inert_for_non_root(h, &add);
}

/// Docker gives a non-root process no ambient capabilities, so an added capability
/// reaches only its bounding set, where nothing uses it (and no-new-privileges keeps
/// file capabilities off): say so rather than let the plan suggest otherwise.
fn inert_for_non_root(h: &mut Hardening, add: &[(Capability, crate::plan::Source)]) {
    let Some(user) = h.config.user.as_deref().and_then(|u| crate::request::UserSpec::parse(u).ok()) else { return };
    if add.is_empty() || user.is_root() {
        return;
    }
    let caps: Vec<&str> = add.iter().map(|(c, _)| c.name()).collect();
    let ports = if caps.contains(&"NET_BIND_SERVICE") {
        "; ports below 1024 bind without NET_BIND_SERVICE (docker sets net.ipv4.ip_unprivileged_port_start=0 in the container's network namespace)"
    } else {
        ""
    };
    h.notices.push(format!(
        "{} will not be effective: the container runs as the non-root user {user}, and docker puts a non-root process's added capabilities only in its bounding set{ports}",
        caps.join(", ")
    ));
}

fn names(caps: &[Capability]) -> String {
    if caps.is_empty() { "none".into() } else { caps.iter().map(|c| c.name()).collect::<Vec<_>>().join(", ") }
}

fn security_opts(h: &mut Hardening) {
    let mut opts = Vec::new();
    let mut nnp = h.profile.no_new_privileges;
    let mut custom_seccomp: Option<SeccompChoice> = None;
    let mut custom_apparmor: Option<String> = None;
    for opt in &h.req.security_opts {
        match opt {
            SecurityOpt::NoNewPrivileges(false) => h.refuse(Refusal::never(
                "--security-opt no-new-privileges=false",
                "setuid programs could then regain the privileges hardrun dropped",
                "leave no-new-privileges on; give the process the capability it needs instead",
            )),
            SecurityOpt::NoNewPrivileges(true) => nnp = true,
            SecurityOpt::Seccomp(SeccompChoice::Unconfined) => h.refuse(Refusal::never(
                "--security-opt seccomp=unconfined",
                "without seccomp every kernel system call is open to the container, and kernel exploits with them",
                "keep the bundled profile; if a syscall is missing, extend it (docs/seccomp.md)",
            )),
            SecurityOpt::Seccomp(choice) if !h.profile.seccomp_allow_custom => h.refuse(Refusal::unless(
                format!("--security-opt seccomp={}", seccomp_label(choice)),
                "a seccomp profile from the command line replaces the reviewed one",
                "name the profile in a hardening profile (seccomp.profile) so it is reviewed with it",
                "seccomp.allow_custom",
            )),
            SecurityOpt::Seccomp(choice) => custom_seccomp = Some(choice.clone()),
            SecurityOpt::AppArmor(name) if name == "unconfined" => h.refuse(Refusal::never(
                "--security-opt apparmor=unconfined",
                "it removes the AppArmor confinement that blocks mounts and writes to /proc and /sys",
                "keep the bundled profile, or load your own and name it in the hardening profile",
            )),
            SecurityOpt::AppArmor(name) if !h.profile.apparmor_allow_custom => h.refuse(Refusal::unless(
                format!("--security-opt apparmor={name}"),
                "an AppArmor profile from the command line replaces the reviewed one",
                "name the profile in a hardening profile (apparmor.profile)",
                "apparmor.allow_custom",
            )),
            SecurityOpt::AppArmor(name) => custom_apparmor = Some(name.clone()),
            SecurityOpt::Label(v) if v == "disable" => h.refuse(Refusal::never(
                "--security-opt label=disable",
                "it turns off SELinux separation between the container and the host",
                "relabel the files the container needs with -v SRC:DST:z instead",
            )),
            SecurityOpt::Label(v) if !h.allows_flag("security-opt-label") => h.refuse(Refusal::unless(
                format!("--security-opt label={v}"),
                "a custom SELinux label can put the container in a more privileged domain",
                "use the default label",
                "allow_flags: [security-opt-label]",
            )),
            SecurityOpt::Label(v) => opts.push(format!("label={v}")),
            SecurityOpt::SystemPaths(v) => h.refuse(Refusal::never(
                format!("--security-opt systempaths={v}"),
                "it unmasks /proc and /sys paths that expose and control the host kernel",
                "leave the paths masked",
            )),
            SecurityOpt::WritableCgroups(true) => h.refuse(Refusal::never(
                "--security-opt writable-cgroups=true",
                "a writable cgroup tree lets the container raise its own limits",
                "leave cgroups read-only",
            )),
            SecurityOpt::WritableCgroups(false) => {}
        }
    }
    if nnp {
        opts.push("no-new-privileges".into());
        let src = if h.profile.no_new_privileges {
            h.profile_source("no_new_privileges")
        } else {
            Hardening::flag("--security-opt no-new-privileges")
        };
        h.decide("no-new-privileges", "on", src);
    } else {
        let src = h.profile_source("no_new_privileges");
        h.decide("no-new-privileges", "off", src);
    }
    h.expect.no_new_privileges = nnp;
    seccomp(h, custom_seccomp, &mut opts);
    apparmor(h, custom_apparmor, &mut opts);
    h.hc.security_opt = Some(opts);
}

fn seccomp_label(choice: &SeccompChoice) -> String {
    match choice {
        SeccompChoice::Unconfined => "unconfined".into(),
        SeccompChoice::Builtin => "builtin".into(),
        SeccompChoice::File(p) => p.display().to_string(),
    }
}

fn seccomp(h: &mut Hardening, custom: Option<SeccompChoice>, opts: &mut Vec<String>) {
    let (label, source, path) = match &custom {
        Some(SeccompChoice::Builtin) => {
            // Docker's own default: weaker than hardrun's, but allowed by this profile.
            h.decide("seccomp", "docker's built-in profile", Hardening::flag("--security-opt seccomp=builtin"));
            opts.push("seccomp=builtin".into());
            h.expect.seccomp = true;
            return;
        }
        Some(SeccompChoice::File(p)) => (
            p.display().to_string(),
            Hardening::flag(format!("--security-opt seccomp={}", p.display())),
            Some(p.clone()),
        ),
        _ => {
            let name = h.profile.seccomp.clone();
            let path = crate::seccomp::bundled(&name).is_none().then(|| std::path::PathBuf::from(&name));
            (name, h.profile_source("seccomp.profile"), path)
        }
    };
    let host = h.host;
    let inline = match &path {
        None => crate::seccomp::bundled_inline(&label).map(str::to_string).ok_or_else(|| "not bundled".to_string()),
        Some(p) => match host.files.get(p) {
            Some(text) => {
                let inline = crate::seccomp::inline(text).map_err(|e| e.to_string());
                if let (Ok(_), Ok(custom)) = (&inline, crate::seccomp::parse(text)) {
                    escape_routes(h, &label, &custom);
                }
                inline
            }
            None => Err("the file could not be read (hardrun reads regular files of at most 4 MiB)".into()),
        },
    };
    match inline {
        Ok(json) => {
            opts.push(format!("seccomp={json}"));
            h.decide("seccomp", label.clone(), source);
            h.expect.seccomp = true;
            h.seccomp = match path {
                None => SeccompSource::Bundled(label),
                Some(p) => SeccompSource::File(p.display().to_string()),
            };
        }
        Err(e) => h.refuse(Refusal::never(
            format!("seccomp profile {label}"),
            format!("it cannot be used ({e}), and hardrun does not run a container without seccomp"),
            "fix the profile file (docs/seccomp.md) or use a bundled one",
        )),
    }
}

/// A custom seccomp profile that lets an escape route run (`seccomp::ESCAPE_ROUTES`:
/// unshare, mount, ptrace, bpf...) is refused unless the profile names each such route in
/// `seccomp.allow_escape_routes`. A project profile can only do that once trusted.
fn escape_routes(h: &mut Hardening, label: &str, custom: &crate::seccomp::SeccompProfile) {
    use crate::seccomp::Allowance;
    let allowed = &h.profile.seccomp_escape_routes;
    let open: Vec<(&str, Allowance)> =
        custom.escape_routes().into_iter().filter(|(r, _)| !allowed.iter().any(|a| a == r)).collect();
    if open.is_empty() {
        return;
    }
    let named: Vec<String> = open
        .iter()
        .map(|(r, a)| if *a == Allowance::Conditional { format!("{r} (under conditions)") } else { r.to_string() })
        .collect();
    h.refuse(Refusal::unless(
        format!("seccomp profile {label}"),
        format!("it lets {} run, each a common way out of a container", named.join(", ")),
        "deny them in the profile as the bundled ones do (`hardrun seccomp check` lists them), or name the ones \
         really needed",
        "seccomp.allow_escape_routes",
    ));
}

fn apparmor(h: &mut Hardening, custom: Option<String>, opts: &mut Vec<String>) {
    let (name, source) = match custom {
        Some(n) => (n.clone(), Hardening::flag(format!("--security-opt apparmor={n}"))),
        None => match h.profile.apparmor.clone() {
            Some(n) => (n, h.profile_source("apparmor.profile")),
            None => return,
        },
    };
    if h.host.apparmor == Some(true) && h.host.apparmor_unloaded.contains(&name) {
        h.refuse(Refusal::never(
            format!("apparmor profile {name}"),
            "the host enforces AppArmor but the profile is not loaded, so the container would not start confined",
            format!("load it as root: {}", crate::apparmor::load_command(&name)),
        ));
    } else if h.host.apparmor == Some(true) {
        opts.push(format!("apparmor={name}"));
        h.decide("apparmor", name.clone(), source);
        h.expect.apparmor = Some(name);
    } else if h.profile.apparmor_required {
        h.refuse(Refusal::unless(
            format!("apparmor profile {name}"),
            "the profile requires AppArmor and this host's kernel does not have it",
            "run on a host with AppArmor enabled",
            "apparmor.required",
        ));
    } else {
        // Docker would record apparmor= and not enforce it; say so instead of pretending.
        h.decide("apparmor", "not available on this host (not sent)", source);
        h.notices.push(format!(
            "AppArmor is not available on this host: the {name} profile is not applied (the other controls are)"
        ));
    }
}

fn devices(h: &mut Hardening) {
    for d in &h.req.devices {
        h.refuse(Refusal::never(
            format!("--device {d}"),
            "a host device inside the container bypasses the filesystem isolation (disks, memory, kernel interfaces)",
            "expose what the device provides through a service or a file instead",
        ));
    }
    for r in &h.req.device_cgroup_rules {
        h.refuse(Refusal::never(
            format!("--device-cgroup-rule {r}"),
            "it lets the container create and open host devices",
            "expose what the device provides through a service instead",
        ));
    }
    if let Some(g) = &h.req.gpus {
        h.refuse(Refusal::never(
            format!("--gpus {g}"),
            "GPU access passes host device nodes and driver interfaces into the container",
            "run GPU workloads outside hardrun, on a host set aside for them",
        ));
    }
}

fn runtime_and_kernel(h: &mut Hardening) {
    if let Some(rt) = &h.req.runtime {
        if rt == "runc" || h.profile.runtimes_allow.contains(rt) {
            h.hc.runtime = Some(rt.clone());
        } else {
            h.refuse(Refusal::unless(
                format!("--runtime {rt}"),
                "an unreviewed runtime decides how (and whether) the container is isolated",
                "use the default runtime",
                "runtimes.allow",
            ));
        }
    }
    let mut sysctls = Vec::new();
    for (k, v) in &h.req.sysctls {
        // runc writes /proc/sys/ + the key with dots as slashes: judge that spelling.
        let key = k.replace('/', ".");
        if key.split('.').any(str::is_empty) {
            h.refuse(Refusal::never(
                format!("--sysctl {k}={v}"),
                "it is not a kernel parameter name",
                "write the parameter as dotted words, e.g. net.ipv4.ip_unprivileged_port_start",
            ));
        } else {
            sysctls.push((key, k, v));
        }
    }
    let profile = h.profile;
    let sysctls = allow_listed(
        h,
        sysctls,
        AllowList {
            list: &profile.sysctls_allow,
            flag: "--sysctl",
            key: "sysctls.allow",
            why: "kernel parameters change how the kernel treats the container",
            fix: "leave the default, or have the profile allow exactly this parameter",
        },
    );
    h.hc.sysctls = (!sysctls.is_empty()).then_some(sysctls);
    // OCI annotations reach the runtime (hooks, handlers, CDI device injection on newer
    // daemons): only the keys the profile lists.
    let annotations = h.req.annotations.iter().map(|(k, v)| (k.clone(), k, v)).collect();
    let annotations = allow_listed(
        h,
        annotations,
        AllowList {
            list: &profile.annotations_allow,
            flag: "--annotation",
            key: "annotations.allow",
            why: "annotations reach the OCI runtime, which may act on them (hooks, device injection)",
            fix: "leave it out, or have the profile allow exactly this key",
        },
    );
    h.hc.annotations = (!annotations.is_empty()).then_some(annotations);
    if let Some(parent) = &h.req.cgroup_parent {
        if h.allows_flag("cgroup-parent") {
            h.hc.cgroup_parent = Some(parent.clone());
        } else {
            h.refuse(Refusal::unless(
                format!("--cgroup-parent {parent}"),
                "another parent cgroup can carry other limits than the ones hardrun sets, or none",
                "leave the container in docker's own cgroup",
                "allow_flags: [cgroup-parent]",
            ));
        }
    }
}

/// A map-valued flag whose keys a profile allow-list governs.
struct AllowList<'a> {
    /// Exact keys, or prefixes ending in `*`.
    list: &'a [String],
    flag: &'static str,
    key: &'static str,
    why: &'static str,
    fix: &'static str,
}

/// The (judged key, key as typed, value) entries the rule's list allows, as the map to
/// send; the others refused.
fn allow_listed(
    h: &mut Hardening,
    entries: Vec<(String, &String, &String)>,
    rule: AllowList,
) -> std::collections::HashMap<String, String> {
    let allowed = |key: &str| {
        rule.list.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => key.starts_with(prefix),
            None => p == key,
        })
    };
    let mut out = std::collections::HashMap::new();
    for (judged, typed, value) in entries {
        if allowed(&judged) {
            out.insert(typed.clone(), value.clone());
        } else {
            h.refuse(Refusal::unless(format!("{} {typed}={value}", rule.flag), rule.why, rule.fix, rule.key));
        }
    }
    out
}

#[cfg(test)]
mod escape_route_tests {
    use crate::policy::{Host, harden};
    use crate::profile::load::{Loader, Location};
    use crate::run_args::parse_for_test;

    const LOOSE: &str = r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
        {"names":["read","write","exit_group","unshare","mount","keyctl"],"action":"SCMP_ACT_ALLOW"},
        {"names":["ptrace"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"4.8"}}]}"#;

    fn refusals(profile_yaml: &str, args: &[&str]) -> Vec<String> {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("loose.json"), LOOSE).unwrap();
        let file = d.path().join("p.yaml");
        std::fs::write(&file, profile_yaml).unwrap();
        let profile = Loader { locations: vec![Location::Bundled] }.load_file(&file).unwrap();
        let mut host =
            Host { cwd: "/home/dev/project".into(), apparmor: Some(false), daemon_asked: true, ..Host::default() };
        host.files.insert("/cli/loose.json".into(), LOOSE.into());
        if let Some(text) = &profile.seccomp_text {
            host.files.insert(profile.seccomp.clone().into(), text.clone());
        }
        let req = parse_for_test(args).unwrap();
        match harden(&req, &profile, &host) {
            Ok(plan) => {
                crate::plan::round_trip::assert_round_trips(&plan, &profile, &host);
                vec![]
            }
            Err(r) => r.iter().map(|r| r.to_string()).collect(),
        }
    }

    #[test]
    fn custom_seccomp_profiles_that_open_escape_routes_are_refused() {
        let r = refusals("extends: default\nseccomp:\n  profile: loose.json\n", &["img:1.2"]);
        assert_eq!(r.len(), 1, "{r:?}");
        assert!(r[0].contains("lets unshare, mount, ptrace (under conditions), keyctl run"), "{}", r[0]);
        assert!(r[0].ends_with("(or allow it with the profile key seccomp.allow_escape_routes)"), "{}", r[0]);
        let named = "extends: default\nseccomp:\n  profile: loose.json\n  allow_escape_routes: [unshare, mount]\n";
        let r = refusals(named, &["img:1.2"]);
        assert!(r.len() == 1 && r[0].contains("lets ptrace (under conditions), keyctl run"), "{r:?}");
        let all = "extends: default\nseccomp:\n  profile: loose.json\n  allow_escape_routes: [unshare, mount, ptrace, keyctl]\n";
        assert_eq!(refusals(all, &["img:1.2"]), Vec::<String>::new());
    }

    #[test]
    fn the_command_line_profile_is_held_to_the_same_rule() {
        let custom = "extends: default\nseccomp:\n  allow_custom: true\n";
        let r = refusals(custom, &["--security-opt", "seccomp=/cli/loose.json", "img:1.2"]);
        assert!(r.len() == 1 && r[0].contains("seccomp profile /cli/loose.json: it lets unshare"), "{r:?}");
        let bundled_copy = crate::seccomp::bundled("hardrun-default").unwrap();
        assert!(crate::seccomp::parse(bundled_copy).unwrap().escape_routes().is_empty());
    }
}
