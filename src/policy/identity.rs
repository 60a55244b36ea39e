//! Who the container runs as: never root, unless user namespaces make root harmless.

use super::{Hardening, Refusal};
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
        None => match &h.profile.user.default {
            DefaultUser::Fixed(u) if u.is_root() && !root_allowed => {
                h.refuse(root_refusal(&format!("user.default {u} of profile {}", h.profile.name)));
                return;
            }
            DefaultUser::Fixed(u) => Some((u.clone(), h.profile_source("user.default"))),
            DefaultUser::Image => image_user(h, root_allowed),
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
    if let Some((u, source)) = user {
        h.decide("user", u.to_string(), source);
        h.config.user = Some(u.to_string());
        h.expect.user = Some(u.to_string());
    }
    if !h.req.group_add.is_empty() {
        h.hc.group_add = Some(h.req.group_add.clone());
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
