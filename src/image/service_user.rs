//! The service user an image was built for, when its configuration runs it as root:
//! the user its entrypoint switches to (`gosu`, `su-exec`, `setpriv`, `runuser`,
//! `chroot --userspec`, `s6-setuidgid`) and the owner of its VOLUME folders, resolved
//! through the image's own /etc/passwd. Official images start as root only to fix
//! ownership and then drop to that user; started as that user, they skip the root-only
//! steps. Everything here comes from the image, so it can only ever choose a non-root
//! user with a non-root group, as numbers.

use super::facts::{Contents, ImageFacts};
use super::user;
use crate::request::UserSpec;

/// The user chosen, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub uid: u32,
    pub gid: u32,
    /// The name in the image's passwd, when it has one.
    pub name: Option<String>,
    /// For people: `the entrypoint switches to postgres (gosu); it owns VOLUME /data`.
    pub reason: String,
}

impl Choice {
    /// `uid:gid`, as hardrun sends it.
    pub fn spec(&self) -> UserSpec {
        UserSpec { user: self.uid.to_string(), group: Some(self.gid.to_string()) }
    }
}

/// A user an entrypoint switches to: as written, and with which tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Switch {
    pub user: String,
    pub group: Option<String>,
    pub tool: &'static str,
}

/// Tools that start a program as another user, and where they take it.
const TOOLS: [&str; 6] = ["gosu", "su-exec", "setpriv", "runuser", "chroot", "s6-setuidgid"];

/// The longest script text read for switches (the look caps it too).
const MAX_TEXT: usize = 64 << 10;

/// The user switches written in `text` (a shell script or a `sh -c` string), in order.
/// Variables are followed only when the script assigns them one literal value.
pub fn switches(text: &str) -> Vec<Switch> {
    let text = &text[..floor_boundary(text, MAX_TEXT)];
    let vars = assignments(text);
    let mut out = Vec::new();
    for line in text.lines() {
        let words = words(strip_comment(line));
        for (i, w) in words.iter().enumerate() {
            let tool = w.rsplit('/').next().unwrap_or(w);
            let Some(tool) = TOOLS.iter().find(|t| **t == tool).copied() else { continue };
            let rest = &words[i + 1..];
            let expand = |s: &str| expand(s, &vars);
            // Expanded before splitting `user:group` (`${RUN_AS:-app}` holds a colon).
            let found = match tool {
                "gosu" | "su-exec" | "s6-setuidgid" => rest.first().and_then(|s| expand(s)).map(|s| split_spec(&s)),
                "setpriv" => setpriv(rest).and_then(|(u, g)| Some((expand(&u)?, g.and_then(|g| expand(&g))))),
                "runuser" => option(rest, &["-u", "--user"]).and_then(|u| expand(&u)).map(|u| (u, None)),
                _ => option(rest, &["--userspec"]).and_then(|s| expand(&s)).map(|s| split_spec(&s)),
            };
            let Some((user, group)) = found else { continue };
            if !user.is_empty() && !user.starts_with('-') {
                let group = group.filter(|g| !g.is_empty());
                let s = Switch { user, group, tool };
                if !out.contains(&s) {
                    out.push(s);
                }
            }
        }
    }
    out
}

fn floor_boundary(s: &str, mut at: usize) -> usize {
    if at >= s.len() {
        return s.len();
    }
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn strip_comment(line: &str) -> &str {
    let t = line.trim_start();
    if t.starts_with('#') { "" } else { line }
}

/// Shell words, roughly: split on blanks and `;|&()`, quotes removed.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => quote = Some(c),
            (None, c) if c.is_whitespace() || ";|&()`".contains(c) => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn split_spec(s: &str) -> (String, Option<String>) {
    match s.split_once(':') {
        Some((u, g)) => (u.to_string(), Some(g.to_string())),
        None => (s.to_string(), None),
    }
}

/// The value of the first of `names` among `args` (`-u X`, `--user=X`, `--user X`).
fn option(args: &[String], names: &[&str]) -> Option<String> {
    for (i, a) in args.iter().enumerate() {
        for n in names {
            if a == n {
                return args.get(i + 1).cloned();
            }
            if let Some(v) = a.strip_prefix(n).and_then(|v| v.strip_prefix('=')) {
                return Some(v.to_string());
            }
        }
    }
    None
}

fn setpriv(args: &[String]) -> Option<(String, Option<String>)> {
    let user = option(args, &["--reuid", "--ruid", "--euid"])?;
    Some((user, option(args, &["--regid", "--rgid", "--egid"])))
}

/// `NAME=literal` assignments made exactly once (with one value) in the script.
fn assignments(text: &str) -> Vec<(String, String)> {
    let mut seen: Vec<(String, Option<String>)> = Vec::new();
    for line in text.lines() {
        for w in words(strip_comment(line)) {
            let w = w.strip_prefix("export").map(str::trim_start).unwrap_or(&w).to_string();
            let Some((name, value)) = w.split_once('=') else { continue };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || value.contains('$') {
                continue;
            }
            match seen.iter_mut().find(|(n, _)| n == name) {
                Some((_, v)) if v.as_deref() != Some(value) => *v = None,
                Some(_) => {}
                None => seen.push((name.to_string(), Some(value.to_string()))),
            }
        }
    }
    seen.into_iter().filter_map(|(n, v)| Some((n, v?))).collect()
}

/// `$X`, `${X}`, `${X:-default}` and literals; `None` for what cannot be known.
fn expand(word: &str, vars: &[(String, String)]) -> Option<String> {
    let Some(rest) = word.strip_prefix('$') else {
        return (!word.contains('$')).then(|| word.to_string());
    };
    let (name, default) = match rest.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
        Some(inner) => match inner.split_once(":-").or_else(|| inner.split_once('-')) {
            Some((n, d)) => (n, Some(d)),
            None => (inner, None),
        },
        None => (rest, None),
    };
    let value = vars.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).or(default)?;
    (!value.contains('$')).then(|| value.to_string())
}

/// A non-root user and non-root group for `user`/`group` in the image, else `None`.
fn resolve(user: &str, group: Option<&str>, contents: Option<&Contents>) -> Option<(u32, u32, Option<String>)> {
    let spec = UserSpec::parse(&match group {
        Some(g) => format!("{user}:{g}"),
        None => user.to_string(),
    })
    .ok()?;
    let ids = user::resolve(&spec, &[], contents).ok()?;
    // runc's default group is 0, the root group: not for a user the image merely suggests.
    let gid = Some(ids.gid).filter(|g| *g != 0)?;
    if ids.uid == 0 || ids.member_of.contains(&0) {
        return None;
    }
    let name = contents.and_then(|c| c.passwd.as_deref()).and_then(|p| {
        p.lines()
            .find(|l| l.split(':').nth(2).is_some_and(|id| id.trim().parse() == Ok(ids.uid)))
            .and_then(|l| l.split(':').next())
            .map(str::to_string)
    });
    Some((ids.uid, gid, name))
}

/// Every switch in the image's entrypoint script and in `sh -c` strings of its
/// Entrypoint and Cmd.
fn all_switches(facts: &ImageFacts) -> Vec<Switch> {
    let mut out = Vec::new();
    if let Some(s) = facts.contents.as_ref().and_then(|c| c.entrypoint.as_ref()) {
        out.extend(switches(&s.text));
    }
    let command: Vec<&String> = facts.entrypoint.iter().chain(facts.cmd.iter()).collect();
    if let Some(i) = command.iter().position(|w| *w == "-c") {
        for s in command.iter().skip(i + 1).flat_map(|t| switches(t)) {
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    out
}

/// The VOLUMEs and the non-root owners of those the image has, as folders.
fn volume_owners(facts: &ImageFacts) -> Vec<(String, u32, u32)> {
    let Some(contents) = &facts.contents else { return vec![] };
    facts
        .volumes
        .iter()
        .filter_map(|v| {
            let path = super::look::clean(v)?;
            let f = contents.folders.iter().find(|f| f.path == path)?;
            (f.uid != 0).then_some((path, f.uid, f.gid))
        })
        .collect()
}

/// The service user of an image that runs as root, or `None` when the image does not
/// say (then the profile's default applies).
pub fn choose(facts: &ImageFacts) -> Option<Choice> {
    let contents = facts.contents.as_ref();
    let volumes = volume_owners(facts);
    let owned = |uid: u32| -> Vec<&str> { volumes.iter().filter(|v| v.1 == uid).map(|v| v.0.as_str()).collect() };
    let found = all_switches(facts);
    let targets: Vec<(u32, u32, Option<String>, &Switch)> = found
        .iter()
        .filter_map(|s| resolve(&s.user, s.group.as_deref(), contents).map(|(u, g, n)| (u, g, n, s)))
        .collect();
    // A switch target that owns a VOLUME first, then the first switch target.
    let best = targets.iter().find(|t| !owned(t.0).is_empty()).or(targets.first());
    if let Some((uid, gid, name, switch)) = best {
        let who = name.clone().unwrap_or_else(|| uid.to_string());
        let mut reason = format!("the entrypoint switches to {who} ({})", switch.tool);
        let vols = owned(*uid);
        if !vols.is_empty() {
            reason.push_str(&format!(", owner of VOLUME {}", vols.join(", ")));
        }
        return Some(Choice { uid: *uid, gid: *gid, name: name.clone(), reason });
    }
    // No switch: the one non-root owner of the VOLUMEs, if they agree.
    let (_, uid, folder_gid) = volumes.first()?;
    if volumes.iter().any(|v| v.1 != *uid) {
        return None;
    }
    let (uid, gid, name) = match resolve(&uid.to_string(), None, contents) {
        Some(found) => found,
        None if *folder_gid != 0 => (*uid, *folder_gid, None),
        None => return None,
    };
    let who = name.clone().map_or_else(|| uid.to_string(), |n| format!("{n} ({uid})"));
    let paths: Vec<&str> = volumes.iter().map(|v| v.0.as_str()).collect();
    Some(Choice { uid, gid, name, reason: format!("{who} owns VOLUME {}", paths.join(", ")) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::facts::{Folder, Script};

    fn sw(user: &str, group: Option<&str>, tool: &'static str) -> Switch {
        Switch { user: user.into(), group: group.map(str::to_string), tool }
    }

    #[test]
    fn finds_the_switches_official_entrypoints_make() {
        let postgres = "#!/bin/bash\nif [ \"$(id -u)\" = '0' ]; then\n\tchown -R postgres \"$PGDATA\"\n\texec gosu postgres \"$BASH_SOURCE\" \"$@\"\nfi\n";
        assert_eq!(switches(postgres), [sw("postgres", None, "gosu")]);
        assert_eq!(switches("exec su-exec rabbitmq:rabbitmq \"$0\""), [sw("rabbitmq", Some("rabbitmq"), "su-exec")]);
        assert_eq!(
            switches("exec setpriv --reuid=mysql --regid mysql --init-groups \"$@\""),
            [sw("mysql", Some("mysql"), "setpriv")]
        );
        assert_eq!(switches("exec runuser -u www-data -- \"$@\""), [sw("www-data", None, "runuser")]);
        assert_eq!(switches("exec /usr/sbin/runuser --user=app -- x"), [sw("app", None, "runuser")]);
        assert_eq!(switches("exec chroot --userspec=1000:1000 / cmd"), [sw("1000", Some("1000"), "chroot")]);
        assert_eq!(switches("s6-setuidgid nobody x"), [sw("nobody", None, "s6-setuidgid")]);
    }

    #[test]
    fn variables_only_when_the_script_fixes_them() {
        assert_eq!(switches("USER_NAME=redis\nexec gosu \"$USER_NAME\" x"), [sw("redis", None, "gosu")]);
        assert_eq!(switches("exec gosu ${RUN_AS:-app} x"), [sw("app", None, "gosu")]);
        assert!(switches("U=a\nU=b\nexec gosu $U x").is_empty(), "two values: unknown");
        assert!(switches("exec gosu \"$1\" x").is_empty());
        assert!(switches("exec gosu $(whoami) x").is_empty());
        assert!(switches("# exec gosu postgres x\necho gosu").is_empty(), "comments, and gosu without a user");
        assert!(switches("gosu --help").is_empty());
    }

    fn image(script: &str, volumes: &[(&str, u32, u32)]) -> ImageFacts {
        ImageFacts {
            volumes: volumes.iter().map(|v| v.0.to_string()).collect(),
            contents: Some(Contents {
                passwd: Some(
                    "root:x:0:0::/root:/bin/sh\npostgres:x:999:999::/var/lib/postgresql:/bin/bash\n\
                     toor:x:0:0::/:/bin/sh\nnobody:x:65534:65534::/:/bin/false\nrootgrp:x:5:0::/:/bin/sh\n"
                        .into(),
                ),
                group: Some("root:x:0:\npostgres:x:999:\nnogroup:x:65534:\n".into()),
                folders: volumes
                    .iter()
                    .map(|(p, u, g)| Folder { path: p.to_string(), uid: *u, gid: *g, mode: 0o755, empty: true })
                    .collect(),
                entrypoint: Some(Script { path: "/entrypoint.sh".into(), text: script.into() }),
                ..Contents::default()
            }),
            ..ImageFacts::default()
        }
    }

    #[test]
    fn the_switch_target_first_then_the_volume_owner() {
        let c = choose(&image("exec gosu postgres \"$@\"", &[("/var/lib/postgresql/data", 999, 999)])).unwrap();
        assert_eq!((c.uid, c.gid, c.name.as_deref()), (999, 999, Some("postgres")));
        assert_eq!(c.reason, "the entrypoint switches to postgres (gosu), owner of VOLUME /var/lib/postgresql/data");
        let c = choose(&image("#!/bin/sh\nexec \"$@\"", &[("/prometheus", 65534, 65534)])).unwrap();
        assert_eq!((c.uid, c.gid), (65534, 65534));
        assert_eq!(c.reason, "nobody (65534) owns VOLUME /prometheus");
        let c = choose(&image("", &[("/data", 4242, 4242)])).unwrap();
        assert_eq!((c.uid, c.gid, c.name.as_deref()), (4242, 4242, None), "an owner without a passwd line");
        assert_eq!(c.spec().to_string(), "4242:4242");
    }

    #[test]
    fn never_root_and_nothing_when_the_image_does_not_say() {
        assert_eq!(choose(&image("exec gosu toor x", &[])), None, "a name that is uid 0");
        assert_eq!(choose(&image("exec gosu rootgrp x", &[])), None, "a user whose group is root's");
        assert_eq!(choose(&image("exec gosu 0:0 x", &[])), None);
        assert_eq!(choose(&image("exec gosu ghost x", &[])), None, "a name the image lacks");
        assert_eq!(choose(&image("", &[("/data", 0, 0)])), None, "a root-owned volume");
        assert_eq!(choose(&image("", &[("/a", 999, 999), ("/b", 65534, 65534)])), None, "owners disagree");
        assert_eq!(choose(&image("", &[("/data", 4242, 0)])), None, "an unknown owner with the root group");
        assert_eq!(choose(&ImageFacts::default()), None);
        let inline = ImageFacts {
            entrypoint: vec!["/bin/sh".into(), "-c".into()],
            cmd: vec!["exec gosu postgres postgres".into()],
            ..image("", &[])
        };
        assert_eq!(choose(&inline).map(|c| c.uid), Some(999), "a sh -c command line");
    }
}
