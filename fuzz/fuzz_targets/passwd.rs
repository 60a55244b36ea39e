//! User and group names resolved in an image's /etc/passwd and /etc/group. The input is
//! `SPEC \0 PASSWD \0 GROUP`. A second resolver here follows runc's (moby/sys/user's
//! GetExecUser): lines trimmed of white space, fields split at ':', ids read with Go's
//! `strconv.Atoi` (an unparsable id is 0), the first matching line wins.
//! Properties, for any spec and files:
//! - resolving ends without a panic;
//! - whatever hardrun accepts (`problem` finds nothing) is what runc would run: the
//!   same uid and gid, and not root. hardrun may refuse more (ambiguous files), never less.

#![no_main]

use hardrun_fuzz::image::facts::Contents;
use hardrun_fuzz::image::user::{problem, resolve};
use hardrun_fuzz::request::UserSpec;
use libfuzzer_sys::fuzz_target;

/// Go's `strconv.Atoi` as runc uses it, errors ignored: a syntax error reads as 0, a
/// value out of range as the nearest end of the range.
fn atoi(s: &str) -> i64 {
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return 0;
    }
    let mut v: i64 = 0;
    for b in digits.bytes() {
        match v.checked_mul(10).and_then(|v| v.checked_add(i64::from(b - b'0'))) {
            Some(n) => v = n,
            None => return if negative { i64::MIN } else { i64::MAX },
        }
    }
    if negative { -v } else { v }
}

fn is_atoi_number(s: &str) -> bool {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// The lines bufio.Scanner gives runc, trimmed, empty ones dropped.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l).trim()).filter(|l| !l.is_empty())
}

/// (name, uid, gid) of each passwd line, as runc reads it.
fn passwd(text: &str) -> Vec<(&str, i64, i64)> {
    lines(text)
        .map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f[0], f.get(2).map_or(0, |v| atoi(v)), f.get(3).map_or(0, |v| atoi(v)))
        })
        .collect()
}

/// (name, gid) of each group line, as runc reads it.
fn groups(text: &str) -> Vec<(&str, i64)> {
    lines(text)
        .map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f[0], f.get(2).map_or(0, |v| atoi(v)))
        })
        .collect()
}

const MAX_ID: i64 = (1 << 31) - 1;

/// The uid and gid runc runs `spec` as, or `None` when it refuses to start.
fn runc(spec: &str, passwd_text: Option<&str>, group_text: Option<&str>) -> Option<(i64, i64)> {
    let mut parts = spec.split(':');
    let user = parts.next().unwrap_or_default();
    let group = parts.next().unwrap_or_default();
    let users = passwd_text.map(passwd).unwrap_or_default();
    let matched = if is_atoi_number(user) {
        users.iter().find(|u| u.1 == atoi(user))
    } else {
        users.iter().find(|u| u.0 == user)
    };
    let (uid, mut gid) = match matched {
        Some(u) => (u.1, u.2),
        None if is_atoi_number(user) && (0..=MAX_ID).contains(&atoi(user)) => (atoi(user), 0),
        None => return None,
    };
    if !group.is_empty() {
        let all = group_text.map(groups).unwrap_or_default();
        let found = if is_atoi_number(group) {
            all.iter().find(|g| g.1 == atoi(group))
        } else {
            all.iter().find(|g| g.0 == group)
        };
        gid = match found {
            Some(g) => g.1,
            None if is_atoi_number(group) && (0..=MAX_ID).contains(&atoi(group)) => atoi(group),
            None => return None,
        };
    }
    Some((uid, gid))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut parts = text.splitn(3, '\0');
    let spec = parts.next().unwrap_or_default();
    let passwd_text = parts.next();
    let group_text = parts.next();
    // A line past bufio.Scanner's 64 KiB limit makes runc fail to start the container.
    if text.split('\n').any(|l| l.len() > 60_000) {
        return;
    }
    let Ok(user) = UserSpec::parse(spec) else { return };
    let contents = Contents {
        executables: vec![],
        passwd: passwd_text.map(str::to_string),
        group: group_text.map(str::to_string),
    };
    let resolved = resolve(&user, Some(&contents));
    let accepted = problem(&user, Some(&contents), false).is_none();
    if !accepted {
        return;
    }
    let Ok(ids) = resolved else {
        // Numbers alone need no lookup; only a name that resolves is accepted.
        assert!(!hardrun_fuzz::image::user::has_names(&user), "{spec:?} accepted without resolving");
        return;
    };
    let Some((uid, gid)) = runc(spec, passwd_text, group_text) else { return };
    assert_eq!(
        (i64::from(ids.uid), i64::from(ids.gid.unwrap_or(0))),
        (uid, gid),
        "{spec:?} with passwd {passwd_text:?} and group {group_text:?}: hardrun and runc disagree"
    );
    if hardrun_fuzz::image::user::has_names(&user) {
        assert!(uid != 0, "{spec:?} accepted, but runc runs it as root");
    }
});
