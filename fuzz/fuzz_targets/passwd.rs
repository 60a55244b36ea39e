//! User and group names resolved in an image's /etc/passwd and /etc/group. The input is
//! `SPEC [\n GROUP-ADD...] \0 PASSWD \0 GROUP`. A second resolver here follows runc's
//! (moby/sys/user's GetExecUser and GetAdditionalGroups): lines trimmed of white space,
//! fields split at ':', ids read with Go's `strconv.Atoi` (an unparsable id is 0), the
//! first matching line wins, a user without a group gets every group listing it.
//! Properties, for any spec, `--group-add` values and files:
//! - resolving ends without a panic;
//! - whatever hardrun resolves is what runc would run the original spec as: the same
//!   uid, gid and supplementary groups. hardrun may refuse more (files runc versions read
//!   differently), never read a file another way.

#![no_main]

use std::collections::BTreeSet;

use hardrun_fuzz::image::facts::Contents;
use hardrun_fuzz::image::user::resolve;
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

/// (name, gid, members) of each group line, as runc reads it.
fn groups(text: &str) -> Vec<(&str, i64, Vec<&str>)> {
    lines(text)
        .map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            let members = f.get(3).map_or_else(Vec::new, |m| m.split(',').collect());
            (f[0], f.get(2).map_or(0, |v| atoi(v)), members)
        })
        .collect()
}

const MAX_ID: i64 = (1 << 31) - 1;

/// What runc runs `spec` with `--group-add` values as: uid, gid and supplementary
/// groups, or `None` when it refuses to start.
fn runc(spec: &str, group_add: &[&str], passwd_text: Option<&str>, group_text: Option<&str>) -> Option<Ids> {
    let mut parts = spec.split(':');
    let user = parts.next().unwrap_or_default();
    let group = parts.next().unwrap_or_default();
    let users = passwd_text.map(passwd).unwrap_or_default();
    let all_groups = group_text.map(groups).unwrap_or_default();
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
    let mut supplementary = BTreeSet::new();
    if !group.is_empty() {
        let found = if is_atoi_number(group) {
            all_groups.iter().find(|g| g.1 == atoi(group))
        } else {
            all_groups.iter().find(|g| g.0 == group)
        };
        gid = match found {
            Some(g) => g.1,
            None if is_atoi_number(group) && (0..=MAX_ID).contains(&atoi(group)) => atoi(group),
            None => return None,
        };
    } else if let Some(u) = matched {
        // Without a group, every group line listing the user adds a supplementary group.
        supplementary.extend(all_groups.iter().filter(|g| g.2.contains(&u.0)).map(|g| g.1));
    }
    // The daemon's GetAdditionalGroups: a name or a gid as written, else a number.
    for value in group_add {
        let found = all_groups.iter().find(|g| g.0 == *value || g.1.to_string() == *value);
        let gid = match found {
            Some(g) => g.1,
            None => {
                let n: i64 = value.parse().ok()?;
                if !(0..=MAX_ID).contains(&n) {
                    return None;
                }
                n
            }
        };
        supplementary.insert(gid);
    }
    Some(Ids { uid, gid, supplementary })
}

#[derive(Debug, PartialEq, Eq)]
struct Ids {
    uid: i64,
    gid: i64,
    supplementary: BTreeSet<i64>,
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut parts = text.splitn(4, '\0');
    let (spec, group_add) = {
        let head = parts.next().unwrap_or_default();
        let mut fields = head.split('\n');
        (fields.next().unwrap_or_default(), fields.filter(|g| !g.is_empty()).collect::<Vec<&str>>())
    };
    let passwd_text = parts.next();
    let group_text = parts.next();
    // A line past bufio.Scanner's 64 KiB limit makes runc fail to start the container.
    if text.split('\n').any(|l| l.len() > 60_000) {
        return;
    }
    let Ok(user) = UserSpec::parse(spec) else { return };
    // Root by number is refused by policy whatever the files say (and runc reads a line
    // with a missing id field as id 0), so there is nothing to compare.
    let root = |s: &str| is_atoi_number(s) && atoi(s) == 0;
    if root(&user.user) || user.group.as_deref().is_some_and(root) || group_add.iter().any(|g| root(g)) {
        return;
    }
    let files = Contents {
        passwd: passwd_text.map(str::to_string),
        group: group_text.map(str::to_string),
        ..Contents::default()
    };
    let owned: Vec<String> = group_add.iter().map(|g| g.to_string()).collect();
    let Ok(identity) = resolve(&user, &owned, Some(&files)) else { return };
    // Names runc cannot find make it refuse to start: they grant nothing.
    if !identity.unknown_groups.is_empty() {
        return;
    }
    let Some(runc) = runc(spec, &group_add, passwd_text, group_text) else {
        panic!("hardrun resolves {spec:?} (+{group_add:?}) to {identity:?}; runc refuses it");
    };
    let hardrun = Ids {
        uid: i64::from(identity.uid),
        gid: i64::from(identity.gid),
        supplementary: identity.groups.iter().map(|&g| i64::from(g)).collect(),
    };
    assert_eq!(
        hardrun, runc,
        "{spec:?} +{group_add:?} with passwd {passwd_text:?} and group {group_text:?}: hardrun and runc disagree"
    );
});
