//! The image reference: parsed as docker does, floating tags and unlisted registries refused.

use super::{Hardening, Refusal};
use crate::image::ImageRef;
use crate::profile::schema::TagRule;

pub(super) fn apply(h: &mut Hardening) {
    let image = match ImageRef::parse(&h.req.image) {
        Ok(i) => i,
        Err(e) => {
            h.refuse(Refusal::never(h.req.image.clone(), e, "write the reference as [REGISTRY/]NAME[:TAG][@DIGEST]"));
            return;
        }
    };
    let asked = format!("image {}", h.req.image);
    let tags = h.profile.image.tags;
    match tags {
        TagRule::Any => {}
        TagRule::Fixed if image.is_floating() => h.refuse(Refusal::unless(
            asked.clone(),
            "a missing or `latest` tag floats: each pull may run different code, unreviewed",
            format!(
                "name a fixed version, e.g. {}:1.2.3, or pin a digest with `hardrun plan --pin`",
                ImageRef { tag: None, digest: None, ..image.clone() }.familiar()
            ),
            "image.tags",
        )),
        TagRule::Minor if !image.has_minor_version() => h.refuse(Refusal::unless(
            asked.clone(),
            "the profile wants at least a major.minor version tag, so what runs is known",
            format!(
                "name a version such as {}:1.25 (or pin a digest)",
                ImageRef { tag: None, digest: None, ..image.clone() }
            ),
            "image.tags",
        )),
        TagRule::Digest if image.digest.is_none() => h.refuse(Refusal::unless(
            asked.clone(),
            "the profile runs images by digest only, so the bytes cannot change under a tag",
            "pin the digest: `hardrun plan --pin` prints the pinned reference",
            "image.tags",
        )),
        _ => {}
    }
    let registries = &h.profile.image.registries;
    if !registries.is_empty() && !registries.iter().any(|r| allowed_by(&image, r)) {
        h.refuse(Refusal::unless(
            asked,
            format!("{} is not among the allowed registries ({})", image.repository(), registries.join(", ")),
            "use an image from an allowed registry (mirror it there first)",
            "image.registries",
        ));
    }
    if h.req.disable_content_trust == Some(false) {
        h.refuse(Refusal::never(
            "--disable-content-trust=false",
            "hardrun does not verify Docker Content Trust signatures, so it cannot promise what was asked",
            "pin images by digest instead (profile image.require_digest, `hardrun plan --pin`)",
        ));
    }
    let source = h.profile_source("image.tags");
    h.decide("image", image.familiar(), source);
    h.config.image = Some(h.req.image.clone());
    h.image = Some(image);
}

/// `registry.example.com` allows the whole registry; `registry.example.com/team` a prefix;
/// `docker.io/library` the official images.
fn allowed_by(image: &ImageRef, rule: &str) -> bool {
    let repo = image.repository();
    let rule = rule.trim_end_matches('/');
    repo == rule || repo.starts_with(&format!("{rule}/"))
}
