//! The image gate: each check of an image against the profile's `image:` section (and
//! the image user against `user.default`), as a pure function of the reference, the
//! facts gathered about the image, and the profile. `policy` turns refusing checks into
//! refusals of the run; `hardrun image check` prints them all.

use serde::Serialize;

use super::facts::{ImageFacts, ScanResult};
use super::minimal::{Tools, size_and_layers};
use super::scan::{Severity, at_or_above, counts};
use super::{ImageRef, secrets};
use crate::profile::model::ImageRule;
use crate::profile::schema::{SecretsRule, TagRule};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    /// Reported, not judged (the profile does not ask).
    Info,
    /// Not checked (not asked, or nothing to check yet).
    Skip,
    /// A finding the profile lets through with a warning.
    Warn,
    Refuse,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Info => "info",
            Status::Skip => "skip",
            Status::Warn => "warn",
            Status::Refuse => "refuse",
        }
    }
}

/// One check's outcome; a refusal or a warning also says what was asked and the fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub check: &'static str,
    /// The profile key that governs it.
    pub key: &'static str,
    pub status: Status,
    pub detail: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub asked: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub fix: String,
}

impl Check {
    pub fn new(check: &'static str, key: &'static str, status: Status, detail: impl Into<String>) -> Check {
        Check { check, key, status, detail: detail.into(), asked: String::new(), fix: String::new() }
    }

    pub fn refuse(check: &'static str, key: &'static str, asked: String, why: String, fix: impl Into<String>) -> Check {
        Check { check, key, status: Status::Refuse, detail: why, asked, fix: fix.into() }
    }

    pub fn warn(check: &'static str, key: &'static str, asked: String, why: String, fix: impl Into<String>) -> Check {
        Check { check, key, status: Status::Warn, detail: why, asked, fix: fix.into() }
    }
}

/// Every image check. `typed` is the reference as the user wrote it; `facts` is `None`
/// before the image is local (plan without a daemon, run before it pulls), when only
/// the reference can be judged.
pub fn judge(image: &ImageRef, typed: &str, facts: Option<&ImageFacts>, rule: &ImageRule) -> Vec<Check> {
    let asked = format!("image {typed}");
    let mut out = vec![tags(image, &asked, rule.tags), registry(image, &asked, &rule.registries)];
    out.push(digest(image, &asked, facts, rule.require_digest));
    out.extend(secret_checks(&asked, facts, rule.secrets));
    out.push(minimal(&asked, facts, rule.minimal));
    out.push(scan(&asked, facts, rule));
    out
}

/// The reference to run when the profile requires a digest and the gate found one.
pub fn pinned(image: &ImageRef, facts: Option<&ImageFacts>, rule: &ImageRule) -> Option<ImageRef> {
    if !rule.require_digest || image.digest.is_some() {
        return None;
    }
    Some(image.pinned(facts?.digest.as_deref()?))
}

/// How to meet `image.tags: minor` without inventing a version: the tag's own major
/// with its minor left for the user to fill in from the registry, or the digest.
fn minor_fix(image: &ImageRef) -> String {
    let name = ImageRef { tag: None, digest: None, ..image.clone() }.familiar();
    let tag = image.tag.as_deref().unwrap_or("latest");
    let major = tag.strip_prefix('v').unwrap_or(tag);
    let numeric = !major.is_empty() && major.bytes().all(|b| b.is_ascii_digit());
    match numeric {
        true => format!(
            "name the minor version too ({name}:{tag}.MINOR, as {name}'s registry lists its tags), or pin what {tag} is now: `hardrun plan --pin {name}:{tag}`"
        ),
        false => format!(
            "name a MAJOR.MINOR version tag of {name} (as its registry lists them), or pin what {tag} is now: `hardrun plan --pin {name}:{tag}`"
        ),
    }
}

fn tags(image: &ImageRef, asked: &str, rule: TagRule) -> Check {
    const KEY: &str = "image.tags";
    let refuse = |why: &str, fix: String| Check::refuse("tag", KEY, asked.to_string(), why.into(), fix);
    match rule {
        TagRule::Fixed if image.is_floating() => refuse(
            "a missing or `latest` tag floats: each pull may run different code, unreviewed",
            format!(
                "name a fixed version, e.g. {}:1.2.3, or pin a digest with `hardrun plan --pin`",
                ImageRef { tag: None, digest: None, ..image.clone() }.familiar()
            ),
        ),
        TagRule::Minor if !image.has_minor_version() => {
            refuse("the profile wants at least a major.minor version tag, so what runs is known", minor_fix(image))
        }
        TagRule::Digest if image.digest.is_none() => refuse(
            "the profile runs images by digest only, so the bytes cannot change under a tag",
            "pin the digest: `hardrun plan --pin` prints the pinned reference".into(),
        ),
        _ => {
            let what = match (&image.digest, &image.tag) {
                (Some(d), _) => format!("pinned to {d}"),
                (None, Some(t)) => format!("tag {t}"),
                (None, None) => "no tag (latest)".into(),
            };
            let rule = match rule {
                TagRule::Any => "any reference is allowed",
                TagRule::Fixed => "not floating",
                TagRule::Minor => "names a major.minor version",
                TagRule::Digest => "a digest",
            };
            Check::new("tag", KEY, Status::Pass, format!("{what}: {rule}"))
        }
    }
}

/// `registry.example.com` allows the whole registry; `registry.example.com/team` a prefix;
/// `docker.io/library` the official images.
pub fn allowed_by(image: &ImageRef, rule: &str) -> bool {
    let repo = image.repository();
    let rule = rule.trim_end_matches('/');
    repo == rule || repo.starts_with(&format!("{rule}/"))
}

fn registry(image: &ImageRef, asked: &str, registries: &[String]) -> Check {
    const KEY: &str = "image.registries";
    if registries.is_empty() {
        return Check::new("registry", KEY, Status::Pass, format!("{}: any registry is allowed", image.domain));
    }
    match registries.iter().find(|r| allowed_by(image, r)) {
        Some(r) => Check::new("registry", KEY, Status::Pass, format!("{} is allowed by {r}", image.repository())),
        None => Check::refuse(
            "registry",
            KEY,
            asked.to_string(),
            format!("{} is not among the allowed registries ({})", image.repository(), registries.join(", ")),
            "use an image from an allowed registry (mirror it there first)",
        ),
    }
}

fn digest(image: &ImageRef, asked: &str, facts: Option<&ImageFacts>, required: bool) -> Check {
    const KEY: &str = "image.require_digest";
    let known = facts.and_then(|f| f.digest.as_deref());
    match (required, &image.digest, facts) {
        (_, Some(d), _) => Check::new("digest", KEY, Status::Pass, format!("the reference is pinned to {d}")),
        (false, None, None) => Check::new("digest", KEY, Status::Skip, "not required"),
        (false, None, Some(_)) => Check::new(
            "digest",
            KEY,
            Status::Info,
            match known {
                Some(d) => format!("not required; the registry digest is {d}"),
                None => format!("not required; there is no registry digest for {}", image.repository()),
            },
        ),
        (true, None, None) => Check::new(
            "digest",
            KEY,
            Status::Skip,
            "resolved through the daemon when the image is local (`hardrun plan --pin` prints it)",
        ),
        (true, None, Some(_)) => match known {
            Some(d) => Check::new("digest", KEY, Status::Pass, format!("runs as {}", image.pinned(d).familiar())),
            None => Check::refuse(
                "digest",
                KEY,
                asked.to_string(),
                format!(
                    "the profile runs images by digest, and this one has no registry digest for {} (it was built, \
                     imported or tagged locally)",
                    image.repository()
                ),
                "push it to its registry and run it from there (`hardrun plan --pin` then prints the pinned reference)",
            ),
        },
    }
}

fn secret_checks(asked: &str, facts: Option<&ImageFacts>, rule: SecretsRule) -> Vec<Check> {
    const KEY: &str = "image.secrets";
    let Some(f) = facts else {
        return vec![Check::new("secrets", KEY, Status::Skip, "checked when the image is inspected")];
    };
    if rule == SecretsRule::Off {
        return vec![Check::new("secrets", KEY, Status::Skip, "not checked (image.secrets: off)")];
    }
    let history = f.history.as_deref().unwrap_or_default();
    let found = secrets::find(&f.env, &f.labels, history);
    if found.is_empty() {
        let history_note = match &f.history {
            Some(h) => format!("{} history entries", h.len()),
            None => "history not read".into(),
        };
        let detail = format!("none in {} env values, {} labels, {history_note}", f.env.len(), f.labels.len());
        return vec![Check::new("secrets", KEY, Status::Pass, detail)];
    }
    let status = if rule == SecretsRule::Warn { Status::Warn } else { Status::Refuse };
    found
        .into_iter()
        .map(|s| Check {
            check: "secrets",
            key: KEY,
            status,
            detail: format!("{} holds {} ({}): whoever can pull the image can read it", s.place, s.kind, s.masked),
            asked: format!("{asked} ({})", s.place),
            fix: "rebuild without it, pass it at run time (--env-file, a mounted secret file), and rotate it".into(),
        })
        .collect()
}

fn minimal(asked: &str, facts: Option<&ImageFacts>, required: bool) -> Check {
    const KEY: &str = "image.minimal";
    let Some(f) = facts else {
        return Check::new("minimal", KEY, Status::Skip, "examined when the image is local");
    };
    let size = size_and_layers(f.size, f.layers);
    let Some(contents) = &f.contents else {
        return Check::new("minimal", KEY, Status::Info, format!("{size}; contents not examined"));
    };
    let tools = Tools::from_executables(&contents.executables);
    let detail = format!("{size}; {}", tools.describe());
    match (required, tools.is_minimal()) {
        (false, _) => Check::new("minimal", KEY, Status::Info, detail),
        (true, true) => Check::new("minimal", KEY, Status::Pass, detail),
        (true, false) => Check::refuse(
            "minimal",
            KEY,
            asked.to_string(),
            format!("it carries {}: an intruder finds them ready to use", tools.carried()),
            "build FROM scratch or a distroless base and copy in only what the service needs",
        ),
    }
}

/// How many findings a refusal names before `(+N more)`.
const TOP_FINDINGS: usize = 5;

fn scan(asked: &str, facts: Option<&ImageFacts>, rule: &ImageRule) -> Check {
    let Some(config) = &rule.scan else {
        return Check::new("scan", "image.scan", Status::Skip, "no scanner configured");
    };
    let Some(result) = facts.and_then(|f| f.scan.as_ref()) else {
        return Check::new("scan", "image.scan", Status::Skip, "scanned when the image is local");
    };
    match result {
        ScanResult::Unavailable { scanner, reason } if config.required => Check::refuse(
            "scan",
            "image.scan.required",
            asked.to_string(),
            format!("the profile requires a vulnerability scan, and {reason}"),
            format!("install {scanner} (or name another in image.scan.scanner), or set image.scan.required: false"),
        ),
        ScanResult::Unavailable { reason, .. } => Check {
            fix: "install the scanner, or drop image.scan".into(),
            ..Check::new("scan", "image.scan.required", Status::Warn, format!("not scanned: {reason}"))
        },
        ScanResult::Findings { scanner, findings } => {
            let threshold = Severity::parse(&config.fail_on);
            let hits = at_or_above(findings, threshold);
            if hits.is_empty() {
                let detail = format!("{scanner}: {} findings, none at or above {threshold}", findings.len());
                return Check::new("scan", "image.scan.fail_on", Status::Pass, detail);
            }
            let mut top: Vec<String> = hits.iter().take(TOP_FINDINGS).map(|f| f.to_string()).collect();
            if hits.len() > TOP_FINDINGS {
                top.push(format!("+{} more", hits.len() - TOP_FINDINGS));
            }
            Check::refuse(
                "scan",
                "image.scan.fail_on",
                asked.to_string(),
                format!(
                    "{scanner} found {} {} at or above {threshold} ({}): {}",
                    hits.len(),
                    if hits.len() == 1 { "vulnerability" } else { "vulnerabilities" },
                    counts(&hits),
                    top.join("; ")
                ),
                "rebuild with the fixed package versions (update the base image), or raise image.scan.fail_on",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::image::facts::Contents;
    use crate::image::scan::Finding;
    use crate::profile::model::Scan;

    fn rule() -> ImageRule {
        ImageRule {
            tags: TagRule::Fixed,
            require_digest: false,
            registries: vec![],
            secrets: SecretsRule::Refuse,
            minimal: false,
            scan: None,
            signatures: Default::default(),
        }
    }

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn facts() -> ImageFacts {
        ImageFacts {
            user: "10001:10001".into(),
            id: "sha256:feed".into(),
            env: vec!["PATH=/bin".into()],
            labels: BTreeMap::from([("org.hardrun.test".into(), "1".into())]),
            size: 1_982_256,
            layers: 1,
            history: Some(vec!["Imported from -".into()]),
            contents: Some(Contents {
                executables: vec!["/bin/sh".into(), "/bin/busybox".into()],
                passwd: Some("root:x:0:0::/root:/bin/sh\napp:x:10001:10001::/home/app:/bin/sh\n".into()),
                group: Some("root:x:0:\napp:x:10001:\n".into()),
                ..Contents::default()
            }),
            ..ImageFacts::default()
        }
    }

    fn check<'c>(checks: &'c [Check], name: &str) -> &'c Check {
        checks.iter().find(|c| c.check == name).unwrap_or_else(|| panic!("no {name} check in {checks:#?}"))
    }

    fn run(typed: &str, facts: Option<&ImageFacts>, rule: &ImageRule) -> Vec<Check> {
        judge(&ImageRef::parse(typed).unwrap(), typed, facts, rule)
    }

    #[test]
    fn a_clean_image_passes_with_every_key_named() {
        let checks = run("app:1.2", Some(&facts()), &rule());
        assert!(checks.iter().all(|c| c.status != Status::Refuse && c.status != Status::Warn), "{checks:#?}");
        let keys: Vec<&str> = checks.iter().map(|c| c.key).collect();
        assert_eq!(
            keys,
            ["image.tags", "image.registries", "image.require_digest", "image.secrets", "image.minimal", "image.scan"]
        );
        assert_eq!(check(&checks, "minimal").detail, "1.982 MB in 1 layer; shell: busybox, sh; no package manager");
    }

    #[test]
    fn before_the_image_is_local_only_the_reference_is_judged() {
        let checks = run("app:latest", None, &rule());
        assert_eq!(check(&checks, "tag").status, Status::Refuse);
        assert!(check(&checks, "tag").fix.contains("e.g. app:1.2.3,"), "{}", check(&checks, "tag").fix);
        for name in ["digest", "secrets", "minimal", "scan"] {
            assert_eq!(check(&checks, name).status, Status::Skip, "{name}");
        }
    }

    #[test]
    fn digests() {
        let required = ImageRule { require_digest: true, ..rule() };
        let image = ImageRef::parse("127.0.0.1:5000/app:1").unwrap();
        let local = facts();
        let c = run("127.0.0.1:5000/app:1", Some(&local), &required);
        assert_eq!(check(&c, "digest").status, Status::Refuse);
        assert!(check(&c, "digest").detail.contains("no registry digest for 127.0.0.1:5000/app"));
        assert_eq!(pinned(&image, Some(&local), &required), None);
        let pulled = ImageFacts { digest: Some(D.into()), ..facts() };
        let c = run("127.0.0.1:5000/app:1", Some(&pulled), &required);
        assert_eq!(check(&c, "digest").status, Status::Pass);
        assert_eq!(pinned(&image, Some(&pulled), &required).unwrap().familiar(), format!("127.0.0.1:5000/app:1@{D}"));
        assert_eq!(pinned(&image, Some(&pulled), &rule()), None, "only when the profile asks");
        let by_digest = format!("127.0.0.1:5000/app@{D}");
        assert_eq!(check(&run(&by_digest, Some(&local), &required), "digest").status, Status::Pass);
    }

    #[test]
    fn secrets_refuse_warn_or_off() {
        let leaky = ImageFacts {
            env: vec![format!("AWS_ACCESS_KEY_ID=AKIA{}", "IOSFODNN7EXAMPLE")],
            history: Some(vec!["|1 DB_PASSWORD=hunter2 /bin/sh -c make".into()]),
            ..facts()
        };
        let refused: Vec<Check> =
            run("app:1", Some(&leaky), &rule()).into_iter().filter(|c| c.status == Status::Refuse).collect();
        assert_eq!(refused.len(), 2, "{refused:#?}");
        assert_eq!(refused[0].asked, "image app:1 (env AWS_ACCESS_KEY_ID)");
        assert!(refused[0].detail.contains("AKIA****** (20 chars)"));
        assert_eq!(refused[1].asked, "image app:1 (layer 1)");
        assert!(refused.iter().all(|c| !c.detail.contains("hunter2") && !c.detail.contains("IOSFODNN7EXAMPLE")));
        let warn = ImageRule { secrets: SecretsRule::Warn, ..rule() };
        assert!(run("app:1", Some(&leaky), &warn).iter().any(|c| c.status == Status::Warn));
        let off = ImageRule { secrets: SecretsRule::Off, ..rule() };
        assert_eq!(check(&run("app:1", Some(&leaky), &off), "secrets").status, Status::Skip);
    }

    #[test]
    fn minimal_images() {
        let strict = ImageRule { minimal: true, ..rule() };
        let c = run("app:1", Some(&facts()), &strict);
        assert_eq!(check(&c, "minimal").status, Status::Refuse);
        assert!(check(&c, "minimal").detail.contains("a shell (busybox, sh)"));
        let mut bare = facts();
        bare.contents.as_mut().unwrap().executables.clear();
        assert_eq!(check(&run("app:1", Some(&bare), &strict), "minimal").status, Status::Pass);
    }

    #[test]
    fn scans() {
        let finding = |id: &str, severity| Finding {
            id: id.into(),
            package: "openssl".into(),
            installed: "3.0.1".into(),
            fixed: Some("3.0.2".into()),
            severity,
            title: String::new(),
        };
        let scanning = |fail_on: &str, required| ImageRule {
            scan: Some(Scan { scanner: "trivy".into(), fail_on: fail_on.into(), required }),
            ..rule()
        };
        let with = |result| ImageFacts { scan: Some(result), ..facts() };
        let found = with(ScanResult::Findings {
            scanner: "trivy".into(),
            findings: (0..7).map(|i| finding(&format!("CVE-2024-000{i}"), Severity::High)).collect(),
        });
        let c = run("app:1", Some(&found), &scanning("HIGH", true));
        let s = check(&c, "scan");
        assert_eq!((s.status, s.key), (Status::Refuse, "image.scan.fail_on"));
        assert!(
            s.detail.starts_with("trivy found 7 vulnerabilities at or above HIGH (7 HIGH): CVE-2024-0000 in openssl")
        );
        assert!(s.detail.ends_with("+2 more"), "{}", s.detail);
        assert_eq!(check(&run("app:1", Some(&found), &scanning("CRITICAL", true)), "scan").status, Status::Pass);
        let missing =
            with(ScanResult::Unavailable { scanner: "trivy".into(), reason: "trivy is not installed".into() });
        let c = run("app:1", Some(&missing), &scanning("HIGH", true));
        assert_eq!((check(&c, "scan").status, check(&c, "scan").key), (Status::Refuse, "image.scan.required"));
        assert_eq!(check(&run("app:1", Some(&missing), &scanning("HIGH", false)), "scan").status, Status::Warn);
    }

    #[test]
    fn the_minor_tag_advice_invents_no_version() {
        let fix = |r: &str| minor_fix(&ImageRef::parse(r).unwrap());
        let f = fix("rw-postgres:15");
        assert!(f.contains("rw-postgres:15.MINOR") && f.contains("hardrun plan --pin rw-postgres:15"), "{f}");
        assert!(!f.contains("1.25"), "{f}");
        let f = fix("nginx");
        assert!(f.contains("a MAJOR.MINOR version tag of nginx") && f.contains("--pin nginx:latest"), "{f}");
        assert!(fix("ghcr.io/x/app:v3").contains("ghcr.io/x/app:v3.MINOR"));
        assert!(fix("app:stable").contains("pin what stable is now"));
    }
}
