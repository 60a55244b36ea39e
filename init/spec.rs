//! The expectations hardrun hands the init: one argument, one record per line, fields
//! separated by single spaces. Paths are escaped as the kernel escapes them in
//! mountinfo (space, tab, newline and backslash as `\ooo`), so they compare byte for
//! byte with what the kernel shows and never contain a separator.
//!
//! ```text
//! hardrun-init 1                   first line, the version of this format
//! report NAME                      FIFO in the init's folder to report the verdict on
//! caps HEX                         every capability set within this mask
//! nnp                              no-new-privileges must be set
//! seccomp                          seccomp must be in filter mode
//! uid N | uid nonroot              all four uids
//! gid N | gid any                  all four gids
//! groups N,N... | groups nonroot   the supplementary groups, exactly (or none is 0);
//!                                  unchecked without the record (an allowed root)
//! apparmor NAME                    attr/current must be NAME (enforce)
//! root ro                          the root filesystem must be read-only
//! ns KIND INODE                    a host namespace the process must not be in
//! docker-init                      docker's --init runs the init (as PID 1's child)
//! bind TARGET DEV ROOT FSTYPE SOURCE ro|rw    a bind: device, root in that filesystem
//! volume TARGET NAME|-             a volume of the daemon's (`-` anonymous)
//! fs TARGET FSTYPE                 a volume whose driver mounts a filesystem
//! tmpfs TARGET exec|noexec ro|rw   a tmpfs
//! any TARGET                       a mount hardrun cannot predict more of
//! ```

use super::status::decimal;

pub const MAGIC: &[u8] = b"hardrun-init 1";
/// Mount records at most (mounts beyond this are refused by hardrun before create).
pub const MAX_MOUNTS: usize = 256;
pub const MAX_GROUPS: usize = 64;
pub const MAX_NAMESPACES: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Id {
    Exact(u32),
    NonRoot,
    Any,
}

/// The supplementary groups allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
// Inline on purpose: the init has no allocator.
#[allow(clippy::large_enum_variant)]
pub enum Groups {
    /// Not checked (a root user the profile allows).
    Any,
    /// None of them may be 0.
    NonRoot,
    /// Exactly these (the first `usize` of the array).
    Exact([u32; MAX_GROUPS], usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mount<'a> {
    Bind { target: &'a [u8], device: &'a [u8], root: &'a [u8], fstype: &'a [u8], source: &'a [u8], read_only: bool },
    Volume { target: &'a [u8], name: Option<&'a [u8]> },
    Filesystem { target: &'a [u8], fstype: &'a [u8] },
    Tmpfs { target: &'a [u8], exec: bool, read_only: bool },
    Any { target: &'a [u8] },
}

impl<'a> Mount<'a> {
    pub fn target(&self) -> &'a [u8] {
        match *self {
            Mount::Bind { target, .. }
            | Mount::Volume { target, .. }
            | Mount::Filesystem { target, .. }
            | Mount::Tmpfs { target, .. }
            | Mount::Any { target } => target,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Spec<'a> {
    pub report: Option<&'a [u8]>,
    pub caps: u64,
    pub no_new_privs: bool,
    pub seccomp: bool,
    pub uid: Id,
    pub gid: Id,
    pub groups: Groups,
    pub apparmor: Option<&'a [u8]>,
    pub root_read_only: bool,
    pub host_namespaces: [(&'a [u8], u64); MAX_NAMESPACES],
    pub namespace_count: usize,
    pub docker_init: bool,
    /// The whole text; mount records are read from it as they are needed.
    text: &'a [u8],
    pub mount_count: usize,
}

impl<'a> Spec<'a> {
    /// Reads and checks every record; the error names the first one not understood.
    pub fn parse(text: &'a [u8]) -> Result<Spec<'a>, &'a [u8]> {
        let mut lines = text.split(|&b| b == b'\n');
        if lines.next() != Some(MAGIC) {
            return Err(text.split(|&b| b == b'\n').next().unwrap_or(b""));
        }
        let mut spec = Spec {
            report: None,
            caps: 0,
            no_new_privs: false,
            seccomp: false,
            uid: Id::NonRoot,
            gid: Id::Any,
            groups: Groups::Any,
            apparmor: None,
            root_read_only: false,
            host_namespaces: [(b"", 0); MAX_NAMESPACES],
            namespace_count: 0,
            docker_init: false,
            text,
            mount_count: 0,
        };
        let mut caps_seen = false;
        for line in lines.filter(|l| !l.is_empty()) {
            let mut f = line.split(|&b| b == b' ');
            let key = f.next().unwrap_or(b"");
            let mut fields = [&b""[..]; 6];
            let mut n = 0;
            for part in f {
                if n == fields.len() {
                    return Err(line);
                }
                fields[n] = part;
                n += 1;
            }
            let ok = match (key, n) {
                (b"report", 1) => {
                    spec.report = Some(fields[0]);
                    true
                }
                (b"caps", 1) => {
                    caps_seen = true;
                    hex(fields[0]).map(|m| spec.caps = m).is_some()
                }
                (b"nnp", 0) => {
                    spec.no_new_privs = true;
                    true
                }
                (b"seccomp", 0) => {
                    spec.seccomp = true;
                    true
                }
                (b"uid", 1) => id(fields[0], b"nonroot", Id::NonRoot).map(|i| spec.uid = i).is_some(),
                (b"gid", 1) => id(fields[0], b"any", Id::Any).map(|i| spec.gid = i).is_some(),
                (b"groups", 1) if fields[0] == b"nonroot" => {
                    spec.groups = Groups::NonRoot;
                    true
                }
                (b"groups", 1) => {
                    let mut list = [0u32; MAX_GROUPS];
                    let mut count = 0;
                    let mut good = true;
                    for g in fields[0].split(|&b| b == b',').filter(|g| !g.is_empty()) {
                        match decimal(g) {
                            Some(v) if count < MAX_GROUPS => {
                                list[count] = v;
                                count += 1;
                            }
                            _ => good = false,
                        }
                    }
                    spec.groups = Groups::Exact(list, count);
                    good
                }
                (b"apparmor", 1) => {
                    spec.apparmor = Some(fields[0]);
                    true
                }
                (b"root", 1) if fields[0] == b"ro" => {
                    spec.root_read_only = true;
                    true
                }
                (b"ns", 2) if spec.namespace_count < MAX_NAMESPACES => match decimal64(fields[1]) {
                    Some(inode) => {
                        spec.host_namespaces[spec.namespace_count] = (fields[0], inode);
                        spec.namespace_count += 1;
                        true
                    }
                    None => false,
                },
                (b"docker-init", 0) => {
                    spec.docker_init = true;
                    true
                }
                _ => match mount(key, &fields[..n]) {
                    Some(_) if spec.mount_count < MAX_MOUNTS => {
                        spec.mount_count += 1;
                        true
                    }
                    _ => false,
                },
            };
            if !ok {
                return Err(line);
            }
        }
        if !caps_seen {
            return Err(b"caps");
        }
        Ok(spec)
    }

    /// The mount records, in order (their index is stable).
    pub fn mounts(&self) -> impl Iterator<Item = Mount<'a>> + 'a {
        self.text.split(|&b| b == b'\n').filter_map(|line| {
            let mut f = line.split(|&b| b == b' ');
            let key = f.next()?;
            let mut fields = [&b""[..]; 6];
            let mut n = 0;
            for part in f {
                if n == fields.len() {
                    return None;
                }
                fields[n] = part;
                n += 1;
            }
            mount(key, &fields[..n])
        })
    }

    pub fn host_namespaces(&self) -> &[(&'a [u8], u64)] {
        &self.host_namespaces[..self.namespace_count]
    }
}

fn mount<'a>(key: &[u8], f: &[&'a [u8]]) -> Option<Mount<'a>> {
    let flag = |v: &[u8], yes: &[u8], no: &[u8]| match v {
        v if v == yes => Some(true),
        v if v == no => Some(false),
        _ => None,
    };
    match (key, f.len()) {
        (b"bind", 6) => Some(Mount::Bind {
            target: f[0],
            device: f[1],
            root: f[2],
            fstype: f[3],
            source: f[4],
            read_only: flag(f[5], b"ro", b"rw")?,
        }),
        (b"volume", 2) => Some(Mount::Volume { target: f[0], name: (f[1] != b"-").then_some(f[1]) }),
        (b"fs", 2) => Some(Mount::Filesystem { target: f[0], fstype: f[1] }),
        (b"tmpfs", 3) => Some(Mount::Tmpfs {
            target: f[0],
            exec: flag(f[1], b"exec", b"noexec")?,
            read_only: flag(f[2], b"ro", b"rw")?,
        }),
        (b"any", 1) => Some(Mount::Any { target: f[0] }),
        _ => None,
    }
}

fn id(v: &[u8], word: &[u8], named: Id) -> Option<Id> {
    if v == word { Some(named) } else { decimal(v).map(Id::Exact) }
}

fn hex(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 16 {
        return None;
    }
    let mut n = 0u64;
    for &b in v {
        let d = (b as char).to_digit(16)?;
        n = (n << 4) | u64::from(d);
    }
    Some(n)
}

fn decimal64(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0u64, |n, &b| n * 10 + u64::from(b - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &[u8] = b"hardrun-init 1\nreport v-0123\ncaps 400\nnnp\nseccomp\nuid 65532\ngid 65532\n\
        groups 65532,5\nroot ro\nns net 4026531833\ndocker-init\n\
        bind /data 254:0 /srv/app/data ext4 /dev/vda rw\nvolume /v -\nvolume /cache cachevol\n\
        fs /nfs nfs4\ntmpfs /tmp noexec rw\nany /sbin/docker-init\n";

    #[test]
    fn reads_every_record() {
        let s = Spec::parse(SPEC).unwrap();
        assert_eq!(s.report, Some(&b"v-0123"[..]));
        assert_eq!(s.caps, 0x400);
        assert!(s.no_new_privs && s.seccomp && s.root_read_only && s.docker_init);
        assert_eq!((s.uid, s.gid), (Id::Exact(65532), Id::Exact(65532)));
        let Groups::Exact(groups, n) = s.groups else { panic!("{:?}", s.groups) };
        assert_eq!(&groups[..n], [65532, 5]);
        assert_eq!(s.host_namespaces(), [(&b"net"[..], 4026531833)]);
        let mounts: Vec<Mount> = s.mounts().collect();
        assert_eq!(mounts.len(), 6);
        assert_eq!(s.mount_count, 6);
        assert_eq!(
            mounts[0],
            Mount::Bind {
                target: b"/data",
                device: b"254:0",
                root: b"/srv/app/data",
                fstype: b"ext4",
                source: b"/dev/vda",
                read_only: false
            }
        );
        assert_eq!(mounts[1], Mount::Volume { target: b"/v", name: None });
        assert_eq!(mounts[4], Mount::Tmpfs { target: b"/tmp", exec: false, read_only: false });
    }

    #[test]
    fn anything_not_understood_is_named() {
        assert_eq!(Spec::parse(b"hardrun-init 2\ncaps 0").unwrap_err(), b"hardrun-init 2");
        assert_eq!(Spec::parse(b"hardrun-init 1\ncaps 0\nbind /x").unwrap_err(), b"bind /x");
        assert_eq!(Spec::parse(b"hardrun-init 1\ncaps 0\nuid root").unwrap_err(), b"uid root");
        assert_eq!(Spec::parse(b"hardrun-init 1\nnnp").unwrap_err(), b"caps");
        assert_eq!(Spec::parse(b"hardrun-init 1\ncaps 0\nnnp 1").unwrap_err(), b"nnp 1");
    }
}
