//! The image gate in a run: the reference parsed as docker does, then every check of
//! `image::gate` (tags, registries, digest, secrets, minimal, scan) with each refusal
//! reported, and the pinned reference run when the profile requires a digest.

use super::{Hardening, Refusal};
use crate::image::ImageRef;
use crate::image::gate::{self, Status};
use crate::plan::Source;

pub(super) fn apply(h: &mut Hardening) {
    let image = match ImageRef::parse(&h.req.image) {
        Ok(i) => i,
        Err(e) => {
            h.refuse(Refusal::never(h.req.image.clone(), e, "write the reference as [REGISTRY/]NAME[:TAG][@DIGEST]"));
            return;
        }
    };
    for check in gate::judge(&image, &h.req.image, h.host.image.as_ref(), &h.profile.image) {
        match check.status {
            Status::Refuse => h.refuse(Refusal::unless(check.asked, check.detail, check.fix, check.key)),
            Status::Warn => h
                .notices
                .push(format!("warning: {}: {}; {} (profile key {})", check.asked, check.detail, check.fix, check.key)),
            Status::Skip if check.check == "digest" && h.profile.image.require_digest => {
                h.notices.push(format!("image.require_digest: {}", check.detail))
            }
            _ => {}
        }
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
    pin(h);
}

/// `image.require_digest`: the container is created from the digest the gate resolved,
/// and the pinned reference is shown so it can be pasted next time.
fn pin(h: &mut Hardening) {
    let Some(image) = &h.image else { return };
    let Some(pinned) = gate::pinned(image, h.host.image.as_ref(), &h.profile.image) else { return };
    let reference = pinned.familiar();
    let key = "image.require_digest";
    h.notices.push(format!("pinned {} to {reference} ({key})", h.req.image));
    let source = Source::Profile { key: key.into(), file: h.profile.origin(key).into() };
    h.decide("image digest", reference.clone(), source);
    h.config.image = Some(reference);
}
