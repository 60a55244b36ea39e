//! The fields of `/proc/self/status` that say what the process may do: its credentials,
//! capability sets, no-new-privileges and seccomp mode.

/// Most supplementary groups kept; more than this is reported as a difference.
pub const MAX_GROUPS: usize = 64;

/// The five capability sets, as bit masks (bit N is capability N).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapabilitySets {
    pub effective: u64,
    pub permitted: u64,
    pub bounding: u64,
    pub ambient: u64,
    pub inheritable: u64,
}

impl CapabilitySets {
    /// Each set with its name in /proc/self/status and its key in the init's report.
    pub fn each(&self) -> [(&'static [u8], &'static [u8], u64); 5] {
        [
            (b"CapEff", b"eff", self.effective),
            (b"CapPrm", b"prm", self.permitted),
            (b"CapBnd", b"bnd", self.bounding),
            (b"CapAmb", b"amb", self.ambient),
            (b"CapInh", b"inh", self.inheritable),
        ]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessStatus {
    /// Real, effective, saved and filesystem ids.
    pub uid: [u32; 4],
    pub gid: [u32; 4],
    pub groups: [u32; MAX_GROUPS],
    pub group_count: usize,
    /// More groups than [`MAX_GROUPS`].
    pub groups_cut: bool,
    pub caps: CapabilitySets,
    pub no_new_privs: bool,
    /// 0 off, 1 strict, 2 filter.
    pub seccomp: u32,
    /// Which of the lines above were found and understood (a field missing from the
    /// kernel's answer is a difference, never a default).
    pub seen: u32,
}

pub const SEEN_UID: u32 = 1;
pub const SEEN_GID: u32 = 1 << 1;
pub const SEEN_GROUPS: u32 = 1 << 2;
pub const SEEN_CAPS: u32 = 1 << 3;
pub const SEEN_NNP: u32 = 1 << 4;
pub const SEEN_SECCOMP: u32 = 1 << 5;
const CAP_LINES: u32 = 0b11111 << 8;

impl ProcessStatus {
    pub fn parse(text: &[u8]) -> ProcessStatus {
        let mut s = ProcessStatus {
            uid: [0; 4],
            gid: [0; 4],
            groups: [0; MAX_GROUPS],
            group_count: 0,
            groups_cut: false,
            caps: CapabilitySets::default(),
            no_new_privs: false,
            seccomp: 0,
            seen: 0,
        };
        for line in text.split(|&b| b == b'\n') {
            let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
            let (key, value) = (&line[..colon], trim(&line[colon + 1..]));
            match key {
                b"Uid" => s.seen |= ids(value, &mut s.uid) * SEEN_UID,
                b"Gid" => s.seen |= ids(value, &mut s.gid) * SEEN_GID,
                b"Groups" => {
                    s.seen |= SEEN_GROUPS;
                    for g in value.split(|&b| b == b' ' || b == b'\t').filter(|g| !g.is_empty()) {
                        match (decimal(g), s.group_count < MAX_GROUPS) {
                            (Some(id), true) => {
                                s.groups[s.group_count] = id;
                                s.group_count += 1;
                            }
                            (Some(_), false) => s.groups_cut = true,
                            (None, _) => s.seen &= !SEEN_GROUPS,
                        }
                    }
                }
                b"CapInh" => s.seen |= cap(value, &mut s.caps.inheritable) << 8,
                b"CapPrm" => s.seen |= cap(value, &mut s.caps.permitted) << 9,
                b"CapEff" => s.seen |= cap(value, &mut s.caps.effective) << 10,
                b"CapBnd" => s.seen |= cap(value, &mut s.caps.bounding) << 11,
                b"CapAmb" => s.seen |= cap(value, &mut s.caps.ambient) << 12,
                b"NoNewPrivs" => {
                    if let Some(v) = decimal(value) {
                        s.no_new_privs = v == 1;
                        s.seen |= SEEN_NNP;
                    }
                }
                b"Seccomp" => {
                    if let Some(v) = decimal(value) {
                        s.seccomp = v;
                        s.seen |= SEEN_SECCOMP;
                    }
                }
                _ => {}
            }
        }
        if s.seen & CAP_LINES == CAP_LINES {
            s.seen |= SEEN_CAPS;
        }
        s
    }

    pub fn groups(&self) -> &[u32] {
        &self.groups[..self.group_count]
    }
}

fn trim(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t' | b'\r'] = v {
        v = rest;
    }
    v
}

/// Four whitespace-separated ids; 1 when all four parsed.
fn ids(value: &[u8], into: &mut [u32; 4]) -> u32 {
    let mut n = 0;
    for part in value.split(|&b| b == b' ' || b == b'\t').filter(|p| !p.is_empty()) {
        match (decimal(part), n < 4) {
            (Some(id), true) => {
                into[n] = id;
                n += 1;
            }
            _ => return 0,
        }
    }
    u32::from(n == 4)
}

fn cap(value: &[u8], into: &mut u64) -> u32 {
    if value.is_empty() || value.len() > 16 {
        return 0;
    }
    let mut v = 0u64;
    for &b in value {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return 0,
        };
        v = (v << 4) | u64::from(d);
    }
    *into = v;
    1
}

pub fn decimal(v: &[u8]) -> Option<u32> {
    if v.is_empty() || v.len() > 10 {
        return None;
    }
    let mut n = 0u64;
    for &b in v {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(b - b'0');
    }
    u32::try_from(n).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const STATUS: &[u8] = b"Name:\tsh\nUmask:\t0022\nState:\tR (running)\nTgid:\t1\nPid:\t1\n\
        Uid:\t10001\t10001\t10001\t10001\nGid:\t10001\t10001\t10001\t10001\nFDSize:\t64\nGroups:\t10001 \n\
        NStgid:\t1\nCapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n\
        CapBnd:\t0000000000000400\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\nSeccomp_filters:\t1\n";

    #[test]
    fn reads_a_real_status() {
        let s = ProcessStatus::parse(STATUS);
        assert_eq!(s.uid, [10001; 4]);
        assert_eq!(s.gid, [10001; 4]);
        assert_eq!(s.groups(), [10001]);
        assert_eq!(s.caps, CapabilitySets { bounding: 0x400, ..Default::default() });
        assert!(s.no_new_privs);
        assert_eq!(s.seccomp, 2);
        assert_eq!(s.seen, SEEN_UID | SEEN_GID | SEEN_GROUPS | SEEN_CAPS | SEEN_NNP | SEEN_SECCOMP | CAP_LINES);
    }

    #[test]
    fn missing_or_odd_fields_are_not_seen() {
        let s = ProcessStatus::parse(b"Uid:\t1\t2\t3\nCapEff:\tzz\nGroups:\t\n");
        assert_eq!(s.seen & SEEN_UID, 0);
        assert_eq!(s.seen & SEEN_CAPS, 0);
        assert_eq!(s.seen & SEEN_NNP, 0);
        assert_eq!(s.seen & SEEN_GROUPS, SEEN_GROUPS);
        assert!(s.groups().is_empty());
    }
}
