//! Gathering what the image gate judges, for `run`, `create`, `image check` and
//! `plan --pin`: the image made local (pulled per `--pull`, by digest when the profile
//! requires one), one inspect, and what the on-disk cache cannot answer (the history, a
//! look inside, a scan). The judging is in `image::gate`; this is the I/O around it.

use std::process::Stdio;

use anyhow::{Result, anyhow};

use super::cache_home;
use crate::engine::Engine;
use crate::engine::interrupt::{self, Phase};
use crate::engine::lifecycle::{ExitError, Signals, interrupted, shielded};
use crate::engine::pull::Progress;
use crate::image::cache::Cache;
use crate::image::facts::ScanResult;
use crate::image::{ImageFacts, ImageRef, look, scan};
use crate::profile::Profile;
use crate::profile::model::Scan;
use crate::profile::schema::SecretsRule;
use crate::request::PullPolicy;

/// What the caller is about to do with the image.
pub struct Wants<'a> {
    pub profile: &'a Profile,
    pub pull: PullPolicy,
    pub platform: Option<&'a str>,
    pub quiet: bool,
    /// Everything, whatever the profile asks (for the `image check` report).
    pub everything: bool,
}

/// The image's facts with everything the profile's gate needs. `typed` is the
/// reference as written.
pub async fn gather(
    engine: &Engine,
    image: &ImageRef,
    typed: &str,
    wants: &Wants<'_>,
    signals: &mut Signals,
) -> Result<ImageFacts> {
    let (mut facts, local_ref) = make_local(engine, image, typed, wants, signals).await?;
    if facts.digest.is_none() {
        facts.digest = image.digest.clone().or_else(|| image.digest_among(&facts.repo_digests));
    }
    let rule = &wants.profile.image;
    let cache = Cache::new(&cache_home());
    let mut entry = cache.image(&facts.id);
    let mut changed = false;
    if (rule.secrets != SecretsRule::Off || wants.everything) && entry.history.is_none() {
        entry.history = Some(engine.image_history(&facts.id).await?);
        changed = true;
    }
    // Always looked at once per image: who runs it and where it may write depend on
    // what is inside (its passwd, the owners of its folders, its entrypoint script).
    if entry.contents.is_none() {
        let wanted = look::look_for(&facts);
        // A look creates a container: let it finish and remove it before a signal counts
        // (under `interrupt::guarded` a signal ends it at once, and the clean-up finds
        // the probe by its owner label).
        let look = engine.look_inside(&facts.id, &wanted);
        interrupt::enter(Phase::Looking);
        let (looked, caught) = shielded(look, signals).await;
        interrupt::enter(Phase::Image);
        if let Some(s) = caught {
            return Err(interrupted(s, &format!("while looking inside {typed}; nothing was left behind")));
        }
        entry.contents = Some(looked?);
        changed = true;
    }
    if changed {
        cache.store_image(&facts.id, &entry);
    }
    facts.history = entry.history;
    facts.contents = entry.contents;
    if let Some(config) = &rule.scan {
        facts.scan = Some(scan_image(config, &facts.id, &local_ref, &cache, wants.quiet, signals).await?);
    }
    Ok(facts)
}

/// The image, pulled per `--pull` when needed: its inspect and a reference the daemon
/// knows it by. With `image.require_digest`, a pull asks the registry for the tag's
/// digest first and pulls that, so what runs is what was resolved.
async fn make_local(
    engine: &Engine,
    image: &ImageRef,
    typed: &str,
    wants: &Wants<'_>,
    signals: &mut Signals,
) -> Result<(ImageFacts, String)> {
    if wants.pull != PullPolicy::Always
        && let Some(facts) = engine.image(typed).await?
    {
        return Ok((facts, typed.to_string()));
    }
    if wants.pull == PullPolicy::Never {
        return Err(anyhow!(
            "no such image {typed} locally, and --pull never forbids pulling it; pull it first or drop --pull never"
        ));
    }
    let resolved = match wants.profile.image.require_digest && image.digest.is_none() {
        true => Some(engine.registry_digest(image).await?),
        false => None,
    };
    let target = resolved.as_deref().map_or_else(|| image.clone(), |d| image.pinned(d));
    if wants.pull == PullPolicy::Missing && !wants.quiet {
        eprintln!("Unable to find image '{typed}' locally");
    }
    let progress = Progress::for_stderr(wants.quiet);
    interrupt::enter(Phase::Pulling);
    tokio::select! {
        r = engine.pull(&target, wants.platform, progress) => r?,
        s = signals.recv() => {
            return Err(ExitError { code: 128 + s.1, message: format!("{} received while pulling {typed}; nothing was created", s.0) }.into());
        }
    }
    interrupt::enter(Phase::Image);
    // Pulled by digest, the image has no tag yet: it is known by repository@digest.
    let local_ref = match &resolved {
        Some(d) => ImageRef { tag: None, digest: Some(d.clone()), ..image.clone() }.familiar(),
        None => typed.to_string(),
    };
    let mut facts =
        engine.image(&local_ref).await?.ok_or_else(|| anyhow!("{typed} is still missing after the pull"))?;
    facts.digest = resolved;
    Ok((facts, local_ref))
}

/// `hardrun plan --pin`: the reference pinned to the digest the image has locally, or
/// (not local, or `--pull always`) the digest its registry serves for the tag.
pub async fn pinned(engine: &Engine, image: &ImageRef, typed: &str, pull: PullPolicy) -> Result<ImageRef> {
    if image.digest.is_some() {
        return Ok(image.clone());
    }
    if pull != PullPolicy::Always
        && let Some(facts) = engine.image(typed).await?
    {
        let digest = image.digest_among(&facts.repo_digests).ok_or_else(|| {
            anyhow!(
                "{typed} is local without a digest from {} (it was built, imported or tagged here): push it \
                 (docker push {typed}), then pin it",
                image.repository()
            )
        })?;
        return Ok(image.pinned(&digest));
    }
    if pull == PullPolicy::Never {
        return Err(anyhow!("no such image {typed} locally, and --pull never forbids asking its registry"));
    }
    Ok(image.pinned(&engine.registry_digest(image).await?))
}

/// The scan's findings, from the cache when this scanner checked this image lately.
async fn scan_image(
    config: &Scan,
    image_id: &str,
    reference: &str,
    cache: &Cache,
    quiet: bool,
    signals: &mut Signals,
) -> Result<ScanResult> {
    let scanner = config.scanner.clone();
    if let Some(findings) = cache.scan(image_id, &scanner) {
        return Ok(ScanResult::Findings { scanner, findings });
    }
    if !quiet {
        eprintln!("hardrun: scanning {reference} with {}", crate::sanitize::escape(&scanner));
    }
    let result = run_scanner(&scanner, reference, signals).await?;
    if let ScanResult::Findings { findings, .. } = &result {
        cache.store_scan(image_id, &scanner, findings);
    }
    Ok(result)
}

/// The command line of a scanner: trivy and grype as they print JSON, or the profile's
/// own command with the reference appended.
pub fn scanner_argv(scanner: &str, reference: &str) -> Result<Vec<String>, String> {
    let mut argv: Vec<String> = match scanner {
        "trivy" => ["trivy", "image", "--format", "json", "--quiet"].map(String::from).to_vec(),
        "grype" => return Ok(["grype", reference, "-o", "json"].map(String::from).to_vec()),
        command => shell_words::split(command).map_err(|e| format!("image.scan.scanner {command:?}: {e}"))?,
    };
    if argv.is_empty() {
        return Err("image.scan.scanner is empty".into());
    }
    argv.push(reference.to_string());
    Ok(argv)
}

/// Runs the scanner (the user's own install, with hardrun's environment). Only a
/// signal is an error; a missing or failing scanner is a result the gate judges.
async fn run_scanner(scanner: &str, reference: &str, signals: &mut Signals) -> Result<ScanResult> {
    let unavailable = |reason: String| Ok(ScanResult::Unavailable { scanner: scanner.to_string(), reason });
    let argv = match scanner_argv(scanner, reference) {
        Ok(a) => a,
        Err(e) => return unavailable(e),
    };
    let program = &argv[0];
    let child = tokio::process::Command::new(program)
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && program.contains('/') => {
            return unavailable(format!("{program} does not exist"));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return unavailable(format!("{program} is not installed (not found on PATH)"));
        }
        Err(e) => return unavailable(format!("{program} could not be started: {e}")),
    };
    let output = tokio::select! {
        o = child.wait_with_output() => o?,
        s = signals.recv() => {
            return Err(ExitError { code: 128 + s.1, message: format!("{} received while scanning {reference}; nothing was created", s.0) }.into());
        }
    };
    if !output.status.success() {
        let err = String::from_utf8_lossy(&output.stderr);
        let last = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no message");
        return unavailable(format!("{program} failed ({}): {}", output.status, last.trim()));
    }
    match scan::parse(&String::from_utf8_lossy(&output.stdout)) {
        Ok(findings) => Ok(ScanResult::Findings { scanner: scanner.to_string(), findings }),
        Err(e) => unavailable(format!("{program} printed no Trivy- or Grype-shaped JSON: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::scanner_argv;

    #[test]
    fn scanner_command_lines() {
        assert_eq!(scanner_argv("trivy", "app:1").unwrap(), ["trivy", "image", "--format", "json", "--quiet", "app:1"]);
        assert_eq!(scanner_argv("grype", "app:1").unwrap(), ["grype", "app:1", "-o", "json"]);
        assert_eq!(
            scanner_argv("/opt/scan --db '/var/db dir'", "app:1").unwrap(),
            ["/opt/scan", "--db", "/var/db dir", "app:1"]
        );
        assert!(scanner_argv("", "app:1").is_err());
        assert!(scanner_argv("unterminated 'quote", "app:1").is_err());
    }
}
