//! The image gate in a run: the reference parsed as docker does, then every check of
//! `image::gate` (tags, registries, digest, secrets, minimal, scan) with each refusal
//! reported, and the pinned reference run when the profile requires a digest.

use super::{Hardening, Refusal};
use crate::image::ImageRef;
use crate::image::gate::{self, Status};
use crate::image::signature::policy::Rule;
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
    signature_step(h, &image);
    let source = h.profile_source("image.tags");
    h.decide("image", image.familiar(), source);
    h.config.image = Some(h.req.image.clone());
    h.image = Some(image);
    pin(h);
}

/// `image.signatures` (or `--disable-content-trust=false`, which asks for the same with
/// the profile's keys): the plan records the verification `run` does before create, and
/// refuses when there is nothing to verify with.
fn signature_step(h: &mut Hardening, image: &ImageRef) {
    let signatures = &h.profile.image.signatures;
    let asked = h.req.disable_content_trust == Some(false);
    if !signatures.required && !asked {
        return;
    }
    let requirement = signatures.requirement(image);
    let no_keys = matches!(&requirement.rule, Rule::Signed(sets) if sets.iter().any(|s| s.keys.is_empty()));
    if no_keys {
        h.refuse(Refusal::never(
            "--disable-content-trust=false",
            "Docker Content Trust (Notary v1) is being retired (Docker's notary service shuts down in December \
             2026) and hardrun does not verify it; hardrun verifies cosign signatures instead, and the profile \
             names no key for this image",
            "set image.signatures.keys to the signer's cosign.pub (or image.signatures.policy to a policy.json)",
        ));
        return;
    }
    let source = if signatures.required {
        h.profile_source(requirement.source.split(' ').next().unwrap_or("image.signatures"))
    } else {
        Source::Flag { flag: "--disable-content-trust=false".into() }
    };
    let value = match &requirement.rule {
        Rule::Anything => format!("not needed ({})", requirement.source),
        Rule::Reject => format!("rejected ({})", requirement.source),
        Rule::Signed(_) => format!(
            "a cosign signature by {} is verified before create, then the verified digest runs",
            requirement.expected()
        ),
    };
    h.decide("image signature", value, source);
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
