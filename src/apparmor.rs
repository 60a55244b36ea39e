//! AppArmor: the profiles hardrun bundles, the host's AppArmor state and the
//! `apparmor_parser` calls that check and load a profile.
//!
//! This module owns the AppArmor vocabulary (profile names, confinement modes,
//! the parser's flags) so the rest of hardrun deals in typed answers: is
//! AppArmor enforced here, is our profile loaded, what confines a process.
//! Why and how the profile is used: docs/apparmor.md.

use std::ffi::OsStr;
use std::fmt;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The profile hardrun asks docker for on hosts with AppArmor.
pub const DEFAULT_NAME: &str = "hardrun-default";

/// Bundled profiles, name → profile text, compiled into the binary.
pub const BUNDLED: &[(&str, &str)] = &[(DEFAULT_NAME, include_str!("../apparmor/hardrun-default"))];

const ENABLED_PARAM: &str = "/sys/module/apparmor/parameters/enabled";
const PROFILES_FILE: &str = "/sys/kernel/security/apparmor/profiles";
const KERNEL_FEATURES: &str = "/sys/kernel/security/apparmor/features";
/// The feature set the bundled profiles declare (`abi <abi/3.0>,`).
const ABI_FEATURES: &str = "/etc/apparmor.d/abi/3.0";
const PARSER: &str = "apparmor_parser";

/// The text of a bundled profile.
pub fn bundled(name: &str) -> Option<&'static str> {
    BUNDLED.iter().find(|(n, _)| *n == name).map(|(_, text)| *text)
}

/// Whether this kernel has AppArmor enabled. Without it docker accepts
/// `apparmor=NAME` and records it, but nothing enforces it.
pub fn host_enabled() -> bool {
    std::fs::read_to_string(ENABLED_PARAM).is_ok_and(|s| parse_enabled(&s))
}

fn parse_enabled(param: &str) -> bool {
    param.trim() == "Y"
}

/// Names of the profiles loaded in the kernel. Reading the list needs root,
/// so an unprivileged caller gets `PermissionDenied`.
pub fn loaded_profiles() -> io::Result<Vec<String>> {
    std::fs::read_to_string(PROFILES_FILE).map(|s| parse_profiles(&s))
}

/// Lines are `NAME (MODE)`; a name may itself contain spaces.
fn parse_profiles(list: &str) -> Vec<String> {
    list.lines()
        .map(|line| line.rsplit_once(" (").map_or(line, |(name, _)| name))
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect()
}

/// `apparmor_parser` from PATH, else /sbin or /usr/sbin, which are often not
/// on an ordinary user's PATH.
pub fn parser_path() -> Option<PathBuf> {
    find_parser(std::env::var_os("PATH").as_deref())
}

fn find_parser(path_var: Option<&OsStr>) -> Option<PathBuf> {
    let on_path = path_var.into_iter().flat_map(std::env::split_paths);
    on_path
        .chain([PathBuf::from("/sbin"), PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join(PARSER))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Compiles `text` as the kernel would, without loading it.
///
/// On a host without AppArmor the parser has no kernel feature set and
/// silently leaves out the rule classes it thinks unenforceable (mount,
/// signal, ptrace, network), so the check compiles against the ABI the
/// profile declares instead: every rule is then really compiled.
pub fn check_syntax(text: &str) -> Result<(), AppArmorError> {
    let parser = parser_path().ok_or(AppArmorError::ParserMissing)?;
    let mut args = vec!["--skip-kernel-load", "--skip-cache"];
    if !Path::new(KERNEL_FEATURES).exists() && Path::new(ABI_FEATURES).is_file() {
        args.extend(["--kernel-features", ABI_FEATURES]);
    }
    let message = run_parser(&parser, &args, text)?;
    match message {
        None => Ok(()),
        Some(message) => Err(AppArmorError::Rejected { message }),
    }
}

/// Loads (or replaces) a bundled profile in the kernel. Needs root (or
/// CAP_MAC_ADMIN) on the docker host. No cache is written: a profile piped
/// in is not reloaded at boot anyway, so hardrun loads it again when needed.
pub fn load(name: &str) -> Result<(), AppArmorError> {
    let text = bundled(name).ok_or_else(|| AppArmorError::UnknownProfile(name.to_string()))?;
    if !host_enabled() {
        return Err(AppArmorError::HostDisabled { profile: name.to_string() });
    }
    let parser = parser_path().ok_or(AppArmorError::ParserMissing)?;
    match run_parser(&parser, &["--replace", "--skip-cache"], text)? {
        None => Ok(()),
        Some(message) => Err(AppArmorError::LoadFailed { profile: name.to_string(), message }),
    }
}

/// The command root can paste to load a bundled profile by hand.
pub fn load_command(name: &str) -> String {
    format!("hardrun apparmor export {} | sudo apparmor_parser -r", shell_word(name))
}

fn shell_word(s: &str) -> String {
    let plain = !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "._-/+=:@".contains(c));
    if plain { s.to_string() } else { format!("'{}'", s.replace('\'', r"'\''")) }
}

/// Feeds `text` to the parser on stdin. `Ok(None)` when it succeeded,
/// `Ok(Some(message))` when it refused, with its diagnostics on one line.
fn run_parser(parser: &Path, args: &[&str], text: &str) -> Result<Option<String>, AppArmorError> {
    let failed = |source| AppArmorError::ParserFailed { parser: parser.to_path_buf(), source };
    let mut child = Command::new(parser)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(failed)?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    // Write from a second thread so a parser that talks before it has read
    // everything cannot deadlock us; one that exits early just closes the pipe.
    let output = std::thread::scope(|s| {
        s.spawn(move || match stdin.write_all(text.as_bytes()) {
            Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e),
            _ => Ok(()),
        });
        child.wait_with_output()
    })
    .map_err(failed)?;
    if output.status.success() {
        return Ok(None);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let message = diagnostics(&stderr);
    Ok(Some(if message.is_empty() { format!("apparmor_parser {}", output.status) } else { message }))
}

/// The parser's diagnostics as one line, without the cache notice it prints
/// on every run when the kernel has no AppArmor.
fn diagnostics(stderr: &str) -> String {
    stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Cache read/write disabled"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Why an AppArmor step failed. Display is one line: what, why, what to do.
#[derive(Debug)]
pub enum AppArmorError {
    ParserMissing,
    ParserFailed {
        parser: PathBuf,
        source: io::Error,
    },
    /// The parser refused the profile text.
    Rejected {
        message: String,
    },
    UnknownProfile(String),
    HostDisabled {
        profile: String,
    },
    /// The text compiled, but the kernel load failed (usually: not root).
    LoadFailed {
        profile: String,
        message: String,
    },
}

impl fmt::Display for AppArmorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppArmorError::ParserMissing => write!(
                f,
                "apparmor_parser not found on PATH, in /sbin or /usr/sbin: \
                 install the apparmor package (Debian/Ubuntu: apt-get install apparmor)"
            ),
            AppArmorError::ParserFailed { parser, source } => write!(
                f,
                "could not run {}: {source}: check that it is an executable apparmor_parser",
                parser.display()
            ),
            AppArmorError::Rejected { message } => write!(
                f,
                "apparmor_parser rejected the AppArmor profile: {message}: \
                 correct the profile text (see docs/apparmor.md)"
            ),
            AppArmorError::UnknownProfile(name) => {
                let known: Vec<&str> = BUNDLED.iter().map(|(n, _)| *n).collect();
                write!(f, "no bundled AppArmor profile named {name:?}: the bundled ones are {}", known.join(", "))
            }
            AppArmorError::HostDisabled { profile } => write!(
                f,
                "cannot load AppArmor profile {profile}: this kernel does not have AppArmor \
                 enabled: boot with AppArmor on (apparmor=1 security=apparmor), or run \
                 without an AppArmor profile"
            ),
            AppArmorError::LoadFailed { profile, message } => write!(
                f,
                "loading AppArmor profile {profile} failed: {message}: run hardrun as root on \
                 the docker host, or load it by hand: {}",
                load_command(profile)
            ),
        }
    }
}

impl std::error::Error for AppArmorError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AppArmorError::ParserFailed { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUIRE_PARSER: &str = "HARDRUN_REQUIRE_APPARMOR_PARSER";

    /// Tests that need apparmor_parser skip without it, except where CI
    /// demands the parser (HARDRUN_REQUIRE_APPARMOR_PARSER=1).
    fn parser_available(test: &str) -> bool {
        if parser_path().is_some() {
            return true;
        }
        assert!(
            std::env::var_os(REQUIRE_PARSER).is_none_or(|v| v != "1"),
            "{test}: apparmor_parser not found and {REQUIRE_PARSER}=1: install apparmor"
        );
        eprintln!("skipping {test}: apparmor_parser not found (install apparmor to run it)");
        false
    }

    /// The profile's rules, one per line, without comments or indentation.
    fn rules(text: &str) -> Vec<&str> {
        text.lines().map(|l| l.split('#').next().unwrap_or("").trim()).filter(|l| !l.is_empty()).collect()
    }

    fn default_rules() -> Vec<&'static str> {
        rules(bundled(DEFAULT_NAME).unwrap())
    }

    #[test]
    fn bundled_profile_compiles() {
        if !parser_available("bundled_profile_compiles") {
            return;
        }
        for (name, text) in BUNDLED {
            if let Err(e) = check_syntax(text) {
                panic!("bundled profile {name} does not compile: {e}");
            }
        }
    }

    #[test]
    fn broken_profile_reports_the_parsers_message() {
        if !parser_available("broken_profile_reports_the_parsers_message") {
            return;
        }
        let broken = "abi <abi/3.0>,\nprofile broken {\n  capability frobnicate,\n}\n";
        let err = check_syntax(broken).unwrap_err();
        let AppArmorError::Rejected { message } = &err else {
            panic!("expected Rejected, got {err:?}");
        };
        assert!(message.contains("frobnicate"), "{message}");
        assert!(message.contains("line 3"), "{message}");
        let shown = err.to_string();
        assert!(!shown.contains('\n'), "{shown}");
        assert!(!shown.contains("Cache read/write"), "{shown}");
    }

    #[test]
    fn bundled_names_match_the_profiles_they_declare() {
        for (name, text) in BUNDLED {
            let header = format!("profile {name} flags=(attach_disconnected,mediate_deleted) {{");
            assert!(rules(text).contains(&header.as_str()), "{name}");
            assert!(rules(text).contains(&"abi <abi/3.0>,"), "{name}");
        }
        assert!(bundled(DEFAULT_NAME).is_some());
        assert!(bundled("docker-default").is_none());
    }

    #[test]
    fn profile_denies_mounts() {
        let rules = default_rules();
        for rule in ["deny mount,", "deny remount,", "deny umount,", "deny pivot_root,"] {
            assert!(rules.contains(&rule), "missing {rule}");
        }
    }

    #[test]
    fn profile_denies_kernel_interfaces() {
        let rules = default_rules();
        for rule in [
            "deny /proc/sys/** wl,",
            "deny /proc/[^0-9]** wl,",
            "deny /sys/** wl,",
            "deny /proc/sysrq-trigger rwlkmx,",
            "deny /proc/kcore rwlkmx,",
            "deny /proc/kmem rwlkmx,",
            "deny /proc/mem rwlkmx,",
            "deny /proc/[0-9]*/mem w,",
            "deny /sys/kernel/security/{,**} rwlkmx,",
            "deny /proc/**/attr/** wl,",
        ] {
            assert!(rules.contains(&rule), "missing {rule}");
        }
    }

    #[test]
    fn profile_denies_raw_and_packet_sockets() {
        let rules = default_rules();
        for rule in ["deny network inet raw,", "deny network inet6 raw,", "deny network packet,"] {
            assert!(rules.contains(&rule), "missing {rule}");
        }
    }

    #[test]
    fn profile_denies_tracing_and_host_root_capabilities() {
        let rules = default_rules();
        assert!(rules.contains(&"deny ptrace (trace, tracedby),"));
        for cap in ["sys_admin", "sys_module", "sys_rawio", "sys_ptrace", "mac_admin", "bpf"] {
            let rule = format!("deny capability {cap},");
            assert!(rules.contains(&rule.as_str()), "missing {rule}");
        }
    }

    #[test]
    fn nothing_leaves_the_profile() {
        // Any exec transition or profile change would be a way out.
        for rule in default_rules() {
            let words: Vec<&str> = rule.trim_end_matches(',').split_whitespace().collect();
            for escape in ["ux", "Ux", "px", "Px", "cx", "Cx", "pix", "Pix", "unconfined"] {
                assert!(!words.contains(&escape), "{rule}");
            }
            assert!(!rule.contains("change_profile"), "{rule}");
            assert!(!rule.starts_with("ptrace") || rule.contains("peer=hardrun-default"), "{rule}");
            assert!(!rule.starts_with("signal (send") || rule.contains("peer=hardrun-default"));
        }
    }

    #[test]
    fn load_command_shape() {
        assert_eq!(load_command(DEFAULT_NAME), "hardrun apparmor export hardrun-default | sudo apparmor_parser -r");
        assert_eq!(load_command("it's mine"), r"hardrun apparmor export 'it'\''s mine' | sudo apparmor_parser -r");
    }

    #[test]
    fn profiles_list() {
        let list = "hardrun-default (enforce)\ndocker-default (enforce)\n/usr/bin/my app (complain)\n";
        assert_eq!(parse_profiles(list), ["hardrun-default", "docker-default", "/usr/bin/my app"]);
        assert!(parse_profiles("").is_empty());
    }

    #[test]
    fn enabled_parameter() {
        assert!(parse_enabled("Y\n"));
        assert!(!parse_enabled("N\n"));
        assert!(!parse_enabled(""));
    }

    #[test]
    fn parser_is_found_on_path_then_in_sbin() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join(PARSER);
        std::fs::write(&fake, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(find_parser(Some(dir.path().as_os_str())), Some(fake.clone()));

        // Not executable: skipped, so the search goes on to /sbin and /usr/sbin.
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o644)).unwrap();
        let found = find_parser(Some(dir.path().as_os_str()));
        assert!(found.as_deref().is_none_or(|p| p.starts_with("/sbin") || p.starts_with("/usr/sbin")));
    }

    #[test]
    fn load_refuses_unknown_names_before_anything_else() {
        let err = load("no-such-profile").unwrap_err();
        assert!(matches!(err, AppArmorError::UnknownProfile(_)), "{err:?}");
        assert!(err.to_string().contains("hardrun-default"), "{err}");
    }

    #[test]
    fn errors_are_one_line() {
        let errors = [
            AppArmorError::ParserMissing,
            AppArmorError::ParserFailed {
                parser: PathBuf::from("/sbin/apparmor_parser"),
                source: io::Error::from(io::ErrorKind::PermissionDenied),
            },
            AppArmorError::Rejected { message: "AppArmor parser error at line 3: x".into() },
            AppArmorError::UnknownProfile("x".into()),
            AppArmorError::HostDisabled { profile: DEFAULT_NAME.into() },
            AppArmorError::LoadFailed { profile: DEFAULT_NAME.into(), message: "denied".into() },
        ];
        for e in errors {
            let shown = e.to_string();
            assert!(!shown.contains('\n'), "{shown}");
        }
        let missing = AppArmorError::ParserMissing.to_string();
        assert!(missing.contains("install the apparmor package"), "{missing}");
    }

    #[test]
    fn parser_noise_is_dropped_from_messages() {
        let stderr = "Cache read/write disabled: interface file missing. (Kernel needs AppArmor 2.4 compatibility patch.)\n\
                      AppArmor parser error at line 2: syntax error\n\n";
        assert_eq!(diagnostics(stderr), "AppArmor parser error at line 2: syntax error");
    }
}
