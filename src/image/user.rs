//! User and group names mean whatever the image's /etc/passwd and /etc/group say, read
//! the way the daemon reads them (runc's libcontainer/user lookup, which the daemon uses
//! to turn `Config.User` and `HostConfig.GroupAdd` into ids):
//!
//! - each passwd line is trimmed of surrounding white space; blank lines are skipped;
//!   fields are split on `:`; an id that is not a number is read as 0;
//! - a numeric user is a uid (matched against passwd only for its group and name), a name
//!   is the first line of that name; a numeric group is a gid, a name the first group line
//!   of that name; without a group, the user's passwd group is the gid and every group
//!   line listing the user is a supplementary group;
//! - a `--group-add` value matches the first group line whose name *or* gid is that value
//!   (so `--group-add 2000` is gid 0 if a group is *named* 2000 with gid 0), and is taken
//!   as a number when none does.
//!
//! runc versions differ at the edges (whether group lines are trimmed, whether `#` lines
//! are comments), so a line that any of them could match must be unambiguous: no
//! surrounding white space, no `#`, ids written plainly. A name given twice is refused.
//! The result is sent as numbers, and each number is checked to mean itself again when the
//! daemon looks it up.

use crate::request::UserSpec;

use super::facts::Contents;

/// The largest id runc accepts (`1<<31 - 1`, for 32-bit systems).
pub const MAX_ID: u32 = (1 << 31) - 1;

/// Where the primary group came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupSource {
    /// `user:group`.
    Explicit,
    /// The user's line in /etc/passwd.
    Passwd,
    /// Neither: runc's default, gid 0.
    Default,
}

/// What a user spec and `--group-add` values come to inside the image, in numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
    pub gid_source: GroupSource,
    /// Supplementary groups: the group lines that list the user (when no group was
    /// given), then the `--group-add` groups; without repeats.
    pub groups: Vec<u32>,
    /// Of `groups`, the ones that came from group lines listing the user.
    pub member_of: Vec<u32>,
    /// Each `--group-add` value that resolved, with its gid.
    pub added: Vec<(String, u32)>,
    /// `--group-add` names no reading of /etc/group knows: runc refuses to start with
    /// them, so they grant nothing.
    pub unknown_groups: Vec<String>,
}

impl Identity {
    /// `uid:gid`, as hardrun sends it.
    pub fn user_spec(&self) -> String {
        format!("{}:{}", self.uid, self.gid)
    }
}

/// Why names cannot be turned into ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupError {
    /// hardrun did not read the image's files (no daemon yet).
    NotRead,
    /// The image has no such file.
    NoFile(&'static str),
    NoUser(String),
    NoGroup(String),
    /// The file could be read more than one way.
    Ambiguous(String),
    OutOfRange(String),
}

impl std::fmt::Display for LookupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LookupError::NotRead => f.write_str("the image's /etc/passwd and /etc/group were not read"),
            LookupError::NoFile(file) => write!(f, "the image has no /etc/{file}"),
            LookupError::NoUser(name) => write!(f, "the image's /etc/passwd has no user {name:?}"),
            LookupError::NoGroup(name) => write!(f, "the image's /etc/group has no group {name:?}"),
            LookupError::Ambiguous(why) => f.write_str(why),
            LookupError::OutOfRange(what) => write!(f, "{what} is out of the range runc accepts (0 to {MAX_ID})"),
        }
    }
}

/// Whether resolving `spec` and `group_add` needs the image's files: names do, a user
/// without a group does (its passwd group and memberships), and `--group-add` does (a
/// group may be *named* like a number).
pub fn needs_files(spec: &UserSpec, group_add: &[String]) -> bool {
    has_names(spec) || spec.group.is_none() || !group_add.is_empty()
}

/// Whether the spec holds a name the image must resolve.
pub fn has_names(spec: &UserSpec) -> bool {
    atoi(&spec.user).is_none() || spec.group.as_deref().is_some_and(|g| atoi(g).is_none())
}

/// A number as Go's `strconv.Atoi` reads it: optional sign, decimal digits, within i64.
fn atoi(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok()
}

/// An id as runc reads an id field: not a number is 0.
fn field_id(s: &str) -> i64 {
    atoi(s).unwrap_or(0)
}

/// An id written plainly: digits, no sign or leading zero, within runc's range.
fn plain_id(s: &str) -> Option<u32> {
    let plain = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    s.parse::<u32>().ok().filter(|n| plain && *n <= MAX_ID)
}

/// One line of a passwd or group file, as each runc version could read it.
struct Line<'a> {
    raw: &'a str,
    trimmed: &'a str,
}

impl<'a> Line<'a> {
    fn all(text: &'a str) -> impl Iterator<Item = Line<'a>> {
        text.lines().map(|raw| Line { raw, trimmed: raw.trim() }).filter(|l| !l.trimmed.is_empty())
    }

    /// The line's fields as read trimmed and untrimmed.
    fn readings(&self) -> [Vec<&'a str>; 2] {
        [self.trimmed.split(':').collect(), self.raw.split(':').collect()]
    }

    /// Whether every reader reads it the same and plainly: no white space around it,
    /// not a comment, and the id fields (`ids`, by position) written plainly.
    fn unambiguous(&self, ids: &[usize]) -> Result<(), String> {
        let shown = crate::sanitize::escape(self.raw);
        if self.raw != self.trimmed {
            return Err(format!("its line {shown:?} has white space around it, which runc versions read differently"));
        }
        if self.trimmed.starts_with('#') {
            return Err(format!("its line {shown:?} is a comment to some runc versions and an entry to others"));
        }
        let fields: Vec<&str> = self.trimmed.split(':').collect();
        for &i in ids {
            let field = fields.get(i).copied().unwrap_or("");
            if plain_id(field).is_none() {
                return Err(format!(
                    "its line {shown:?} has the id {:?}, which runc reads as {}",
                    crate::sanitize::escape(field),
                    field_id(field)
                ));
            }
        }
        Ok(())
    }
}

/// The first line any reader would match, checked to be read the same by all.
fn first_match<'a>(
    text: &'a str,
    file: &str,
    ids: &[usize],
    matches: impl Fn(&[&str]) -> bool,
) -> Result<Option<Vec<&'a str>>, String> {
    let Some(line) = Line::all(text).find(|l| l.readings().iter().any(|f| matches(f))) else {
        return Ok(None);
    };
    line.unambiguous(ids).map_err(|e| format!("the image's /etc/{file} is ambiguous: {e}"))?;
    Ok(Some(line.trimmed.split(':').collect()))
}

/// Refuses a name given on more than one line (whichever reader counts them).
fn unique_name(text: &str, file: &str, name: &str) -> Result<(), LookupError> {
    let n = Line::all(text).filter(|l| l.readings().iter().any(|f| f.first() == Some(&name))).count();
    if n > 1 {
        return Err(LookupError::Ambiguous(format!(
            "the image's /etc/{file} names {:?} on {n} lines",
            crate::sanitize::escape(name)
        )));
    }
    Ok(())
}

fn id_of(fields: &[&str], i: usize) -> u32 {
    // Checked plain by `unambiguous`.
    fields.get(i).and_then(|f| plain_id(f)).unwrap_or(0)
}

/// A numeric id given by the user, in runc's range.
fn given_id(s: &str, what: &str) -> Result<Option<u32>, LookupError> {
    match atoi(s) {
        None => Ok(None),
        Some(n) if (0..=i64::from(MAX_ID)).contains(&n) => Ok(Some(n as u32)),
        Some(_) => Err(LookupError::OutOfRange(format!("{what} {s}"))),
    }
}

/// What `spec` and `group_add` come to in the image. `files` is `None` when hardrun did
/// not look inside (then only specs that need no files resolve).
pub fn resolve(spec: &UserSpec, group_add: &[String], files: Option<&Contents>) -> Result<Identity, LookupError> {
    if files.is_none() && needs_files(spec, group_add) {
        return Err(LookupError::NotRead);
    }
    let passwd = files.and_then(|c| c.passwd.as_deref());
    let group = files.and_then(|c| c.group.as_deref());
    let ambiguous = LookupError::Ambiguous;

    // The user: a number is a uid, a name its first passwd line.
    let (uid, passwd_gid, name) = match given_id(&spec.user, "uid")? {
        Some(uid) => {
            let line = match passwd {
                Some(p) => {
                    first_match(p, "passwd", &[2, 3], |f| f.get(2).is_some_and(|u| field_id(u) == i64::from(uid)))
                        .map_err(ambiguous)?
                }
                None => None,
            };
            (uid, line.as_ref().map(|f| id_of(f, 3)), line.map(|f| f[0].to_string()))
        }
        None => {
            let p = passwd.ok_or(LookupError::NoFile("passwd"))?;
            unique_name(p, "passwd", &spec.user)?;
            let line = first_match(p, "passwd", &[2, 3], |f| f.first() == Some(&spec.user.as_str()))
                .map_err(ambiguous)?
                .ok_or_else(|| LookupError::NoUser(spec.user.clone()))?;
            (id_of(&line, 2), Some(id_of(&line, 3)), Some(spec.user.clone()))
        }
    };

    // The primary group, and the memberships runc adds when no group is given.
    let mut member_of = Vec::new();
    let (gid, gid_source) = match spec.group.as_deref() {
        Some(g) => {
            let gid = match given_id(g, "gid")? {
                Some(gid) => gid,
                None => {
                    let text = group.ok_or(LookupError::NoFile("group"))?;
                    unique_name(text, "group", g)?;
                    let line = first_match(text, "group", &[2], |f| f.first() == Some(&g))
                        .map_err(ambiguous)?
                        .ok_or_else(|| LookupError::NoGroup(g.to_string()))?;
                    id_of(&line, 2)
                }
            };
            (gid, GroupSource::Explicit)
        }
        None => {
            if let (Some(name), Some(text)) = (&name, group) {
                member_of = memberships(text, name)?;
            }
            match passwd_gid {
                Some(gid) => (gid, GroupSource::Passwd),
                None => (0, GroupSource::Default),
            }
        }
    };

    let mut groups = member_of.clone();
    let mut unknown_groups = Vec::new();
    let mut added = Vec::new();
    for g in group_add {
        match additional_group(g, group) {
            Ok(gid) => {
                added.push((g.clone(), gid));
                if !groups.contains(&gid) {
                    groups.push(gid);
                }
            }
            Err(LookupError::NoGroup(name)) => unknown_groups.push(name),
            Err(LookupError::NoFile(_)) => unknown_groups.push(g.clone()),
            Err(e) => return Err(e),
        }
    }
    // Sent as numbers, each must mean itself when the daemon looks it up again.
    for gid in &groups {
        let again = additional_group(&gid.to_string(), group)?;
        if again != *gid {
            return Err(LookupError::Ambiguous(format!(
                "the image's /etc/group has a group named {gid} that is gid {again}, so gid {gid} cannot be sent \
                 unambiguously"
            )));
        }
    }
    Ok(Identity { uid, gid, gid_source, groups, member_of, added, unknown_groups })
}

/// Every group line listing `user` as a member (runc gives them all).
fn memberships(text: &str, user: &str) -> Result<Vec<u32>, LookupError> {
    let mut out = Vec::new();
    for line in Line::all(text) {
        let listed = line.readings().iter().any(|f| f.get(3).is_some_and(|m| m.split(',').any(|m| m == user)));
        if !listed {
            continue;
        }
        line.unambiguous(&[2])
            .map_err(|e| LookupError::Ambiguous(format!("the image's /etc/group is ambiguous: {e}")))?;
        let gid = id_of(&line.trimmed.split(':').collect::<Vec<_>>(), 2);
        if !out.contains(&gid) {
            out.push(gid);
        }
    }
    Ok(out)
}

/// One `--group-add` value as runc resolves it: the first group line whose name or gid is
/// the value, else the value as a number.
fn additional_group(value: &str, group: Option<&str>) -> Result<u32, LookupError> {
    if let Some(text) = group {
        if atoi(value).is_none() {
            unique_name(text, "group", value)?;
        }
        let matches =
            |f: &[&str]| f.first() == Some(&value) || f.get(2).is_some_and(|g| field_id(g).to_string() == value);
        if let Some(line) = first_match(text, "group", &[2], matches).map_err(LookupError::Ambiguous)? {
            return Ok(id_of(&line, 2));
        }
    }
    match given_id(value, "group")? {
        Some(gid) => Ok(gid),
        None if group.is_none() => Err(LookupError::NoFile("group")),
        None => Err(LookupError::NoGroup(value.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(passwd: &str, group: &str) -> Contents {
        Contents { executables: vec![], passwd: Some(passwd.into()), group: Some(group.into()) }
    }

    fn image() -> Contents {
        files(
            "root:x:0:0:root:/root:/bin/sh\napp:x:10001:10001::/home/app:/bin/sh\ntoor:x:0:0::/:/bin/sh\n\
             nogroup:x:2000:0::/:/bin/false\nmember:x:3000:3000::/:/bin/sh\n",
            "root:x:0:\napp:x:10001:\nwheel:x:0:\nstaff:x:50:\nextra:x:4000:member,other\nmore:x:4001:member\n",
        )
    }

    fn ids(spec: &str, add: &[&str], c: &Contents) -> Result<Identity, LookupError> {
        let add: Vec<String> = add.iter().map(|s| s.to_string()).collect();
        resolve(&UserSpec::parse(spec).unwrap(), &add, Some(c))
    }

    #[test]
    fn names_become_ids_as_runc_resolves_them() {
        let app = ids("app", &[], &image()).unwrap();
        assert_eq!(
            (app.uid, app.gid, app.gid_source, app.groups.as_slice()),
            (10001, 10001, GroupSource::Passwd, &[][..])
        );
        assert_eq!(app.user_spec(), "10001:10001");
        assert_eq!(ids("toor", &[], &image()).unwrap().uid, 0, "a name that is uid 0");
        assert_eq!(ids("app:wheel", &[], &image()).unwrap().gid, 0, "a group name that is gid 0");
        assert_eq!(ids("app:staff", &[], &image()).unwrap().gid, 50);
        let implicit = ids("nogroup", &[], &image()).unwrap();
        assert_eq!((implicit.gid, implicit.gid_source), (0, GroupSource::Passwd));
        assert_eq!(ids("10001", &[], &image()).unwrap().gid, 10001, "a number takes its passwd group");
        let unknown = ids("4242", &[], &image()).unwrap();
        assert_eq!((unknown.gid, unknown.gid_source), (0, GroupSource::Default), "runc's default gid");
        // Memberships come with an implicit group, by name or by uid, never with an explicit one.
        assert_eq!(ids("member", &[], &image()).unwrap().member_of, [4000, 4001]);
        assert_eq!(ids("3000", &[], &image()).unwrap().member_of, [4000, 4001]);
        assert!(ids("member:3000", &[], &image()).unwrap().member_of.is_empty());
        let add = ids("app", &["staff", "60", "staff", "audio"], &image()).unwrap();
        assert_eq!(add.groups, [50, 60]);
        assert_eq!(add.unknown_groups, ["audio"], "a name no line has grants nothing");
    }

    #[test]
    fn numbers_need_no_files_but_names_do() {
        let spec = UserSpec::parse("1000:1000").unwrap();
        assert!(!needs_files(&spec, &[]));
        assert_eq!(resolve(&spec, &[], None).unwrap().user_spec(), "1000:1000");
        assert!(needs_files(&UserSpec::parse("1000").unwrap(), &[]), "the passwd group");
        assert!(needs_files(&spec, &["2000".into()]), "a group may be named 2000");
        assert_eq!(resolve(&UserSpec::parse("app").unwrap(), &[], None), Err(LookupError::NotRead));
        let bare = Contents::default();
        assert_eq!(ids("app", &[], &bare), Err(LookupError::NoFile("passwd")));
        assert_eq!(ids("1000", &[], &bare).unwrap().user_spec(), "1000:0");
        assert_eq!(ids("ghost", &[], &image()), Err(LookupError::NoUser("ghost".into())));
        assert_eq!(ids("app:nope", &[], &image()), Err(LookupError::NoGroup("nope".into())));
        assert!(matches!(ids("2147483648", &[], &image()), Err(LookupError::OutOfRange(_))));
    }

    /// The tricks: what runc would read as root, refused as ambiguous instead of guessed.
    #[test]
    fn ambiguous_files_are_refused() {
        let decoy = "app:x:10001:10001::/:/bin/sh\n";
        for passwd in [
            format!("\tapp:x:0:0::/:/bin/sh\n{decoy}"),
            format!("app:x:zero:zero::/:/bin/sh\n{decoy}"),
            format!("app:x:00:0::/:/bin/sh\n{decoy}"),
            format!("app:x:4294967296:0::/:/bin/sh\n{decoy}"),
            format!("{decoy}app:x:0:0::/:/bin/sh\n"),
        ] {
            let r = ids("app", &[], &files(&passwd, ""));
            assert!(matches!(r, Err(LookupError::Ambiguous(_)) | Err(LookupError::NoUser(_))), "{passwd:?}: {r:?}");
            if let Err(LookupError::NoUser(_)) = r {
                panic!("{passwd:?}: the decoy was not found");
            }
        }
        // A name with white space inside its field is another name to every reader.
        let other = ids("app", &[], &files(&format!("app :x:0:0::/:/bin/sh\n{decoy}"), "")).unwrap();
        assert_eq!(other.uid, 10001);
        // A uid lookup meets a comment line some runc versions read as an entry.
        let r = ids("10001", &[], &files(&format!("#old:x:10001:0::/:/bin/sh\n{decoy}"), ""));
        assert!(matches!(r, Err(LookupError::Ambiguous(_))), "{r:?}");
        let group = "root:x:0:\nstaff:x:zero:\n";
        let passwd = "app:x:10001:10001::/:/bin/sh\n";
        assert!(matches!(ids("10001:staff", &[], &files(passwd, group)), Err(LookupError::Ambiguous(_))));
        assert!(matches!(ids("10001:10001", &["staff"], &files(passwd, group)), Err(LookupError::Ambiguous(_))));
        // Group lines are not trimmed by every runc: a tab line listing the user is ambiguous.
        let r = ids("app", &[], &files(passwd, "\troot:x:0:app\n"));
        assert!(matches!(r, Err(LookupError::Ambiguous(_))), "{r:?}");
        let r = ids("app", &[], &files(passwd, "root:x:0:app \n"));
        assert!(matches!(r, Err(LookupError::Ambiguous(_))), "{r:?}");
    }

    #[test]
    fn a_number_sent_must_mean_itself_again() {
        let passwd = "app:x:10001:10001::/:/bin/sh\n";
        // runc matches --group-add values by name first in file order: "2000" is gid 0 here.
        let group = "2000:x:0:\nreal:x:2000:\n";
        assert_eq!(additional_group("2000", Some(group)), Ok(0));
        let r = ids("10001:10001", &["real"], &files(passwd, group));
        assert!(matches!(r, Err(LookupError::Ambiguous(ref why)) if why.contains("named 2000")), "{r:?}");
        assert_eq!(ids("10001:10001", &["2000"], &files(passwd, group)).unwrap().groups, [0]);
    }
}
