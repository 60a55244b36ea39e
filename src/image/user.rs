//! User and group names mean whatever the image's /etc/passwd and /etc/group say:
//! `USER app` is uid 0 if the image's passwd says so. Names are resolved the way runc
//! does it; a name hardrun cannot look up is refused, and numeric ids are the fix.

use crate::request::UserSpec;

use super::facts::Contents;

/// The ids a user spec comes to inside the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ids {
    pub uid: u32,
    /// The group: as written, or the user's primary group in /etc/passwd; `None` when
    /// runc will use its default (gid 0) because neither says.
    pub gid: Option<u32>,
    /// Whether the group was written (`user:group`) rather than taken from passwd.
    pub explicit_group: bool,
}

impl Ids {
    /// Root as the DESIGN forbids it: uid 0, or a root group asked for by name or number.
    pub fn is_root(&self) -> bool {
        self.uid == 0 || (self.explicit_group && self.gid == Some(0))
    }
}

/// Whether the spec holds a name the image must resolve.
pub fn has_names(spec: &UserSpec) -> bool {
    numeric(&spec.user).is_none() || spec.group.as_deref().is_some_and(|g| numeric(g).is_none())
}

/// Whether a `--group-add` value is a name.
pub fn is_name(group: &str) -> bool {
    numeric(group).is_none()
}

fn numeric(s: &str) -> Option<u32> {
    s.parse::<u32>().ok()
}

/// `name:x:uid:gid:...` lines as (name, uid, gid).
fn passwd_entries(text: &str) -> impl Iterator<Item = (&str, u32, u32)> {
    text.lines().filter(|l| !l.starts_with('#')).filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        Some((*f.first()?, f.get(2)?.trim().parse().ok()?, f.get(3)?.trim().parse().ok()?))
    })
}

/// `name:x:gid:members` lines as (name, gid).
fn group_entries(text: &str) -> impl Iterator<Item = (&str, u32)> {
    text.lines().filter(|l| !l.starts_with('#')).filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        Some((*f.first()?, f.get(2)?.trim().parse().ok()?))
    })
}

/// The ids of `spec` in the image. `contents` is `None` when hardrun did not look inside
/// (numeric specs need no look); the error says why a name cannot be resolved.
pub fn resolve(spec: &UserSpec, contents: Option<&Contents>) -> Result<Ids, String> {
    let passwd = contents.and_then(|c| c.passwd.as_deref());
    let cannot = |what: &str| -> String {
        match contents {
            None => format!("the image's /etc/{what} was not read, so the name cannot be mapped to an id"),
            Some(_) => format!("the image has no /etc/{what}, so the name cannot be mapped to an id"),
        }
    };
    let (uid, primary) = match numeric(&spec.user) {
        Some(uid) => (uid, passwd.and_then(|p| passwd_entries(p).find(|e| e.1 == uid)).map(|e| e.2)),
        None => {
            let p = passwd.ok_or_else(|| cannot("passwd"))?;
            let e = passwd_entries(p)
                .find(|e| e.0 == spec.user)
                .ok_or_else(|| format!("the image's /etc/passwd has no user {:?}", spec.user))?;
            (e.1, Some(e.2))
        }
    };
    let (gid, explicit_group) = match spec.group.as_deref() {
        None => (primary, false),
        Some(g) => (Some(group_id(g, contents)?), true),
    };
    Ok(Ids { uid, gid, explicit_group })
}

/// A group name or number as a gid.
pub fn group_id(group: &str, contents: Option<&Contents>) -> Result<u32, String> {
    if let Some(gid) = numeric(group) {
        return Ok(gid);
    }
    let text = match contents {
        None => return Err("the image's /etc/group was not read, so the name cannot be mapped to an id".into()),
        Some(c) => c.group.as_deref().ok_or("the image has no /etc/group, so the name cannot be mapped to an id")?,
    };
    group_entries(text)
        .find(|e| e.0 == group)
        .map(|e| e.1)
        .ok_or_else(|| format!("the image's /etc/group has no group {group:?}"))
}

/// Why a spec's names cannot be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub why: String,
    pub fix: String,
    /// The names resolve to root (rather than not resolving at all).
    pub root: bool,
}

/// What is wrong with a spec that holds names: they do not resolve (hardrun cannot tell
/// root from non-root, and docker could not start it), or they resolve to root. `None`
/// when the spec is numeric or its names resolve to a non-root user.
pub fn problem(spec: &UserSpec, contents: Option<&Contents>, root_allowed: bool) -> Option<Problem> {
    if !has_names(spec) {
        return None;
    }
    let fix =
        "use numeric non-root ids instead, e.g. --user 10001:10001 or `USER 10001:10001` in the Dockerfile".into();
    match resolve(spec, contents) {
        Err(why) => Some(Problem { why: format!("{why}, and only an id tells root from non-root"), fix, root: false }),
        Ok(ids) if ids.is_root() && !root_allowed => {
            let gid = ids.gid.map(|g| g.to_string()).unwrap_or_else(|| "0".into());
            let why = format!("the image's /etc/passwd and /etc/group make {spec} uid {} gid {gid}: root", ids.uid);
            Some(Problem { why, fix, root: true })
        }
        Ok(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> Contents {
        Contents {
            executables: vec![],
            passwd: Some(
                "root:x:0:0:root:/root:/bin/sh\napp:x:10001:10001::/home/app:/bin/sh\ntoor:x:0:0::/:/bin/sh\n\
                 # comment\nbroken line\nnogroup:x:2000:0::/:/bin/false\n"
                    .into(),
            ),
            group: Some("root:x:0:\napp:x:10001:\nwheel:x:0:\nstaff:x:50:\n".into()),
            ..Contents::default()
        }
    }

    fn ids(spec: &str) -> Result<Ids, String> {
        resolve(&UserSpec::parse(spec).unwrap(), Some(&image()))
    }

    #[test]
    fn names_become_ids() {
        let app = ids("app").unwrap();
        assert_eq!((app.uid, app.gid, app.is_root()), (10001, Some(10001), false));
        assert!(ids("toor").unwrap().is_root(), "a name that is uid 0 is root");
        assert!(ids("app:wheel").unwrap().is_root(), "a group name that is gid 0 is the root group");
        assert_eq!(ids("app:staff").unwrap().gid, Some(50));
        let implicit = ids("nogroup").unwrap();
        assert_eq!((implicit.gid, implicit.is_root()), (Some(0), false), "a primary gid 0 is runc's default");
        assert_eq!(ids("10001").unwrap().gid, Some(10001), "a number takes its passwd group");
        assert_eq!(ids("4242").unwrap().gid, None, "a number not in passwd");
    }

    #[test]
    fn unknown_or_unreadable_names_are_errors() {
        assert!(ids("nobody").unwrap_err().contains("no user \"nobody\""));
        assert!(ids("app:nope").unwrap_err().contains("no group \"nope\""));
        let bare = Contents::default();
        let spec = UserSpec::parse("app").unwrap();
        assert!(resolve(&spec, Some(&bare)).unwrap_err().contains("has no /etc/passwd"));
        assert!(resolve(&spec, None).unwrap_err().contains("was not read"));
        let numeric = UserSpec::parse("1000:1000").unwrap();
        assert_eq!(resolve(&numeric, None).unwrap().uid, 1000, "numbers need no look inside");
        assert!(!has_names(&numeric));
        assert!(has_names(&UserSpec::parse("1000:staff").unwrap()));
        assert_eq!(group_id("staff", Some(&image())), Ok(50));
    }

    #[test]
    fn problems() {
        let p = |spec: &str| problem(&UserSpec::parse(spec).unwrap(), Some(&image()), false).map(|p| p.why);
        assert_eq!(p("10001:10001"), None);
        assert_eq!(p("app"), None);
        assert!(p("toor").unwrap().contains("uid 0 gid 0: root"));
        assert!(p("app:wheel").unwrap().contains("root"));
        assert!(p("ghost").unwrap().contains("only an id tells root from non-root"));
        assert!(problem(&UserSpec::parse("toor").unwrap(), Some(&image()), false).unwrap().root);
        assert_eq!(problem(&UserSpec::parse("toor").unwrap(), Some(&image()), true), None, "userns-remapped");
    }
}
