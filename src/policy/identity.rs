//! Who the container runs as: never root, unless user namespaces make root harmless.
//!
//! Three steps, each its own function: `choose` picks the user spec (the flag, the
//! profile's default, or the image's USER) and says where it came from; `image::user`
//! resolves it and `--group-add` in the image's files exactly as the daemon will
//! (runc's lookup); `problems` judges the resulting ids. The ids, not the names, are
//! what is sent: `Config.User` as `uid:gid` and `HostConfig.GroupAdd` as gids.

use super::{Hardening, Host, ImageFacts, Refusal};
use crate::image::facts::Contents;
use crate::image::user::{self, GroupSource, Identity, LookupError};
use crate::plan::Source;
use crate::profile::{DefaultUser, Profile};
use crate::request::user::{UserSpec, is_root_id};

const ALLOW_ROOT_KEY: &str = "user.allow_root (honoured only with a userns-remap or rootless daemon)";

/// Host groups whose members reach host resources: raw disks and memory, password
/// hashes, the container runtime, administration and logs. A container process in one of
/// these groups (by number: names inside the image mean nothing on the host) reaches
/// whatever of them a bind or a volume exposes.
pub const HOST_RESOURCE_GROUPS: [&str; 13] = [
    "disk",
    "kmem",
    "mem",
    "shadow",
    "docker",
    "sudo",
    "wheel",
    "adm",
    "systemd-journal",
    "lxd",
    "libvirt",
    "kvm",
    "containerd",
];

/// The user spec in force and where it came from.
#[derive(Debug, Clone)]
pub(crate) struct Chosen {
    pub spec: UserSpec,
    pub source: Source,
    /// How the spec is named in a refusal.
    pub asked: String,
    /// The profile key that would allow root.
    pub root_key: &'static str,
}

pub(super) fn apply(h: &mut Hardening) {
    let root_allowed = h.profile.user.allow_root && h.host.userns_remapped;
    for g in &h.req.group_add {
        if is_root_id(g) && !root_allowed {
            h.refuse(root_group_refusal(format!("--group-add {g}"), "the root group"));
        }
    }
    let chosen = match &h.req.user {
        Some(u) => Ok(Some(Chosen::flag(u))),
        None => default_user(h.profile, &h.req.image, h.host.image.as_ref(), root_allowed),
    };
    let chosen = match chosen {
        Ok(Some(c)) => c,
        Ok(None) => {
            // Only `plan` without a daemon gets here; `run` always has the image's facts.
            h.notices.push("user: the image's USER is used; it is checked when the image is inspected".into());
            return;
        }
        Err(r) => return h.refuse(r),
    };
    let files = h.host.image.as_ref().and_then(|i| i.contents.as_ref());
    match judge(&chosen, &h.req.group_add, files, h.host, root_allowed) {
        Judged::Ids(identity, refusals) => {
            for r in refusals {
                h.refuse(r);
            }
            send(h, &chosen, &identity);
        }
        Judged::NotRead => {
            // Only before the image is local (`plan` without a daemon, or the early pass):
            // what is numeric is judged now, names once the image's files are read.
            let numbers = chosen.spec.gid().into_iter().chain(h.req.group_add.iter().filter_map(|g| g.parse().ok()));
            for gid in numbers.collect::<Vec<u32>>() {
                if let Some(r) = host_group_refusal(h.host, &chosen.asked, gid) {
                    h.refuse(r);
                }
            }
            h.notices.push(
                "user and group names are resolved in the image's /etc/passwd and /etc/group once it is local".into(),
            );
            let spec = chosen.spec.to_string();
            h.decide("user", spec.clone(), chosen.source);
            h.config.user = Some(spec.clone());
            h.expect.user = Some(spec);
            if !h.req.group_add.is_empty() {
                h.hc.group_add = Some(h.req.group_add.clone());
            }
        }
        Judged::Refused(r) => h.refuse(r),
    }
}

impl Chosen {
    fn flag(u: &UserSpec) -> Chosen {
        let asked = format!("--user {u}");
        Chosen { spec: u.clone(), source: Hardening::flag(asked.clone()), asked, root_key: ALLOW_ROOT_KEY }
    }
}

/// The user when no `--user` is given: the profile's fixed default, or the image's own
/// USER when it is not root. `Ok(None)` while the image is not inspected yet.
pub(crate) fn default_user(
    profile: &Profile,
    image: &str,
    facts: Option<&ImageFacts>,
    root_allowed: bool,
) -> Result<Option<Chosen>, Refusal> {
    match &profile.user.default {
        DefaultUser::Fixed(u) => Ok(Some(Chosen {
            spec: u.clone(),
            source: Source::Profile { key: "user.default".into(), file: profile.origin("user.default").into() },
            asked: format!("user.default {u} of profile {}", profile.name),
            root_key: ALLOW_ROOT_KEY,
        })),
        DefaultUser::Image => {
            let Some(facts) = facts else { return Ok(None) };
            let image_user = facts.user.trim();
            match UserSpec::parse(image_user) {
                Ok(u) if !u.is_root() || root_allowed => Ok(Some(Chosen {
                    asked: format!("image {image} with USER {}", crate::sanitize::escape(&u.to_string())),
                    spec: u,
                    source: Source::Image { field: "Config.User".into() },
                    root_key: "user.default",
                })),
                _ => {
                    let shown =
                        if image_user.is_empty() { "no USER (root)".to_string() } else { format!("USER {image_user}") };
                    Err(Refusal::unless(
                        format!("image {image} with {}", crate::sanitize::escape(&shown)),
                        "the image runs as root and no --user was given",
                        "pass --user UID:GID, or add a USER line with a non-root user to the Dockerfile",
                        "user.default",
                    ))
                }
            }
        }
    }
}

/// A chosen user, resolved and judged.
pub(crate) enum Judged {
    /// The ids, and what is wrong with them (nothing, when the list is empty).
    Ids(Identity, Vec<Refusal>),
    /// The image's files are needed and were not read yet.
    NotRead,
    /// The names cannot be resolved unambiguously.
    Refused(Refusal),
}

/// Resolves `chosen` and `group_add` in the image's `files` as runc will, and judges the
/// ids. `image check` asks this too.
pub(crate) fn judge(
    chosen: &Chosen,
    group_add: &[String],
    files: Option<&Contents>,
    host: &Host,
    root_allowed: bool,
) -> Judged {
    if chosen.spec.is_root() && !root_allowed {
        return Judged::Refused(Refusal::unless(chosen.asked.clone(), ROOT_WHY, ROOT_FIX, chosen.root_key));
    }
    match user::resolve(&chosen.spec, group_add, files) {
        Ok(identity) => {
            let refusals = problems(&identity, chosen, host, root_allowed);
            Judged::Ids(identity, refusals)
        }
        Err(LookupError::NotRead) => Judged::NotRead,
        Err(e) => Judged::Refused(Refusal::never(
            chosen.asked.clone(),
            format!("{e}, and only an id tells root from non-root"),
            "use numeric non-root ids instead, e.g. --user 10001:10001 or `USER 10001:10001` in the Dockerfile",
        )),
    }
}

const ROOT_WHY: &str = "root in the container is root on the host kernel's terms: one escape and the host is lost";
const ROOT_FIX: &str = "run as a non-root user, e.g. --user 1000:1000 (files the service writes must belong to it)";

fn root_group_refusal(asked: String, what: &str) -> Refusal {
    Refusal::never(
        asked,
        format!("{what} can read and write whatever root-group files the container holds"),
        "add a dedicated non-root group instead",
    )
}

/// Everything wrong with the ids a spec resolved to: root, the root group, or a group
/// that opens host resources.
fn problems(identity: &Identity, chosen: &Chosen, host: &Host, root_allowed: bool) -> Vec<Refusal> {
    let mut out = Vec::new();
    let spec = crate::sanitize::escape(&chosen.spec.to_string());
    let named = user::has_names(&chosen.spec) || chosen.spec.group.is_none();
    let made = |what: &str| match named {
        true => format!(
            "the image's /etc/passwd and /etc/group make {spec} uid {} gid {}: {what}",
            identity.uid, identity.gid
        ),
        false => format!("uid {} gid {}: {what}", identity.uid, identity.gid),
    };
    if identity.uid == 0 && !root_allowed {
        out.push(Refusal::unless(
            chosen.asked.clone(),
            format!("{}; {ROOT_WHY}", made("root")),
            ROOT_FIX,
            chosen.root_key,
        ));
    } else if identity.gid == 0 && identity.gid_source == GroupSource::Explicit && !root_allowed {
        out.push(Refusal::never(
            chosen.asked.clone(),
            format!(
                "{}, which can read and write whatever root-group files the container holds",
                made("the root group")
            ),
            "add a dedicated non-root group instead",
        ));
    }
    if identity.member_of.contains(&0) && !root_allowed {
        out.push(root_group_refusal(
            format!(
                "{} (the image's /etc/group lists {} in the root group)",
                chosen.asked,
                crate::sanitize::escape(&chosen.spec.user)
            ),
            "the root group",
        ));
    }
    for (g, gid) in &identity.added {
        if *gid == 0 && !root_allowed && !is_root_id(g) {
            let g = crate::sanitize::escape(g);
            out.push(root_group_refusal(
                format!("--group-add {g}"),
                &format!("the image's /etc/group makes {g} gid 0, the root group, which"),
            ));
        }
    }
    for gid in std::iter::once(identity.gid).chain(identity.groups.iter().copied()) {
        out.extend(host_group_refusal(host, &chosen.asked, gid));
    }
    out
}

fn host_group_refusal(host: &Host, asked: &str, gid: u32) -> Option<Refusal> {
    host_resource(host, gid).map(|what| {
        Refusal::never(
            format!("{asked} with group {gid}"),
            format!("gid {gid} is {what} on this host: a process in it reaches what that group guards"),
            "use a group of the service's own, one the host gives no rights to",
        )
    })
}

/// What a gid is on the host when its members reach host resources.
pub fn host_resource(host: &Host, gid: u32) -> Option<String> {
    if gid == 0 {
        return None; // The root group is judged on its own.
    }
    if let Some((socket, _)) = host.socket_groups.iter().find(|(_, g)| *g == gid) {
        return Some(format!("the group that owns the daemon's socket {}", socket.display()));
    }
    host.groups
        .iter()
        .find(|(name, g)| *g == gid && HOST_RESOURCE_GROUPS.contains(&name.as_str()))
        .map(|(name, _)| format!("the host's {name} group"))
}

/// Sends the ids that were judged.
fn send(h: &mut Hardening, chosen: &Chosen, identity: &Identity) {
    let sent = identity.user_spec();
    let shown = if sent == chosen.spec.to_string() { sent.clone() } else { format!("{sent} ({})", chosen.spec) };
    h.decide("user", shown, chosen.source.clone());
    h.config.user = Some(sent.clone());
    h.expect.user = Some(sent);
    if !identity.groups.is_empty() {
        let shown: Vec<String> = identity.groups.iter().map(u32::to_string).collect();
        h.decide(
            "groups",
            shown.join(", "),
            Hardening::rule("the image's /etc/group, as runc reads it, and --group-add"),
        );
        h.hc.group_add = Some(shown);
    }
    // A --group-add name no reading of /etc/group knows grants nothing (runc refuses to
    // start with it, as docker would): sent as typed, so the daemon says so.
    if !identity.unknown_groups.is_empty() {
        h.hc.group_add.get_or_insert_with(Vec::new).extend(identity.unknown_groups.iter().cloned());
    }
}
