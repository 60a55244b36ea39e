//! Who the container runs as: never root, unless user namespaces make root harmless.

use super::{Hardening, Refusal};
use crate::image::user;
use crate::plan::Source;
use crate::profile::DefaultUser;
use crate::request::user::{UserSpec, is_root_id};

pub(super) fn apply(h: &mut Hardening) {
    let root_allowed = h.profile.user.allow_root && h.host.userns_remapped;
    let user = match &h.req.user {
        Some(u) if u.is_root() && !root_allowed => {
            h.refuse(root_refusal(&format!("--user {u}")));
            return;
        }
        Some(u) => {
            let src = Hardening::flag(format!("--user {u}"));
            Some((u.clone(), src))
        }
        // The image's non-root USER or service user comes before the profile's default.
        None => match super::image_user::from_image(h) {
            Some(chosen) => Some(chosen),
            None => match default_user(h, root_allowed) {
                Ok(chosen) => chosen,
                Err(()) => return,
            },
        },
    };
    for g in &h.req.group_add {
        if is_root_id(g) && !root_allowed {
            h.refuse(Refusal::never(
                format!("--group-add {g}"),
                "the root group can read and write whatever root-group files the container holds",
                "add a dedicated non-root group instead",
            ));
        }
    }
    resolve_names(h, user.as_ref(), root_allowed);
    if let Some((u, source)) = user {
        h.decide("user", u.to_string(), source);
        h.config.user = Some(u.to_string());
        h.expect.user = Some(u.to_string());
    }
    if !h.req.group_add.is_empty() {
        h.hc.group_add = Some(h.req.group_add.clone());
    }
}

/// `user.default`: a fixed user, or the image's own USER (refused when it is root).
fn default_user(h: &mut Hardening, root_allowed: bool) -> Result<Option<(UserSpec, Source)>, ()> {
    match h.profile.user.default.clone() {
        DefaultUser::Fixed(u) if u.is_root() && !root_allowed => {
            h.refuse(root_refusal(&format!("user.default {u} of profile {}", h.profile.name)));
            Err(())
        }
        DefaultUser::Fixed(u) => Ok(Some((u, h.profile_source("user.default")))),
        DefaultUser::Image => Ok(image_user(h, root_allowed)),
    }
}

fn root_refusal(asked: &str) -> Refusal {
    Refusal::unless(
        asked,
        "root in the container is root on the host kernel's terms: one escape and the host is lost",
        "run as a non-root user, e.g. --user 1000:1000 (files the service writes must belong to it)",
        "user.allow_root (honoured only with a userns-remap or rootless daemon)",
    )
}

/// `user.default: image`: the image's own USER, when it is not root.
fn image_user(h: &mut Hardening, root_allowed: bool) -> Option<(UserSpec, Source)> {
    let Some(facts) = &h.host.image else {
        // Only `plan` without a daemon gets here; `run` always has the image's facts.
        h.notices.push("user: the image's USER is used; it is checked when the image is inspected".into());
        return None;
    };
    let image_user = facts.user.trim();
    let parsed = UserSpec::parse(image_user).ok();
    match parsed {
        Some(u) if !u.is_root() || root_allowed => Some((u, Source::Image { field: "Config.User".into() })),
        _ => {
            let shown = if image_user.is_empty() { "no USER (root)" } else { image_user };
            h.refuse(Refusal::unless(
                format!("image {} with {shown}", h.req.image),
                "the image runs as root and no --user was given",
                "pass --user UID:GID, or add a USER line with a non-root user to the Dockerfile",
                "user.default",
            ));
            None
        }
    }
}

/// Names mean what the image's /etc/passwd and /etc/group say (`app` may well be uid 0):
/// they are resolved there, and refused when they come to root. A user name that does
/// not resolve is refused too (only an id tells root from non-root; docker could not
/// start it either); a `--group-add` name that does not resolve grants nothing.
fn resolve_names(h: &mut Hardening, chosen: Option<&(UserSpec, Source)>, root_allowed: bool) {
    let named_user = chosen.filter(|(u, _)| user::has_names(u));
    // `root` itself was refused above by its spelling.
    let named_groups: Vec<&String> = h.req.group_add.iter().filter(|g| user::is_name(g) && !is_root_id(g)).collect();
    if named_user.is_none() && named_groups.is_empty() {
        return;
    }
    let Some(facts) = &h.host.image else {
        h.notices.push(
            "user and group names are resolved in the image's /etc/passwd and /etc/group once it is local".into(),
        );
        return;
    };
    let contents = facts.contents.as_ref();
    if let Some((u, source)) = named_user
        && let Some(p) = user::problem(u, contents, root_allowed)
    {
        let (asked, root_key) = match source {
            Source::Flag { flag } => (flag.clone(), ALLOW_ROOT_KEY),
            Source::Image { .. } => (format!("image {} with USER {u}", h.req.image), "user.default"),
            _ => (format!("user.default {u}"), ALLOW_ROOT_KEY),
        };
        h.refuse(match p.root {
            true => Refusal::unless(asked, p.why, p.fix, root_key),
            false => Refusal::never(asked, p.why, p.fix),
        });
    }
    // A group the image does not have grants nothing (runc refuses to start with it,
    // as docker would); one that is gid 0 is the root group under another name.
    for g in named_groups {
        if user::group_id(g, contents) == Ok(0) && !root_allowed {
            h.refuse(Refusal::never(
                format!("--group-add {g}"),
                format!("the image's /etc/group makes {g} gid 0, the root group"),
                "add a dedicated non-root group instead",
            ));
        }
    }
}

const ALLOW_ROOT_KEY: &str = "user.allow_root (honoured only with a userns-remap or rootless daemon)";
