//! The user an image was built for, when no `--user` is given: its non-root USER, else
//! the service user found in it (`image::service_user`). Either only ever picks a
//! non-root user; whatever the image says, identity's rules still judge the ids.

use super::ImageFacts;
use crate::image::service_user;
use crate::plan::Source;
use crate::profile::Profile;
use crate::request::UserSpec;

/// Said by `plan` before the image is inspected.
pub(super) const NOT_INSPECTED: &str = "user: the image's own user (its non-root USER, or the service user it was \
                                        built for) comes before user.default once the image is inspected";

/// The image's own user, or `None` (the profile's default applies) when the image does
/// not name a non-root one, its facts are not known yet, or the profile says
/// `user.from_image: false`.
pub(super) fn from_image(profile: &Profile, facts: Option<&ImageFacts>) -> Option<(UserSpec, Source)> {
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
    let choice = service_user::choose(facts)?;
    Some((choice.spec(), Source::Image { field: format!("service user: {}", choice.reason) }))
}
