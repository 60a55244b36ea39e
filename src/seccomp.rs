//! Seccomp: hardrun's bundled profiles, and docker's seccomp profile format as types.
//!
//! This module owns the profiles in `seccomp/` (compiled into the binary) and everything
//! hardrun does with a seccomp profile before the daemon sees it: parse docker's JSON
//! format, refuse a profile that is broken or that docker would read differently from how
//! it looks, and compact it into the text that follows `seccomp=` in `SecurityOpt`, as the
//! docker CLI does with a file. The tests at the bottom hold the bundled profiles to what
//! `docs/seccomp.md` promises, so a broken or weakened profile cannot ship.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// The bundled profiles: name and JSON text, as shipped.
pub const BUNDLED: &[(&str, &str)] = &[
    ("hardrun-default", include_str!("../seccomp/hardrun-default.json")),
    ("hardrun-strict", include_str!("../seccomp/hardrun-strict.json")),
];

/// The JSON text of a bundled profile.
pub fn bundled(name: &str) -> Option<&'static str> {
    BUNDLED.iter().find(|(n, _)| *n == name).map(|(_, text)| *text)
}

/// A bundled profile, validated and compacted for `seccomp=`; computed once per process.
pub fn bundled_inline(name: &str) -> Option<&'static str> {
    static INLINE: [OnceLock<String>; BUNDLED.len()] = [const { OnceLock::new() }; BUNDLED.len()];
    let i = BUNDLED.iter().position(|(n, _)| *n == name)?;
    // The tests validate every bundled profile, so this cannot fail in a tested build.
    Some(INLINE[i].get_or_init(|| inline(BUNDLED[i].1).unwrap_or_else(|e| panic!("bundled seccomp {name}: {e}"))))
}

/// Parses a profile in docker's format. Fields docker does not know are refused: docker
/// would ignore them silently, so a typo such as `"arg"` would drop a rule's condition.
pub fn parse(text: &str) -> Result<SeccompProfile, SeccompError> {
    serde_json::from_str(text).map_err(SeccompError::Syntax)
}

/// Parses and validates a profile and returns it as one line of JSON, ready for `seccomp=`.
pub fn inline(text: &str) -> Result<String, SeccompError> {
    let profile = parse(text)?;
    profile.validate()?;
    Ok(serde_json::to_string(&profile).expect("a parsed profile serialises"))
}

/// Why a seccomp profile cannot be used; `Display` is one line that says where.
#[derive(Debug)]
pub enum SeccompError {
    /// Not JSON, or not a profile (an unknown field or action); serde_json gives the line and column.
    Syntax(serde_json::Error),
    /// Well-formed, but unusable: `at` is the place in the profile, e.g. `syscalls[3] (clone)`.
    Invalid { at: String, problem: String },
}

impl fmt::Display for SeccompError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeccompError::Syntax(e) => write!(f, "not a seccomp profile: {e}"),
            SeccompError::Invalid { at, problem } => write!(f, "{at}: {problem}"),
        }
    }
}

impl std::error::Error for SeccompError {}

fn invalid(at: impl Into<String>, problem: impl Into<String>) -> SeccompError {
    SeccompError::Invalid { at: at.into(), problem: problem.into() }
}

/// An enum whose variants serialise to libseccomp's names, and display as them.
macro_rules! scmp_names {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant,)+
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(match self { $(Self::$variant => $text,)+ })
            }
        }
    };
}

scmp_names! {
    /// What the kernel does when a rule matches.
    Action {
        Allow = "SCMP_ACT_ALLOW", Errno = "SCMP_ACT_ERRNO", Kill = "SCMP_ACT_KILL",
        KillProcess = "SCMP_ACT_KILL_PROCESS", KillThread = "SCMP_ACT_KILL_THREAD", Trap = "SCMP_ACT_TRAP",
        Trace = "SCMP_ACT_TRACE", Log = "SCMP_ACT_LOG", Notify = "SCMP_ACT_NOTIFY",
    }
}

scmp_names! {
    /// An architecture the filter covers.
    Arch {
        X86 = "SCMP_ARCH_X86", X86_64 = "SCMP_ARCH_X86_64", X32 = "SCMP_ARCH_X32", Arm = "SCMP_ARCH_ARM",
        Aarch64 = "SCMP_ARCH_AARCH64", Mips = "SCMP_ARCH_MIPS", Mips64 = "SCMP_ARCH_MIPS64",
        Mips64N32 = "SCMP_ARCH_MIPS64N32", Mipsel = "SCMP_ARCH_MIPSEL", Mipsel64 = "SCMP_ARCH_MIPSEL64",
        Mipsel64N32 = "SCMP_ARCH_MIPSEL64N32", Ppc = "SCMP_ARCH_PPC", Ppc64 = "SCMP_ARCH_PPC64",
        Ppc64Le = "SCMP_ARCH_PPC64LE", S390 = "SCMP_ARCH_S390", S390X = "SCMP_ARCH_S390X",
        Parisc = "SCMP_ARCH_PARISC", Parisc64 = "SCMP_ARCH_PARISC64", Riscv64 = "SCMP_ARCH_RISCV64",
        Loongarch64 = "SCMP_ARCH_LOONGARCH64",
    }
}

scmp_names! {
    /// How an argument is compared. For `MaskedEqual`, `value` is the mask and `valueTwo`
    /// what the masked argument must equal.
    Operator {
        Equal = "SCMP_CMP_EQ", NotEqual = "SCMP_CMP_NE", LessThan = "SCMP_CMP_LT", LessOrEqual = "SCMP_CMP_LE",
        GreaterThan = "SCMP_CMP_GT", GreaterOrEqual = "SCMP_CMP_GE", MaskedEqual = "SCMP_CMP_MASKED_EQ",
    }
}

impl Action {
    /// Whether the syscall runs (LOG runs it and logs it).
    pub fn runs_syscall(self) -> bool {
        matches!(self, Action::Allow | Action::Log)
    }
}

/// A profile in docker's format (what `--security-opt seccomp=FILE` reads).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeccompProfile {
    /// What the profile is for; docker ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub default_action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    /// The older flat form of `archMap`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub architectures: Vec<Arch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arch_map: Vec<ArchMap>,
    /// `SECCOMP_FILTER_FLAG_*` names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    #[serde(default)]
    pub syscalls: Vec<SyscallRule>,
}

/// The architectures the filter covers when the daemon runs on `architecture`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArchMap {
    pub architecture: Arch,
    #[serde(default)]
    pub sub_architectures: Vec<Arch>,
}

/// One rule: what happens to the named syscalls when every argument condition holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SyscallRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Docker's older single-name form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    pub action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<ArgFilter>,
    /// The rule applies only on hosts and containers that match (docker decides).
    #[serde(default, skip_serializing_if = "HostFilter::is_empty")]
    pub includes: HostFilter,
    #[serde(default, skip_serializing_if = "HostFilter::is_empty")]
    pub excludes: HostFilter,
}

impl SyscallRule {
    /// Every syscall the rule names, in either form.
    pub fn syscall_names(&self) -> impl Iterator<Item = &str> {
        self.name.iter().chain(&self.names).map(String::as_str)
    }

    /// No argument condition and no host filter: it applies to every call of its syscalls.
    pub fn is_unconditional(&self) -> bool {
        self.args.is_empty() && self.includes.is_empty() && self.excludes.is_empty()
    }

    fn place(&self, i: usize) -> String {
        format!("syscalls[{i}] ({})", self.syscall_names().next().unwrap_or("no name"))
    }
}

/// A condition on one syscall argument.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArgFilter {
    pub index: u32,
    pub value: u64,
    #[serde(default)]
    pub value_two: u64,
    pub op: Operator,
}

/// Docker's `includes`/`excludes`: capabilities the container has, the host's architecture
/// (Go names such as `amd64`), and a minimum kernel version.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HostFilter {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caps: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arches: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_kernel: Option<String>,
}

impl HostFilter {
    pub fn is_empty(&self) -> bool {
        self.caps.is_empty() && self.arches.is_empty() && self.min_kernel.is_none()
    }
}

/// System calls that open the way out of a container; `hardrun seccomp check` warns
/// when a profile lets any of them run unconditionally.
pub const ESCAPE_ROUTES: [&str; 16] = [
    "unshare",
    "setns",
    "mount",
    "umount2",
    "pivot_root",
    "init_module",
    "finit_module",
    "bpf",
    "perf_event_open",
    "ptrace",
    "kexec_load",
    "open_by_handle_at",
    "userfaultfd",
    "keyctl",
    "process_vm_writev",
    "clone3",
];

/// Whether a profile lets a syscall run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowance {
    /// Every call runs.
    Unconditional,
    /// Some calls run, depending on arguments or on the host and the container's capabilities.
    Conditional,
    /// No call runs.
    Denied,
}

/// The largest errno the kernel returns (`MAX_ERRNO`).
const MAX_ERRNO: u32 = 4095;

impl SeccompProfile {
    /// Refuses a profile that docker would reject, that would not do what it says, or that
    /// is not an allow-list.
    pub fn validate(&self) -> Result<(), SeccompError> {
        let top = "profile";
        if self.default_action.runs_syscall() {
            return Err(invalid(
                top,
                format!(
                    "defaultAction {} lets every unlisted syscall run; hardrun needs an allow-list \
                     (defaultAction SCMP_ACT_ERRNO and the syscalls to allow)",
                    self.default_action
                ),
            ));
        }
        check_action(top, self.default_action, self.default_errno_ret, "defaultErrnoRet")?;
        if !self.architectures.is_empty() && !self.arch_map.is_empty() {
            return Err(invalid(top, "has both architectures and archMap, which docker refuses; keep archMap"));
        }
        for flag in &self.flags {
            match flag.as_str() {
                "SECCOMP_FILTER_FLAG_TSYNC" | "SECCOMP_FILTER_FLAG_LOG" | "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" => {}
                "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => {
                    return Err(invalid(top, "flag SECCOMP_FILTER_FLAG_SPEC_ALLOW turns off Spectre mitigations"));
                }
                other => return Err(invalid(top, format!("unknown flag {other:?}"))),
            }
        }
        // Where each syscall appears, to find rules that contradict or shadow each other.
        let mut seen: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, rule) in self.syscalls.iter().enumerate() {
            let at = rule.place(i);
            check_rule(&at, rule)?;
            for name in rule.syscall_names() {
                seen.entry(name).or_default().push(i);
            }
        }
        for (name, rules) in seen {
            let unconditional = rules.iter().find(|&&i| self.syscalls[i].is_unconditional());
            let filtered = |i: usize| !self.syscalls[i].includes.is_empty() || !self.syscalls[i].excludes.is_empty();
            if let Some(&u) = unconditional
                && let Some(&other) = rules.iter().find(|&&i| i != u && !filtered(i))
            {
                let (first, second) = (u.min(other), u.max(other));
                return Err(invalid(
                    self.syscalls[second].place(second),
                    format!(
                        "{name} is also in syscalls[{first}]; a syscall with an unconditional rule must be in no \
                         other, or the result depends on libseccomp's merging (an allow can void a condition)"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The [`ESCAPE_ROUTES`] this profile lets run, always or under some condition.
    pub fn escape_routes(&self) -> Vec<(&'static str, Allowance)> {
        ESCAPE_ROUTES.iter().map(|&r| (r, self.allows(r))).filter(|(_, a)| *a != Allowance::Denied).collect()
    }

    /// Whether `syscall` runs under this profile (on the native architecture, every host).
    pub fn allows(&self, syscall: &str) -> Allowance {
        let rules: Vec<&SyscallRule> =
            self.syscalls.iter().filter(|r| r.syscall_names().any(|n| n == syscall)).collect();
        if let Some(rule) = rules.iter().find(|r| r.is_unconditional()) {
            return if rule.action.runs_syscall() { Allowance::Unconditional } else { Allowance::Denied };
        }
        let running = rules.iter().filter(|r| r.action.runs_syscall()).count();
        match (self.default_action.runs_syscall(), running) {
            (true, n) if n == rules.len() => Allowance::Unconditional,
            (false, 0) => Allowance::Denied,
            _ => Allowance::Conditional,
        }
    }
}

fn check_action(at: &str, action: Action, errno: Option<u32>, field: &str) -> Result<(), SeccompError> {
    if action == Action::Notify {
        return Err(invalid(at, "SCMP_ACT_NOTIFY needs a seccomp agent, and docker runs none"));
    }
    match errno {
        Some(_) if !matches!(action, Action::Errno | Action::Trace) => {
            Err(invalid(at, format!("{field} is only for SCMP_ACT_ERRNO and SCMP_ACT_TRACE, not {action}")))
        }
        Some(e) if e > MAX_ERRNO => Err(invalid(at, format!("{field} {e} is not an errno (0..={MAX_ERRNO})"))),
        _ => Ok(()),
    }
}

fn check_rule(at: &str, rule: &SyscallRule) -> Result<(), SeccompError> {
    if rule.name.is_some() && !rule.names.is_empty() {
        return Err(invalid(at, "has both name and names, which docker refuses; keep names"));
    }
    if rule.syscall_names().next().is_none() {
        return Err(invalid(at, "names no syscall"));
    }
    for name in rule.syscall_names() {
        let word = name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if name.is_empty() || !word {
            return Err(invalid(at, format!("{name:?} is not a syscall name")));
        }
    }
    check_action(at, rule.action, rule.errno_ret, "errnoRet")?;
    let mut indices = [false; 6];
    for arg in &rule.args {
        let Some(used) = indices.get_mut(arg.index as usize) else {
            return Err(invalid(at, format!("argument index {} is out of range (0..=5)", arg.index)));
        };
        if std::mem::replace(used, true) {
            // runc turns such a rule into one rule per condition: OR, where the JSON reads AND.
            return Err(invalid(
                at,
                format!("compares argument {} twice; write one rule per condition instead", arg.index),
            ));
        }
        if arg.op == Operator::MaskedEqual && arg.value_two & !arg.value != 0 {
            return Err(invalid(
                at,
                format!(
                    "argument {}: SCMP_CMP_MASKED_EQ never matches: valueTwo {:#x} has bits outside the mask {:#x}",
                    arg.index, arg.value_two, arg.value
                ),
            ));
        }
    }
    for (field, filter) in [("includes", &rule.includes), ("excludes", &rule.excludes)] {
        if let Some(cap) = filter.caps.iter().find(|c| !c.starts_with("CAP_")) {
            return Err(invalid(at, format!("{field}.caps: {cap:?} is not a capability name (CAP_...)")));
        }
        if let Some(arch) = filter.arches.iter().find(|a| a.is_empty()) {
            return Err(invalid(at, format!("{field}.arches: {arch:?} is not an architecture")));
        }
        if let Some(v) = &filter.min_kernel
            && (v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
        {
            return Err(invalid(at, format!("{field}.minKernel: {v:?} is not a kernel version")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str) -> SeccompProfile {
        parse(bundled(name).unwrap()).unwrap()
    }

    fn both() -> [(&'static str, SeccompProfile); 2] {
        [("hardrun-default", profile("hardrun-default")), ("hardrun-strict", profile("hardrun-strict"))]
    }

    fn rules<'a>(p: &'a SeccompProfile, name: &'a str) -> impl Iterator<Item = &'a SyscallRule> {
        p.syscalls.iter().filter(move |r| r.syscall_names().any(|n| n == name))
    }

    const NAMESPACE_FLAGS: u64 = 0x0002_0000 // CLONE_NEWNS
        | 0x0200_0000 // CLONE_NEWCGROUP
        | 0x0400_0000 // CLONE_NEWUTS
        | 0x0800_0000 // CLONE_NEWIPC
        | 0x1000_0000 // CLONE_NEWUSER
        | 0x2000_0000 // CLONE_NEWPID
        | 0x4000_0000; // CLONE_NEWNET

    /// What neither profile may let run, in any form.
    const FORBIDDEN: &str = "
        unshare setns mount umount umount2 pivot_root init_module finit_module delete_module create_module
        add_key request_key keyctl bpf perf_event_open ptrace kexec_load kexec_file_load open_by_handle_at
        name_to_handle_at userfaultfd reboot swapon swapoff iopl ioperm process_vm_readv process_vm_writev
        lookup_dcookie acct quotactl quotactl_fd settimeofday stime clock_settime clock_settime64 adjtimex
        clock_adjtime clock_adjtime64 syslog vhangup nfsservctl fsopen fsconfig fsmount fspick move_mount
        open_tree mount_setattr kcmp get_kernel_syms query_module uselib ustat sysfs _sysctl vm86 vm86old
        io_uring_setup io_uring_enter io_uring_register pidfd_getfd modify_ldt sethostname setdomainname
        fanotify_init process_madvise memfd_secret socketcall mbind set_mempolicy get_mempolicy
        migrate_pages move_pages pciconfig_read pciconfig_write";

    /// What a shell, a static binary and the common runtimes call all the time.
    const ORDINARY: &str = "
        read write openat close execve mmap munmap mprotect brk futex epoll_wait epoll_pwait epoll_ctl poll
        ppoll bind listen accept4 connect sendto recvfrom setsockopt exit_group exit rt_sigaction
        rt_sigprocmask rt_sigreturn sigaltstack newfstatat fstat statx getdents64 wait4 pipe2 dup3 fcntl
        ioctl getpid gettid tgkill nanosleep clock_nanosleep clock_gettime sched_getaffinity sched_yield
        prlimit64 arch_prctl set_tid_address set_robust_list rseq getrandom uname getuid faccessat2
        close_range eventfd2 madvise fork vfork readlinkat lseek getcwd chdir";

    #[test]
    fn every_bundled_profile_parses_validates_and_says_what_it_is_for() {
        assert_eq!(BUNDLED.len(), 2);
        for (name, text) in BUNDLED {
            let p = parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            p.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(p.comment.as_deref().is_some_and(|c| c.starts_with(name)), "{name}: top-level comment");
            for (i, rule) in p.syscalls.iter().enumerate() {
                assert!(rule.comment.as_deref().is_some_and(|c| !c.is_empty()), "{name}: {} says why", rule.place(i));
            }
        }
    }

    #[test]
    fn bundled_profiles_are_errno_allow_lists_for_x86_and_arm() {
        for (name, p) in both() {
            assert_eq!((p.default_action, p.default_errno_ret), (Action::Errno, Some(1)), "{name}");
            assert!(p.architectures.is_empty(), "{name}");
            assert_eq!(
                p.arch_map,
                [
                    ArchMap { architecture: Arch::X86_64, sub_architectures: vec![Arch::X86, Arch::X32] },
                    ArchMap { architecture: Arch::Aarch64, sub_architectures: vec![Arch::Arm] },
                ],
                "{name}"
            );
        }
    }

    #[test]
    fn bundled_inline_is_the_compacted_profile_and_is_computed_once() {
        for (name, text) in BUNDLED {
            let once = bundled_inline(name).unwrap();
            assert!(std::ptr::eq(once, bundled_inline(name).unwrap()), "cached");
            assert_eq!(once, inline(text).unwrap());
            assert!(!once.contains('\n') && once.len() < text.len());
            assert_eq!(parse(once).unwrap(), parse(text).unwrap(), "{name}: nothing lost in compacting");
        }
        assert_eq!(bundled_inline("nope"), None);
        assert_eq!(bundled("nope"), None);
    }

    #[test]
    fn the_forbidden_syscalls_never_run() {
        for (name, p) in both() {
            for syscall in FORBIDDEN.split_whitespace() {
                assert_eq!(p.allows(syscall), Allowance::Denied, "{name}: {syscall}");
            }
        }
    }

    #[test]
    fn ordinary_syscalls_run_under_both() {
        for (name, p) in both() {
            for syscall in ORDINARY.split_whitespace() {
                assert_eq!(p.allows(syscall), Allowance::Unconditional, "{name}: {syscall}");
            }
            for syscall in ["clone", "socket", "socketpair"] {
                assert_eq!(p.allows(syscall), Allowance::Conditional, "{name}: {syscall}");
            }
        }
    }

    #[test]
    fn clone_runs_only_without_namespace_flags_and_clone3_says_enosys() {
        let mask = ArgFilter { index: 0, value: NAMESPACE_FLAGS, value_two: 0, op: Operator::MaskedEqual };
        assert_eq!(NAMESPACE_FLAGS, 0x7E02_0000);
        for (name, p) in both() {
            let clone: Vec<_> = rules(&p, "clone").collect();
            assert_eq!(clone.len(), 1, "{name}");
            assert_eq!((clone[0].action, &clone[0].args[..]), (Action::Allow, &[mask.clone()][..]), "{name}");
            let clone3: Vec<_> = rules(&p, "clone3").collect();
            assert_eq!(clone3.len(), 1, "{name}");
            assert!(clone3[0].is_unconditional(), "{name}");
            assert_eq!((clone3[0].action, clone3[0].errno_ret), (Action::Errno, Some(38)), "{name}: ENOSYS");
        }
    }

    /// The persona values of each personality rule (mask 0xffffffff: the kernel reads 32 bits).
    fn personas(p: &SeccompProfile) -> Vec<u64> {
        rules(p, "personality")
            .map(|r| {
                assert_eq!(r.action, Action::Allow);
                assert_eq!(r.args.len(), 1);
                let a = &r.args[0];
                assert_eq!((a.index, a.value, a.op), (0, 0xffff_ffff, Operator::MaskedEqual));
                a.value_two
            })
            .collect()
    }

    #[test]
    fn personality_only_takes_safe_values() {
        // PER_LINUX, PER_LINUX32, UNAME26, PER_LINUX32|UNAME26, and 0xffffffff, which only asks.
        // Never ADDR_NO_RANDOMIZE (0x40000), READ_IMPLIES_EXEC (0x400000) or MMAP_PAGE_ZERO (0x100000).
        assert_eq!(personas(&profile("hardrun-default")), [0x0, 0x8, 0x2_0000, 0x2_0008, 0xffff_ffff]);
        assert_eq!(personas(&profile("hardrun-strict")), [0xffff_ffff]);
    }

    #[test]
    fn socket_takes_only_ordinary_families_and_socketcall_cannot_get_round_it() {
        // (family, netlink protocol): AF_UNIX, AF_INET, AF_INET6, AF_NETLINK route (and sock_diag).
        let allowed = |p: &SeccompProfile| -> Vec<(u64, Option<u64>)> {
            rules(p, "socket")
                .map(|r| {
                    assert_eq!(r.action, Action::Allow);
                    let arg = |i| r.args.iter().find(|a| a.index == i && a.op == Operator::Equal).map(|a| a.value);
                    assert_eq!(r.args.len(), if arg(2).is_some() { 2 } else { 1 });
                    (arg(0).unwrap(), arg(2))
                })
                .collect()
        };
        assert_eq!(
            allowed(&profile("hardrun-default")),
            [(1, None), (2, None), (10, None), (16, Some(0)), (16, Some(4))]
        );
        assert_eq!(allowed(&profile("hardrun-strict")), [(1, None), (2, None), (10, None), (16, Some(0))]);
        let unix_only = [ArgFilter { index: 0, value: 1, value_two: 0, op: Operator::Equal }];
        for (name, p) in both() {
            let pair: Vec<_> = rules(&p, "socketpair").map(|r| (r.action, &r.args[..])).collect();
            assert_eq!(pair, [(Action::Allow, &unix_only[..])], "{name}");
            let socketcall: Vec<_> = rules(&p, "socketcall").collect();
            assert_eq!(socketcall.len(), 1, "{name}");
            assert_eq!((socketcall[0].action, socketcall[0].errno_ret), (Action::Errno, Some(38)), "{name}");
        }
    }

    #[test]
    fn strict_allows_a_subset_of_default() {
        let (default, strict) = (profile("hardrun-default"), profile("hardrun-strict"));
        let mut fewer = 0;
        for rule in &default.syscalls {
            for syscall in rule.syscall_names() {
                if strict.allows(syscall) == Allowance::Denied && default.allows(syscall) != Allowance::Denied {
                    fewer += 1;
                }
            }
        }
        assert!(fewer > 50, "strict is meant to be markedly smaller ({fewer} fewer)");
        for rule in &strict.syscalls {
            for syscall in rule.syscall_names() {
                match strict.allows(syscall) {
                    Allowance::Unconditional => {
                        assert_eq!(default.allows(syscall), Allowance::Unconditional, "{syscall}")
                    }
                    Allowance::Conditional => assert_ne!(default.allows(syscall), Allowance::Denied, "{syscall}"),
                    Allowance::Denied => {}
                }
            }
        }
        for gone in ["chroot", "memfd_create", "mlock", "shmget", "msgget", "mq_open", "ipc", "fchownat", "setxattr"] {
            assert_eq!(strict.allows(gone), Allowance::Denied, "{gone}");
            assert_ne!(default.allows(gone), Allowance::Denied, "{gone}");
        }
    }

    /// A profile of one rule, for the validation tests.
    fn with_rules(rules: &str) -> String {
        format!(r#"{{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{rules}]}}"#)
    }

    fn refused(text: &str) -> String {
        let e = inline(text).expect_err(text).to_string();
        assert!(!e.contains('\n'), "one line: {e}");
        e
    }

    #[test]
    fn a_small_valid_profile_is_compacted() {
        let text = with_rules(
            r#"{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
               {"name": "kill", "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
               {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
               {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}]}"#,
        );
        assert_eq!(
            inline(&text).unwrap(),
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW"},{"name":"kill","action":"SCMP_ACT_ERRNO","errnoRet":38},{"names":["clone"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_ADMIN"]}},{"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":2114060288,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}]}]}"#
        );
        let p = parse(&text).unwrap();
        assert_eq!(p.allows("read"), Allowance::Unconditional);
        assert_eq!(p.allows("kill"), Allowance::Denied);
        assert_eq!(p.allows("clone"), Allowance::Conditional);
        assert_eq!(p.allows("mount"), Allowance::Denied);
    }

    #[test]
    fn broken_profiles_are_refused_with_where_and_what() {
        let allow = r#""action": "SCMP_ACT_ALLOW""#;
        let cases = [
            ("{".to_string(), "not a seccomp profile: EOF while parsing an object at line 1 column 1"),
            (r#"{"syscalls": []}"#.into(), "missing field `defaultAction`"),
            (with_rules(r#"{"names": ["read"], "action": "SCMP_ACT_MAYBE"}"#), "unknown variant `SCMP_ACT_MAYBE`"),
            (with_rules(&format!(r#"{{"names": ["read"], {allow}, "arg": []}}"#)), "unknown field `arg`"),
            (
                r#"{"defaultAction": "SCMP_ACT_ERRNO", "archMap": [{"architecture": "SCMP_ARCH_Z80"}]}"#.into(),
                "SCMP_ARCH_Z80",
            ),
            (r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#.into(), "profile: defaultAction SCMP_ACT_ALLOW lets every"),
            (r#"{"defaultAction": "SCMP_ACT_KILL", "defaultErrnoRet": 1}"#.into(), "defaultErrnoRet is only for"),
            (
                r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86"],
                    "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": []}]}"#
                    .into(),
                "both architectures and archMap",
            ),
            (r#"{"defaultAction": "SCMP_ACT_ERRNO", "flags": ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"]}"#.into(), "Spectre"),
            (with_rules(&format!(r#"{{"names": [], {allow}}}"#)), "syscalls[0] (no name): names no syscall"),
            (with_rules(&format!(r#"{{"names": ["read", ""], {allow}}}"#)), "syscalls[0] (read): \"\" is not"),
            (with_rules(&format!(r#"{{"names": ["Read me"], {allow}}}"#)), "\"Read me\" is not a syscall name"),
            (with_rules(&format!(r#"{{"name": "read", "names": ["write"], {allow}}}"#)), "both name and names"),
            (with_rules(r#"{"names": ["read"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1}"#), "errnoRet is only for"),
            (with_rules(r#"{"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5000}"#), "not an errno"),
            (with_rules(r#"{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}"#), "seccomp agent"),
            (
                with_rules(&format!(
                    r#"{{"names": ["socket"], {allow}, "args": [{{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}}]}}"#
                )),
                "syscalls[0] (socket): argument index 6 is out of range (0..=5)",
            ),
            (
                with_rules(&format!(
                    r#"{{"names": ["socket"], {allow}, "args": [{{"index": 0, "value": 40, "op": "SCMP_CMP_NE"}},
                                                           {{"index": 0, "value": 16, "op": "SCMP_CMP_NE"}}]}}"#
                )),
                "compares argument 0 twice",
            ),
            (
                with_rules(&format!(
                    r#"{{"names": ["personality"], {allow}, "args": [{{"index": 0, "value": 255, "valueTwo": 256, "op": "SCMP_CMP_MASKED_EQ"}}]}}"#
                )),
                "never matches",
            ),
            (
                with_rules(&format!(r#"{{"names": ["read"], {allow}, "includes": {{"caps": ["SYS_ADMIN"]}}}}"#)),
                "includes.caps: \"SYS_ADMIN\" is not a capability name",
            ),
            (
                with_rules(&format!(
                    r#"{{"names": ["read", "socket"], {allow}}},
                       {{"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 97}}"#
                )),
                "syscalls[1] (socket): socket is also in syscalls[0]",
            ),
            (
                with_rules(&format!(
                    r#"{{"names": ["clone"], {allow}, "args": [{{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}}]}},
                       {{"names": ["read", "clone"], {allow}}}"#
                )),
                "syscalls[1] (read): clone is also in syscalls[0]",
            ),
        ];
        for (text, expected) in cases {
            let e = refused(&text);
            assert!(e.contains(expected), "{text}\n  gave: {e}\n  expected: {expected}");
        }
    }
}
