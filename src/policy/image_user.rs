//! The user an image was built for, when no `--user` is given: its non-root USER, else
//! the service user found in it (`image::service_user`). Either only ever picks a
//! non-root user; whatever the image says, identity's rules still judge the ids.

use super::{Host, ImageFacts};
use crate::image::service_user;
use crate::plan::Source;
use crate::profile::Profile;
use crate::request::UserSpec;

/// The group with no rights anywhere, for a service user whose own group is a host one.
const NOGROUP: u32 = 65534;

/// Said by `plan` before the image is inspected.
pub(super) const NOT_INSPECTED: &str = "user: the image's own user (its non-root USER, or the service user it was \
                                        built for) comes before user.default once the image is inspected";

/// The image's own user, or `None` (the profile's default applies) when the image does
/// not name a non-root one, its facts are not known yet, or the profile says
/// `user.from_image: false`.
pub(super) fn from_image(profile: &Profile, facts: Option<&ImageFacts>, host: &Host) -> Option<(UserSpec, Source)> {
    if !profile.user.from_image {
        return None;
    }
    let facts = facts?;
    let image_user = facts.user.trim();
    if let Ok(u) = UserSpec::parse(image_user)
        && !image_user.is_empty()
        && !u.is_root()
    {
        return Some((u, Source::Image { field: "Config.User".into() }));
    }
    let mut choice = service_user::choose(facts)?;
    // The image's group may be one the host gives rights to (official images use 999,
    // some hosts' systemd-journal): hardrun picked it, so it picks a harmless one instead
    // (the uid is what owns the service's files). A USER line is judged as written.
    if let Some(what) = super::identity::host_resource(host, choice.gid) {
        choice
            .reason
            .push_str(&format!("; group {} is {what} on this host, so nogroup ({NOGROUP}) instead", choice.gid));
        choice.gid = NOGROUP;
    }
    Some((choice.spec(), Source::Image { field: format!("service user: {}", choice.reason) }))
}
