//! Signature verification as `run`, `create` and `image verify` do it: the rule the
//! profile sets for the image, the digest that will run (the one given, the one the
//! local image was pulled as, else the registry's answer for the tag), the verdict
//! (from the cache, else the registry), and the `repo@digest` reference to create from.

use anyhow::Result;

use crate::image::ImageRef;
use crate::image::signature::cache::VerdictCache;
use crate::image::signature::judge::{self, Accepted, Rejected};
use crate::image::signature::policy::{Requirement, Rule};
use crate::image::signature::registry::{Registry, RegistryError};
use crate::image::signature::{SignaturePolicy, fetch};
use crate::policy::Refusal;

/// What a check found.
#[derive(Debug)]
pub enum Outcome {
    /// The rule accepts any image (`insecureAcceptAnything`): nothing was fetched.
    Anything(Requirement),
    /// Verified: run `pinned`, nothing else.
    Verified { requirement: Requirement, digest: String, accepted: Vec<Accepted>, cached: bool, pinned: ImageRef },
    /// Not verified: the refusal says what, why, which keys, which setting.
    Refused(Box<Refusal>),
}

/// Verifies `image` (as typed: `typed`) under `policy`. `local_digest` is the digest the
/// local image was pulled as (its RepoDigests), used when the tag is not to be
/// re-resolved: then a cached verdict costs no network round trip.
pub async fn check(
    image: &ImageRef,
    typed: &str,
    policy: &SignaturePolicy,
    local_digest: Option<String>,
    cache: &VerdictCache,
) -> Result<Outcome> {
    let requirement = policy.requirement(image);
    let refuse = |why: String, requirement: &Requirement, digest: Option<&str>| {
        let asked = match digest {
            Some(d) => format!("{} ({d})", crate::sanitize::line(typed, 120)),
            None => crate::sanitize::line(typed, 120),
        };
        let fix = match requirement.rule {
            Rule::Reject => format!("the policy rejects every image there ({})", requirement.source),
            _ => format!(
                "expected a cosign signature by {} ({}); sign it with `cosign sign --key KEY {}@DIGEST` or \
                 change that setting",
                requirement.expected(),
                requirement.source,
                image.repository()
            ),
        };
        Outcome::Refused(Box::new(Refusal::never(asked, why, fix)))
    };
    let sets = match &requirement.rule {
        Rule::Anything => return Ok(Outcome::Anything(requirement)),
        Rule::Reject => return Ok(refuse("its signature policy rejects it".into(), &requirement, None)),
        Rule::Signed(sets) if sets.iter().any(|s| s.keys.is_empty()) => {
            return Ok(refuse("no key is configured to verify it with".into(), &requirement, None));
        }
        Rule::Signed(sets) => sets.clone(),
    };
    // The registry client (credentials, TLS roots) is made only when a registry is asked:
    // a cached verdict for a known digest needs none.
    let connect = || {
        let credentials = crate::engine::auth::credentials(&crate::engine::endpoint::config_dir(&super::env), image);
        Registry::new(&image.domain, &image.path, policy.plain_http_allowed(&image.domain), credentials)
            .map_err(|e| anyhow::anyhow!("cannot verify the signature of {typed}: {e}"))
    };
    let unreachable = |e: RegistryError, requirement: &Requirement| {
        refuse(format!("its signature cannot be checked: {e}"), requirement, None)
    };
    let mut registry = None;
    let digest = match image.digest.clone().or(local_digest) {
        Some(d) => d,
        None => {
            let r = registry.insert(connect()?);
            match fetch::digest_of(r, image.tag.as_deref().unwrap_or("latest")).await {
                Ok(d) => d,
                Err(RegistryError::Status(404)) => {
                    return Ok(refuse("the registry has no such tag to verify".into(), &requirement, None));
                }
                Err(e) => return Ok(unreachable(e, &requirement)),
            }
        }
    };
    let rule = requirement.fingerprint();
    let pinned = ImageRef { tag: None, digest: Some(digest.clone()), ..image.clone() };
    let repository = image.repository();
    if let Some(accepted) = cache.get(&repository, &digest, &rule) {
        return Ok(Outcome::Verified { requirement, digest, accepted, cached: true, pinned });
    }
    let registry = match registry {
        Some(r) => r,
        None => connect()?,
    };
    // Both layouts at once: the classic `.sig` tag and the bundles attached as referrers.
    let (classic, bundles) = tokio::join!(fetch::signatures(&registry, &digest), fetch::bundles(&registry, &digest));
    let (mut signed, mut unreadable) = match classic {
        Ok(found) => found,
        Err(e) => return Ok(unreachable(e, &requirement)),
    };
    match bundles {
        Ok((mut s, mut u)) => {
            signed.append(&mut s);
            unreadable.append(&mut u);
        }
        // The classic read worked, so the registry is up: a failing referrers read is
        // one unreadable signature source, not a reason to stop.
        Err(e) => unreadable.push(format!("bundles: {e}")),
    }
    let mut accepted = Vec::new();
    for set in &sets {
        let repo = set.same_repository.then_some(repository.as_str());
        match judge::judge(&digest, &signed, &set.keys, repo) {
            Ok(a) => accepted.push(a),
            Err(r) => {
                let mut why = r.describe();
                if r == Rejected::Unsigned && !unreadable.is_empty() {
                    why += &format!(" (unreadable: {})", unreadable.join("; "));
                }
                return Ok(refuse(why, &requirement, Some(&digest)));
            }
        }
    }
    cache.put(&repository, &digest, &rule, &accepted);
    Ok(Outcome::Verified { requirement, digest, accepted, cached: false, pinned })
}

/// The check `run`, `create` and `compose up` make before anything is pulled or created,
/// when the profile requires signatures or `--disable-content-trust=false` asks: the
/// verified `repo@digest` to create from, `None` when nothing needs verifying, and the
/// refusal as an error. With `--pull missing`/`never` the digest the local image was
/// pulled as is what would run, so that is the one verified.
pub async fn before_create(
    engine: &crate::engine::Engine,
    typed: &str,
    pull: crate::request::PullPolicy,
    profile: &crate::profile::Profile,
    asked: bool,
    quiet: bool,
) -> Result<Option<ImageRef>> {
    use crate::request::PullPolicy;
    let policy = &profile.image.signatures;
    if !policy.required && !asked {
        return Ok(None);
    }
    let image = ImageRef::parse(typed).map_err(anyhow::Error::msg)?;
    let local = match (&image.digest, pull) {
        (None, PullPolicy::Missing | PullPolicy::Never) => {
            engine.image(typed).await?.and_then(|f| image.digest_among(&f.repo_digests))
        }
        _ => None,
    };
    let cache = VerdictCache::new(&super::cache_home());
    match check(&image, typed, policy, local, &cache).await? {
        Outcome::Anything(_) => Ok(None),
        Outcome::Refused(r) => Err(super::plan::Refused(vec![*r]).into()),
        Outcome::Verified { accepted, cached, pinned, .. } => {
            if !quiet {
                let by: Vec<String> = accepted.iter().map(|a| format!("{} ({})", a.key_path, a.key_kind)).collect();
                let from = if cached { ", verdict cached" } else { "" };
                let line = format!("verified {} signed by {}{from}", pinned.familiar(), by.join(" and "));
                eprintln!("hardrun: {}", crate::sanitize::escape(&line));
            }
            Ok(Some(pinned))
        }
    }
}

/// `hardrun image verify IMAGE`: the verdict under the profile's keys, whether or not the
/// profile requires signatures. The tag is always resolved through the registry (what a
/// pull would get now); a verified digest's verdict is cached like a run's.
pub async fn verify(cmd: &crate::cli::ImageVerifyCommand, global: &crate::cli::Global) -> Result<i32> {
    use crate::cli::ReportFormat;
    let cwd = super::cwd()?;
    let profile = super::load_profile(global, &crate::profile::Loader::standard(&cwd, &super::env))?;
    let image = ImageRef::parse(&cmd.image).map_err(anyhow::Error::msg)?;
    let cache = VerdictCache::new(&super::cache_home());
    let outcome = check(&image, &cmd.image, &profile.image.signatures, None, &cache).await?;
    let report = match &outcome {
        Outcome::Anything(r) => serde_json::json!({
            "image": cmd.image, "verified": false, "needed": false, "rule": r.source,
        }),
        Outcome::Verified { requirement, digest, accepted, cached, pinned } => serde_json::json!({
            "image": cmd.image, "verified": true, "digest": digest, "run_as": pinned.familiar(),
            "rule": requirement.source, "signed_by": accepted, "cached": cached,
        }),
        Outcome::Refused(r) => serde_json::json!({
            "image": cmd.image, "verified": false, "refusal": r.to_string(),
        }),
    };
    match cmd.format {
        ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        ReportFormat::Table => match &outcome {
            Outcome::Anything(r) => println!("{}: no signature needed ({})", cmd.image, r.source),
            Outcome::Verified { requirement, digest, accepted, cached, pinned } => {
                println!("{}: verified", crate::sanitize::escape(&cmd.image));
                println!("  digest     {digest}");
                println!("  runs as    {}", pinned.familiar());
                for a in accepted {
                    println!(
                        "  signed by  {} ({}, {})",
                        crate::sanitize::escape(&a.key_path),
                        a.key_kind,
                        a.key_fingerprint
                    );
                    if !a.docker_reference.is_empty() {
                        println!("  signed as  {}", crate::sanitize::escape(&a.docker_reference));
                    }
                }
                println!("  rule       {}{}", requirement.source, if *cached { " (verdict cached)" } else { "" });
            }
            Outcome::Refused(r) => println!("{r}"),
        },
    }
    Ok(match outcome {
        Outcome::Refused(_) => 1,
        _ => 0,
    })
}
