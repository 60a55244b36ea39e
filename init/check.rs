//! The comparisons: what the kernel shows the process (its status, AppArmor label,
//! namespaces and mounts) against the expectations. Each difference is appended to a
//! `; `-separated line; an empty line means everything is as planned.

use super::capabilities::ALL as CAPABILITIES;
use super::spec::{Groups, Id, MAX_MOUNTS, Mount, Spec};
use super::status::{self, ProcessStatus};
use super::text::Line;

/// Paths docker (20.10 and later) hides behind an empty mount when they exist.
pub const MASKED: [&[u8]; 10] = [
    b"/proc/asound",
    b"/proc/acpi",
    b"/proc/kcore",
    b"/proc/keys",
    b"/proc/latency_stats",
    b"/proc/timer_list",
    b"/proc/timer_stats",
    b"/proc/sched_debug",
    b"/proc/scsi",
    b"/sys/firmware",
];
/// Masked by later docker versions: accepted, not required.
const MASKED_LATER: [&[u8]; 2] = [b"/proc/interrupts", b"/sys/devices/virtual/powercap"];
/// Paths docker mounts read-only when they exist.
pub const READ_ONLY: [&[u8]; 5] = [b"/proc/bus", b"/proc/fs", b"/proc/irq", b"/proc/sys", b"/proc/sysrq-trigger"];
/// Device nodes runc bind-mounts from the host when it cannot create them (user namespaces).
const DEVICES: [&[u8]; 6] = [b"/dev/null", b"/dev/zero", b"/dev/full", b"/dev/random", b"/dev/urandom", b"/dev/tty"];

fn push_caps(line: &mut Line, mask: u64) {
    if mask == 0 {
        line.push(b"none");
        return;
    }
    let mut first = true;
    for bit in 0..64 {
        if mask & (1 << bit) != 0 {
            if !first {
                line.push(b",");
            }
            first = false;
            match CAPABILITIES.get(bit) {
                Some(name) => line.push(name.as_bytes()),
                None => {
                    line.push(b"CAP_");
                    line.push_dec(bit as u64);
                }
            }
        }
    }
}

fn push_ids(line: &mut Line, ids: &[u32]) {
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            line.push(b" ");
        }
        line.push_dec(u64::from(*id));
    }
}

/// Credentials, capabilities, no-new-privileges and seccomp.
pub fn process(spec: &Spec, s: &ProcessStatus, diffs: &mut Line) {
    let missing = |diffs: &mut Line, what: &[u8]| {
        diffs.item();
        diffs.push(what);
        diffs.push(b" could not be read from /proc/self/status");
    };
    if s.seen & status::SEEN_CAPS == 0 {
        missing(diffs, b"the capability sets");
    } else {
        for (name, _, set) in s.caps.each() {
            let extra = set & !spec.caps;
            if extra != 0 {
                diffs.item();
                diffs.push(name);
                diffs.push(b" holds ");
                push_caps(diffs, extra);
                diffs.push(b" (the plan allows ");
                push_caps(diffs, spec.caps);
                diffs.push(b")");
            }
        }
    }
    if spec.no_new_privs {
        match (s.seen & status::SEEN_NNP != 0, s.no_new_privs) {
            (false, _) => missing(diffs, b"NoNewPrivs"),
            (true, false) => {
                diffs.item();
                diffs.push(b"NoNewPrivs is 0 (the plan sets no-new-privileges)");
            }
            (true, true) => {}
        }
    }
    if spec.seccomp {
        match (s.seen & status::SEEN_SECCOMP != 0, s.seccomp) {
            (false, _) => missing(diffs, b"Seccomp"),
            (true, 2) => {}
            (true, mode) => {
                diffs.item();
                diffs.push(b"Seccomp is mode ");
                diffs.push_dec(u64::from(mode));
                diffs.push(b", not 2 (filter)");
            }
        }
    }
    ids(diffs, b"Uid", s.seen & status::SEEN_UID != 0, &s.uid, spec.uid);
    ids(diffs, b"Gid", s.seen & status::SEEN_GID != 0, &s.gid, spec.gid);
    if s.seen & status::SEEN_GROUPS == 0 {
        missing(diffs, b"Groups");
    } else if s.groups_cut {
        diffs.item();
        diffs.push(b"the process has more supplementary groups than hardrun checks");
    } else {
        match spec.groups {
            Groups::Exact(want, n) => {
                let want = &want[..n];
                let same = s.groups().iter().all(|g| want.contains(g)) && want.iter().all(|g| s.groups().contains(g));
                if !same {
                    diffs.item();
                    diffs.push(b"Groups is ");
                    push_ids(diffs, s.groups());
                    diffs.push(b" (the plan has ");
                    push_ids(diffs, want);
                    diffs.push(b")");
                }
            }
            Groups::NonRoot if s.groups().contains(&0) => {
                diffs.item();
                diffs.push(b"Groups includes 0, the root group");
            }
            Groups::NonRoot | Groups::Any => {}
        }
    }
}

fn ids(diffs: &mut Line, name: &[u8], seen: bool, got: &[u32; 4], want: Id) {
    if !seen {
        diffs.item();
        diffs.push(name);
        diffs.push(b" could not be read from /proc/self/status");
        return;
    }
    let wrong = match want {
        Id::Exact(id) => got.iter().any(|g| *g != id),
        Id::NonRoot => got.contains(&0),
        Id::Any => false,
    };
    if wrong {
        diffs.item();
        diffs.push(name);
        diffs.push(b" is ");
        push_ids(diffs, got);
        match want {
            Id::Exact(id) => {
                diffs.push(b" (the plan has ");
                diffs.push_dec(u64::from(id));
                diffs.push(b")");
            }
            _ => diffs.push(b" (root, which the plan does not allow)"),
        }
    }
}

/// The one-line summary of what was verified, for hardrun's `-v`.
pub fn summary(s: &ProcessStatus, apparmor: &[u8], root_read_only: bool, counts: MountCounts, out: &mut Line) {
    for (_, key, set) in s.caps.each() {
        out.push(key);
        out.push(b"=");
        out.push_hex(set);
        out.push(b" ");
    }
    out.push(b"uid=");
    out.push_dec(u64::from(s.uid[1]));
    out.push(b" gid=");
    out.push_dec(u64::from(s.gid[1]));
    out.push(b" groups=");
    for (i, g) in s.groups().iter().enumerate() {
        if i > 0 {
            out.push(b",");
        }
        out.push_dec(u64::from(*g));
    }
    out.push(b" nnp=");
    out.push_dec(u64::from(s.no_new_privs));
    out.push(b" seccomp=");
    out.push_dec(u64::from(s.seccomp));
    out.push(b" root=");
    out.push(if root_read_only { b"ro" } else { b"rw" });
    out.push(b" mounts=");
    out.push_dec(counts.planned as u64);
    out.push(b"+");
    out.push_dec(counts.docker as u64);
    out.push(b" apparmor=");
    if apparmor.is_empty() {
        out.push(b"-");
    } else {
        // One token: spaces in the label become underscores.
        for &b in apparmor {
            out.push_shown(&[if b == b' ' { b'_' } else { b }]);
        }
    }
}

/// The label in attr/current, without its trailing newline and NUL.
pub fn apparmor_label(current: &[u8]) -> &[u8] {
    let mut l = current;
    while let [rest @ .., b'\n' | b'\0' | b' '] = l {
        l = rest;
    }
    l
}

/// The process must be confined by the expected AppArmor profile, enforcing.
pub fn apparmor(want: &[u8], current: Option<&[u8]>, diffs: &mut Line) {
    let label = current.map(apparmor_label).unwrap_or(b"");
    let ok = label.len() == want.len() + 10 && label.starts_with(want) && &label[want.len()..] == b" (enforce)";
    if !ok {
        diffs.item();
        diffs.push(b"AppArmor label is ");
        diffs.push_shown(if label.is_empty() { b"unreadable" } else { label });
        diffs.push(b" (the plan has ");
        diffs.push_shown(want);
        diffs.push(b" (enforce))");
    }
}

/// The inode of the initial (host) namespace of each kind whose number is fixed.
const INITIAL_NAMESPACES: [(&[u8], u64); 4] =
    [(b"ipc", 0xEFFF_FFFF), (b"uts", 0xEFFF_FFFE), (b"pid", 0xEFFF_FFFC), (b"cgroup", 0xEFFF_FFFB)];

/// The namespace kinds checked, each against the host's (from the spec) and, where the
/// kernel fixes it, the initial namespace's inode.
pub const NAMESPACES: [&[u8]; 6] = [b"pid", b"net", b"ipc", b"uts", b"cgroup", b"mnt"];

/// `link` is what /proc/self/ns/KIND reads (`net:[4026531833]`).
pub fn namespace(spec: &Spec, kind: &[u8], link: Option<&[u8]>, diffs: &mut Line) {
    let inode = link.and_then(|l| {
        let inner = l.strip_prefix(kind)?.strip_prefix(b":[")?.strip_suffix(b"]")?;
        if inner.is_empty() || inner.len() > 19 || !inner.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(inner.iter().fold(0u64, |n, &b| n * 10 + u64::from(b - b'0')))
    });
    let Some(inode) = inode else {
        diffs.item();
        diffs.push(b"the ");
        diffs.push(kind);
        diffs.push(b" namespace could not be read");
        return;
    };
    let host = spec.host_namespaces().iter().chain(INITIAL_NAMESPACES.iter()).any(|(k, i)| *k == kind && *i == inode);
    if host {
        diffs.item();
        diffs.push(b"the process is in the host's ");
        diffs.push(kind);
        diffs.push(b" namespace");
    }
}

/// One line of /proc/self/mountinfo.
#[derive(Debug, Clone, Copy)]
pub struct MountLine<'a> {
    pub device: &'a [u8],
    pub root: &'a [u8],
    pub point: &'a [u8],
    pub options: &'a [u8],
    pub fstype: &'a [u8],
    pub source: &'a [u8],
}

impl<'a> MountLine<'a> {
    pub fn parse(line: &'a [u8]) -> Option<MountLine<'a>> {
        let mut f = line.split(|&b| b == b' ');
        let (_id, _parent) = (f.next()?, f.next()?);
        let device = f.next()?;
        let root = f.next()?;
        let point = f.next()?;
        let options = f.next()?;
        // Optional fields up to the separator.
        for field in f.by_ref() {
            if field == b"-" {
                break;
            }
        }
        let fstype = f.next()?;
        let source = f.next()?;
        Some(MountLine { device, root, point, options, fstype, source })
    }

    fn has(&self, option: &[u8]) -> bool {
        self.options.split(|&b| b == b',').any(|o| o == option)
    }

    pub fn read_only(&self) -> bool {
        self.has(b"ro")
    }
}

/// Finds out what a path inside the container really is (the init's file system).
pub trait Probe {
    /// Whether something exists at `path` (mountinfo-escaped).
    fn exists(&self, path: &[u8]) -> bool;
    /// The path, escaped as mountinfo shows it, that `path` resolves to through
    /// symlinks; its length in `out`.
    fn resolve(&self, path: &[u8], out: &mut [u8]) -> Option<usize>;
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MountCounts {
    pub planned: usize,
    pub docker: usize,
}

/// Room for the resolved targets of planned mounts not found where the plan says (a
/// target under a symlink in the image is mounted where the symlink leads).
const RESOLVED_ROOM: usize = 64 * 1024;

/// Every mount against the plan and docker's own. `strict` compares devices too (the
/// first start: hardrun planned moments ago; device numbers of a later restart may
/// have changed with a reboot).
pub fn mounts<'s>(
    spec: &Spec<'s>,
    mountinfo: &[u8],
    strict: bool,
    probe: &dyn Probe,
    resolved: &'s mut [u8; RESOLVED_ROOM],
    diffs: &mut Line,
) -> (bool, MountCounts) {
    let lines = || mountinfo.split(|&b| b == b'\n').filter_map(MountLine::parse);
    // Where each planned mount is: its own target, or where that target resolves.
    let mut at: [(usize, usize); MAX_MOUNTS] = [(0, 0); MAX_MOUNTS];
    let mut used = 0;
    for (i, m) in spec.mounts().enumerate().take(MAX_MOUNTS) {
        if lines().any(|l| l.point == m.target()) {
            at[i] = (usize::MAX, 0);
            continue;
        }
        match probe.resolve(m.target(), &mut resolved[used..]) {
            Some(n) => {
                at[i] = (used, n);
                used += n;
            }
            None => at[i] = (usize::MAX, 0),
        }
    }
    let resolved: &[u8] = resolved;
    let target_of = |i: usize, target: &'s [u8]| -> &'s [u8] {
        match at[i] {
            (usize::MAX, _) => target,
            (start, n) => &resolved[start..start + n],
        }
    };
    let mut seen = [false; MAX_MOUNTS];
    let mut counts = MountCounts::default();
    let mut root: Option<MountLine> = None;
    // Which of docker's masked and read-only paths have a mount.
    let mut protected = [false; MASKED.len() + READ_ONLY.len()];
    let dev_device = lines().rfind(|l| l.point == b"/dev").map(|l| l.device);
    for line in lines() {
        if line.point == b"/" {
            root = Some(line);
            continue;
        }
        if let Some(i) = MASKED.iter().chain(READ_ONLY.iter()).position(|p| *p == line.point) {
            protected[i] = true;
        }
        let mut planned = false;
        for (i, m) in spec.mounts().enumerate().take(MAX_MOUNTS) {
            if target_of(i, m.target()) == line.point {
                planned = true;
                seen[i] = true;
                planned_mount(&m, &line, strict, diffs);
            }
        }
        if planned {
            counts.planned += 1;
            continue;
        }
        match docker_mount(spec, &line, dev_device) {
            Standard::Yes => counts.docker += 1,
            Standard::Wrong(why) => {
                diffs.item();
                diffs.push_shown(line.point);
                diffs.push(b" is ");
                describe(diffs, &line);
                diffs.push(b": ");
                diffs.push(why.as_bytes());
            }
            Standard::No => {
                diffs.item();
                diffs.push(b"unexpected mount at ");
                diffs.push_shown(line.point);
                diffs.push(b" (");
                describe(diffs, &line);
                diffs.push(b")");
            }
        }
    }
    for (i, m) in spec.mounts().enumerate().take(MAX_MOUNTS) {
        if !seen[i] {
            diffs.item();
            diffs.push(b"the planned mount at ");
            diffs.push_shown(m.target());
            diffs.push(b" is missing");
        }
    }
    let root_read_only = root.is_some_and(|r| r.read_only());
    match root {
        None => {
            diffs.item();
            diffs.push(b"no root mount in /proc/self/mountinfo");
        }
        Some(_) if spec.root_read_only && !root_read_only => {
            diffs.item();
            diffs.push(b"the root filesystem is writable (the plan has it read-only)");
        }
        Some(_) => {}
    }
    // A system path docker hides or protects that shows without it.
    for (i, p) in MASKED.iter().chain(READ_ONLY.iter()).enumerate() {
        if !protected[i] && probe.exists(p) {
            diffs.item();
            diffs.push(p);
            diffs.push(if i < MASKED.len() { b" is not masked" } else { b" is not read-only" });
        }
    }
    (root_read_only, counts)
}

fn describe(out: &mut Line, l: &MountLine) {
    out.push_shown(l.fstype);
    out.push(b" ");
    out.push_shown(l.source);
    out.push(b" ");
    out.push_shown(l.root);
    out.push(b" on ");
    out.push(l.device);
    out.push(if l.read_only() { b" ro" } else { b" rw" });
}

fn planned_mount(m: &Mount, l: &MountLine, strict: bool, diffs: &mut Line) {
    let wrong = |diffs: &mut Line, why: &[u8]| {
        diffs.item();
        diffs.push_shown(l.point);
        diffs.push(b" is ");
        describe(diffs, l);
        diffs.push(b", ");
        diffs.push(why);
    };
    match *m {
        Mount::Bind { device, root, fstype, source, read_only, .. } => {
            let same = l.root == root && l.fstype == fstype && l.source == source && (!strict || l.device == device);
            if !same {
                diffs.item();
                diffs.push_shown(l.point);
                diffs.push(b" is ");
                describe(diffs, l);
                diffs.push(b", the plan binds ");
                diffs.push_shown(fstype);
                diffs.push(b" ");
                diffs.push_shown(source);
                diffs.push(b" ");
                diffs.push_shown(root);
                diffs.push(b" on ");
                diffs.push(device);
            } else if read_only && !l.read_only() {
                wrong(diffs, b"writable where the plan has it read-only");
            }
        }
        Mount::Volume { name, .. } => {
            let Some(rest) = l.root.strip_suffix(b"/_data") else {
                return wrong(diffs, b"not a volume of the daemon's");
            };
            let Some(slash) = rest.iter().rposition(|&b| b == b'/') else {
                return wrong(diffs, b"not a volume of the daemon's");
            };
            let (dir, got) = (&rest[..slash], &rest[slash + 1..]);
            let name_ok = match name {
                Some(n) => got == n,
                None => got.len() == 64 && got.iter().all(|b| b.is_ascii_hexdigit()),
            };
            if !dir.ends_with(b"/volumes") || !name_ok {
                wrong(diffs, b"not the planned volume");
            }
        }
        Mount::Filesystem { fstype, .. } => {
            if !l.fstype.starts_with(fstype) {
                wrong(diffs, b"another filesystem than the volume's");
            }
        }
        Mount::Tmpfs { exec, read_only, .. } => {
            if l.fstype != b"tmpfs" {
                wrong(diffs, b"not a tmpfs");
            } else if !l.has(b"nosuid") || !l.has(b"nodev") || (!exec && !l.has(b"noexec")) {
                wrong(diffs, b"missing nosuid, nodev or noexec");
            } else if read_only && !l.read_only() {
                wrong(diffs, b"writable where the plan has it read-only");
            }
        }
        Mount::Any { .. } => {}
    }
}

enum Standard {
    Yes,
    /// Docker's mount point, but not as docker makes it.
    Wrong(&'static str),
    No,
}

/// The mounts docker makes for every container.
fn docker_mount(spec: &Spec, l: &MountLine, dev_device: Option<&[u8]>) -> Standard {
    let want = |ok: bool, why: &'static str| if ok { Standard::Yes } else { Standard::Wrong(why) };
    let fstype = l.fstype;
    match l.point {
        b"/proc" => want(fstype == b"proc", "not procfs"),
        b"/dev" => want(fstype == b"tmpfs", "not a tmpfs"),
        b"/dev/pts" | b"/dev/console" => want(fstype == b"devpts", "not devpts"),
        b"/dev/mqueue" => want(fstype == b"mqueue", "not mqueue"),
        b"/dev/shm" => want(fstype == b"tmpfs", "not a tmpfs"),
        b"/sys" => want(fstype == b"sysfs" && l.read_only(), "not a read-only sysfs"),
        b"/sys/fs/cgroup" => want(
            fstype == b"tmpfs" || (fstype == b"cgroup2" && l.read_only()),
            "not docker's cgroup tmpfs or a read-only cgroup2",
        ),
        b"/etc/hosts" | b"/etc/hostname" | b"/etc/resolv.conf" => {
            want(daemon_file(l.root, &l.point[5..]), "not the daemon's file for this container")
        }
        b"/sbin/docker-init" if spec.docker_init => want(l.read_only(), "writable"),
        p if DEVICES.contains(&p) => want(l.root == &p[4..], "not the device of that name"),
        p if p.starts_with(b"/sys/fs/cgroup/") && !p[15..].contains(&b'/') => {
            want((fstype == b"cgroup" || fstype == b"cgroup2") && l.read_only(), "not a read-only cgroup")
        }
        p if READ_ONLY.contains(&p) => {
            want(fstype == b"proc" && l.read_only() && l.root == &p[5..], "not the read-only proc path")
        }
        p if MASKED.contains(&p) || MASKED_LATER.contains(&p) || thermal_throttle(p) => {
            let empty_dir = fstype == b"tmpfs" && l.read_only() && l.root == b"/";
            let null = l.root == b"/null" && (fstype == b"tmpfs" || fstype == b"devtmpfs");
            let null_here = null && dev_device.is_none_or(|d| fstype == b"devtmpfs" || l.device == d);
            want(empty_dir || null_here, "not masked")
        }
        _ => Standard::No,
    }
}

/// `/sys/devices/system/cpu/cpuN/thermal_throttle`, masked by newer docker versions.
fn thermal_throttle(p: &[u8]) -> bool {
    p.strip_prefix(b"/sys/devices/system/cpu/cpu")
        .and_then(|r| r.strip_suffix(b"/thermal_throttle"))
        .is_some_and(|n| !n.is_empty() && n.iter().all(u8::is_ascii_digit))
}

/// `.../containers/<64 hex>/NAME`: the file the daemon keeps for the container.
fn daemon_file(root: &[u8], name: &[u8]) -> bool {
    let Some(rest) = root.strip_suffix(name).and_then(|r| r.strip_suffix(b"/")) else { return false };
    let Some(slash) = rest.iter().rposition(|&b| b == b'/') else { return false };
    let id = &rest[slash + 1..];
    id.len() == 64 && id.iter().all(|b| b.is_ascii_hexdigit()) && rest[..slash].ends_with(b"/containers")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "b5cc0e1656ea00460dd0ab51169a385da3d353525be87b5d41569a9fd3d96202";

    /// A hardrun container's mountinfo as the development machine's kernel shows it.
    fn mountinfo(extra: &str) -> String {
        let cg = |n: u32, s: &str| {
            format!(
                "{n} 84 0:29 /docker/{ID} /sys/fs/cgroup/{s} ro,nosuid,nodev,noexec,relatime - cgroup cgroup rw,{s}\n"
            )
        };
        let mut m = String::from(
            "79 50 0:41 / / ro,noatime master:2 - fuse.fuse-overlayfs fuse-overlayfs rw,user_id=0\n\
             80 79 0:43 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n\
             81 79 0:44 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755\n\
             82 81 0:45 / /dev/pts rw,nosuid,noexec,relatime - devpts devpts rw,gid=5,mode=620,ptmxmode=666\n\
             83 79 0:46 / /sys ro,nosuid,nodev,noexec,relatime - sysfs sysfs ro\n\
             84 83 0:47 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - tmpfs tmpfs rw,mode=755\n",
        );
        for (n, s) in [(85, "cpu"), (86, "memory"), (87, "pids")] {
            m.push_str(&cg(n, s));
        }
        m.push_str(&format!(
            "94 81 0:42 / /dev/mqueue rw,nosuid,nodev,noexec,relatime - mqueue mqueue rw\n\
             95 81 0:48 / /dev/shm rw,nosuid,nodev,noexec,relatime - tmpfs shm rw,size=65536k\n\
             97 79 254:0 /srv/app/data /data rw,relatime - ext4 /dev/vda rw\n\
             99 79 0:49 / /tmp rw,nosuid,nodev,noexec,relatime - tmpfs tmpfs rw\n\
             100 79 254:0 /var/lib/docker/containers/{ID}/resolv.conf /etc/resolv.conf ro,relatime - ext4 /dev/vda rw\n\
             101 79 254:0 /var/lib/docker/containers/{ID}/hostname /etc/hostname ro,relatime - ext4 /dev/vda rw\n\
             102 79 254:0 /var/lib/docker/containers/{ID}/hosts /etc/hosts ro,relatime - ext4 /dev/vda rw\n\
             103 79 254:0 /root/.local/share/hardrun/init/x /.hardrun ro,relatime - ext4 /dev/vda rw\n\
             51 80 0:43 /bus /proc/bus ro,nosuid,nodev,noexec,relatime - proc proc rw\n\
             54 80 0:43 /sys /proc/sys ro,nosuid,nodev,noexec,relatime - proc proc rw\n\
             55 80 0:50 / /proc/acpi ro,relatime - tmpfs tmpfs ro\n\
             56 80 0:44 /null /proc/keys rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755\n\
             58 83 0:51 / /sys/firmware ro,relatime - tmpfs tmpfs ro\n"
        ));
        m.push_str(extra);
        m
    }

    const SPEC: &str = "hardrun-init 1\ncaps 400\nnnp\nseccomp\nuid 10001\ngid 10001\ngroups 10001\nroot ro\n\
        bind /data 254:0 /srv/app/data ext4 /dev/vda rw\ntmpfs /tmp noexec rw\n\
        bind /.hardrun 254:0 /root/.local/share/hardrun/init/x ext4 /dev/vda ro\n";

    /// A container file system where `/proc/keys` and the other paths exist.
    struct Files {
        existing: &'static [&'static str],
        links: &'static [(&'static str, &'static str)],
    }

    impl Probe for Files {
        fn exists(&self, path: &[u8]) -> bool {
            self.existing.iter().any(|p| p.as_bytes() == path)
        }
        fn resolve(&self, path: &[u8], out: &mut [u8]) -> Option<usize> {
            let (_, to) = self.links.iter().find(|(from, _)| from.as_bytes() == path)?;
            out[..to.len()].copy_from_slice(to.as_bytes());
            Some(to.len())
        }
    }

    const FILES: Files = Files { existing: &["/proc/keys", "/proc/sys", "/proc/acpi"], links: &[] };

    fn check(spec: &str, mountinfo: &str, strict: bool, probe: &Files) -> (String, MountCounts) {
        let spec = Spec::parse(spec.as_bytes()).unwrap();
        let mut diffs = Line::new();
        let mut room = Box::new([0u8; RESOLVED_ROOM]);
        let (_, counts) = mounts(&spec, mountinfo.as_bytes(), strict, probe, &mut room, &mut diffs);
        (String::from_utf8_lossy(diffs.bytes()).into_owned(), counts)
    }

    #[test]
    fn a_container_as_planned_passes() {
        let (diffs, counts) = check(SPEC, &mountinfo(""), true, &FILES);
        assert_eq!(diffs, "");
        assert_eq!(counts, MountCounts { planned: 3, docker: 18 });
    }

    #[test]
    fn a_bind_swapped_for_the_hosts_root_is_caught() {
        let m = mountinfo("").replace("254:0 /srv/app/data /data", "254:0 / /data");
        let (diffs, _) = check(SPEC, &m, true, &FILES);
        assert!(
            diffs.starts_with("/data is ext4 /dev/vda / on 254:0 rw, the plan binds ext4 /dev/vda /srv/app/data"),
            "{diffs}"
        );
    }

    #[test]
    fn devices_count_on_the_first_start_only() {
        let m = mountinfo("").replace("254:0 /srv/app/data", "254:7 /srv/app/data");
        assert!(check(SPEC, &m, true, &FILES).0.contains("on 254:7"));
        assert_eq!(check(SPEC, &m, false, &FILES).0, "");
    }

    #[test]
    fn extra_missing_and_weakened_mounts_are_each_named() {
        let m = mountinfo("120 79 254:0 / /host rw - ext4 /dev/vda rw\n")
            .replace("/tmp rw,nosuid,nodev,noexec,relatime", "/tmp rw,nosuid,nodev,relatime")
            .replace("ro,noatime master:2", "rw,noatime master:2")
            .replace("54 80 0:43 /sys /proc/sys ro,", "54 80 0:43 /sys /proc/sys rw,")
            .replace("56 80 0:44 /null /proc/keys", "56 80 0:44 /null /proc/nokeys")
            .replace("103 79 254:0 /root/.local/share/hardrun/init/x /.hardrun", "103 79 254:0 /x /elsewhere");
        let (diffs, _) = check(SPEC, &m, true, &FILES);
        for want in [
            "/tmp is tmpfs tmpfs / on 0:49 rw, missing nosuid, nodev or noexec",
            "/proc/sys is proc proc /sys on 0:43 rw: not the read-only proc path",
            "unexpected mount at /proc/nokeys",
            "unexpected mount at /host (ext4 /dev/vda / on 254:0 rw)",
            "unexpected mount at /elsewhere",
            "the planned mount at /.hardrun is missing",
            "the root filesystem is writable",
            "/proc/keys is not masked",
        ] {
            assert!(diffs.contains(want), "{want:?} not in {diffs}");
        }
    }

    #[test]
    fn targets_under_symlinks_are_found_where_they_lead() {
        let spec = format!("{SPEC}tmpfs /var/run noexec rw\n");
        let m = mountinfo("121 79 0:60 / /run rw,nosuid,nodev,noexec - tmpfs tmpfs rw\n");
        let probe = Files { existing: FILES.existing, links: &[("/var/run", "/run")] };
        assert_eq!(check(&spec, &m, true, &probe).0, "");
    }

    #[test]
    fn volumes_and_the_daemons_files_are_recognised() {
        let spec = format!("{SPEC}volume /v vol1\nvolume /anon -\n");
        let anon = "a".repeat(64);
        let m = mountinfo(&format!(
            "122 79 254:0 /var/lib/docker/volumes/vol1/_data /v rw - ext4 /dev/vda rw\n\
             123 79 254:0 /var/lib/docker/volumes/{anon}/_data /anon rw - ext4 /dev/vda rw\n"
        ));
        assert_eq!(check(&spec, &m, true, &FILES).0, "");
        let bad = m.replace("volumes/vol1/_data", "volumes/other/_data");
        assert!(check(&spec, &bad, true, &FILES).0.contains("not the planned volume"));
        let forged = mountinfo("").replace(&format!("containers/{ID}/hosts"), "home/x/hosts");
        assert!(check(SPEC, &forged, true, &FILES).0.contains("/etc/hosts is ext4"));
    }

    fn status_check(spec: &str, status: &str) -> String {
        let spec = Spec::parse(spec.as_bytes()).unwrap();
        let s = ProcessStatus::parse(status.as_bytes());
        let mut diffs = Line::new();
        process(&spec, &s, &mut diffs);
        String::from_utf8_lossy(diffs.bytes()).into_owned()
    }

    const STATUS: &str = "Uid:\t10001\t10001\t10001\t10001\nGid:\t10001\t10001\t10001\t10001\nGroups:\t10001\n\
        CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n\
        CapBnd:\t0000000000000400\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\n";

    #[test]
    fn credentials_as_planned_pass() {
        assert_eq!(status_check(SPEC, STATUS), "");
    }

    #[test]
    fn every_credential_difference_is_named() {
        let s = STATUS
            .replace("CapBnd:\t0000000000000400", "CapBnd:\t0000000000202400")
            .replace("CapEff:\t0000000000000000", "CapEff:\t0000000000002000")
            .replace("NoNewPrivs:\t1", "NoNewPrivs:\t0")
            .replace("Seccomp:\t2", "Seccomp:\t0")
            .replace("Uid:\t10001\t10001\t10001\t10001", "Uid:\t10001\t0\t10001\t10001")
            .replace("Groups:\t10001", "Groups:\t10001 0");
        let diffs = status_check(SPEC, &s);
        assert_eq!(
            diffs,
            "CapEff holds NET_RAW (the plan allows NET_BIND_SERVICE); \
             CapBnd holds NET_RAW,SYS_ADMIN (the plan allows NET_BIND_SERVICE); \
             NoNewPrivs is 0 (the plan sets no-new-privileges); Seccomp is mode 0, not 2 (filter); \
             Uid is 10001 0 10001 10001 (the plan has 10001); Groups is 10001 0 (the plan has 10001)"
        );
        let missing = status_check(SPEC, "Uid:\t1\t1\t1\t1\n");
        assert!(missing.contains("the capability sets could not be read"), "{missing}");
    }

    #[test]
    fn without_exact_ids_root_is_still_refused() {
        let spec = SPEC.replace("uid 10001\ngid 10001\ngroups 10001\n", "uid nonroot\ngid any\ngroups nonroot\n");
        assert_eq!(status_check(&spec, STATUS), "");
        let root = STATUS
            .replace("Uid:\t10001\t10001\t10001\t10001", "Uid:\t0\t0\t0\t0")
            .replace("Groups:\t10001", "Groups:\t0");
        let diffs = status_check(&spec, &root);
        assert!(diffs.contains("Uid is 0 0 0 0 (root") && diffs.contains("Groups includes 0"), "{diffs}");
    }

    #[test]
    fn apparmor_must_enforce_the_planned_profile() {
        let mut d = Line::new();
        apparmor(b"hardrun-default", Some(b"hardrun-default (enforce)\n"), &mut d);
        assert!(d.is_empty());
        apparmor(b"hardrun-default", Some(b"hardrun-default (complain)\n"), &mut d);
        apparmor(b"hardrun-default", Some(b"unconfined\n"), &mut d);
        apparmor(b"hardrun-default", None, &mut d);
        assert_eq!(d.bytes().split(|&b| b == b';').count(), 3);
    }

    #[test]
    fn host_namespaces_are_refused() {
        let spec = Spec::parse(b"hardrun-init 1\ncaps 0\nns net 4026531840\n").unwrap();
        let mut d = Line::new();
        namespace(&spec, b"net", Some(b"net:[4026532200]"), &mut d);
        namespace(&spec, b"pid", Some(b"pid:[4026532201]"), &mut d);
        assert!(d.is_empty());
        namespace(&spec, b"net", Some(b"net:[4026531840]"), &mut d);
        namespace(&spec, b"pid", Some(b"pid:[4026531836]"), &mut d);
        namespace(&spec, b"ipc", Some(b"bogus"), &mut d);
        assert_eq!(
            String::from_utf8_lossy(d.bytes()),
            "the process is in the host's net namespace; the process is in the host's pid namespace; \
             the ipc namespace could not be read"
        );
    }
}
