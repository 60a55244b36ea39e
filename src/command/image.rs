//! `hardrun image check IMAGE`: the image gate alone, every check reported with the
//! profile key that governs it; and `hardrun plan --pin`: the digest-pinned reference.

use std::fmt::Write as _;

use anyhow::Result;
use serde_json::json;

use super::gate::{self, Wants};
use super::{cwd, env, load_profile};
use crate::cli::{Global, ImageCheckCommand, PlanCommand, ReportFormat};
use crate::engine::lifecycle::Signals;
use crate::engine::{Engine, endpoint};
use crate::image::facts::ScanResult;
use crate::image::gate::{Check, Status, judge, pinned};
use crate::image::minimal::{Tools, size_and_layers};
use crate::image::{ImageFacts, ImageRef, scan, secrets};
use crate::policy::Refusal;
use crate::profile::{Loader, Profile};
use crate::request::{PullPolicy, RunRequest};

pub async fn check(cmd: &ImageCheckCommand, global: &Global, quiet: bool) -> Result<i32> {
    let cwd = cwd()?;
    let profile = load_profile(global, &Loader::standard(&cwd, &env))?;
    let image = ImageRef::parse(&cmd.image).map_err(anyhow::Error::msg)?;
    let pull = PullPolicy::parse(&cmd.pull).map_err(anyhow::Error::msg)?;
    let mut signals = Signals::install()?;
    let engine = Engine::connect(endpoint::resolve(global, &env)?).await?;
    let wants = Wants { profile: &profile, pull, platform: None, quiet, everything: true };
    let facts = gate::gather(&engine, &image, &cmd.image, &wants, &mut signals).await?;
    let daemon = engine.daemon_facts().await?;
    let root_allowed = profile.user.allow_root && (daemon.userns || daemon.rootless);

    let mut checks = judge(&image, &cmd.image, Some(&facts), &profile.image);
    // The user and where it may write after the reference checks, as a run decides them.
    let (user, writable) = run_checks(&cmd.image, &facts, &profile, &cwd, root_allowed);
    checks.insert(3, user);
    checks.insert(4, writable);
    match cmd.format {
        ReportFormat::Table => print!("{}", table(&image, &facts, &profile, &checks)),
        ReportFormat::Json => {
            println!("{}", serde_json::to_string_pretty(&report(&cmd.image, &image, &facts, &profile, &checks))?)
        }
    }
    Ok(if checks.iter().any(|c| c.status == Status::Refuse) { 1 } else { 0 })
}

/// `hardrun plan --pin`: prints the pinned reference on stdout and runs nothing.
pub async fn pin(cmd: &PlanCommand, global: &Global) -> Result<i32> {
    let req = cmd.docker.to_request(&cwd()?, &env).map_err(anyhow::Error::msg)?;
    let image = ImageRef::parse(&req.image).map_err(anyhow::Error::msg)?;
    let engine = Engine::connect(endpoint::resolve(global, &env)?).await?;
    println!("{}", gate::pinned(&engine, &image, &req.image, req.pull).await?.familiar());
    Ok(0)
}

/// Who a run of the image without flags runs as, and whether that user can write its
/// VOLUMEs and folders: decided by `policy::harden` itself, so the report says what a
/// run does.
fn run_checks(
    typed: &str,
    facts: &ImageFacts,
    profile: &Profile,
    cwd: &std::path::Path,
    root_allowed: bool,
) -> (Check, Check) {
    let req = RunRequest { image: typed.to_string(), ..RunRequest::default() };
    let mut host = crate::host::gather(&req, profile, cwd, None);
    host.image = Some(facts.clone());
    host.userns_remapped = root_allowed;
    host.daemon_asked = true;
    match crate::policy::harden(&req, profile, &host) {
        Ok(plan) => {
            let decided = plan.decisions.iter().find(|d| d.control == "user");
            let who = match (decided, &plan.run_as) {
                (Some(d), Some(ids)) if !d.value.starts_with(ids.as_str()) => {
                    format!("runs as {} ({ids}), from {}", d.value, d.source)
                }
                (Some(d), _) => format!("runs as {}, from {}", d.value, d.source),
                (None, _) => "runs as the image's user".into(),
            };
            let user = Check::new("user", "user.default", Status::Pass, who);
            let writable = match plan.warnings.as_slice() {
                [] => Check::new("writable", "filesystem.image_tmpfs", Status::Pass, writable_summary(&plan)),
                warnings => Check::warn(
                    "writable",
                    "filesystem.image_tmpfs",
                    format!("image {typed}"),
                    warnings.join("; "),
                    "run as the owner of those folders, or give them to the run user",
                ),
            };
            (user, writable)
        }
        Err(refusals) => {
            let user = refusals
                .iter()
                .find(|r| {
                    r.asked.contains("USER")
                        || r.asked.contains("user")
                        || r.profile_key.as_deref().is_some_and(|k| k.starts_with("user."))
                })
                .map(|r| Check::refuse("user", "user.default", r.asked.clone(), r.why.clone(), r.fix.clone()))
                .unwrap_or_else(|| {
                    Check::new(
                        "user",
                        "user.default",
                        Status::Skip,
                        "not decided: the run is refused for other reasons",
                    )
                });
            (user, Check::new("writable", "filesystem.image_tmpfs", Status::Skip, "not decided: the run is refused"))
        }
    }
}

/// `/run/postgresql tmpfs, /var/lib/postgresql/data image volume`: where the run user writes.
fn writable_summary(plan: &crate::plan::Plan) -> String {
    let places: Vec<String> =
        plan.writable.iter().filter(|w| w.writable == Some(true)).map(|w| format!("{} ({})", w.path, w.kind)).collect();
    match places.as_slice() {
        [] => "nothing writable but what the run adds".into(),
        p => format!("the run user can write {}", p.join(", ")),
    }
}

fn refusal(c: &Check) -> Refusal {
    Refusal::unless(c.asked.clone(), c.detail.clone(), c.fix.clone(), c.key)
}

/// The report for people: the image's facts, one line per check, then each refusal and
/// warning in full, as `run` would print it. What the image and the daemon said is
/// escaped: it cannot drive the terminal or add lines.
fn table(image: &ImageRef, facts: &ImageFacts, profile: &Profile, checks: &[Check]) -> String {
    use crate::sanitize::{LINE_MAX, escape, line};
    let mut out = String::new();
    let tools = facts.contents.as_ref().map(|c| Tools::from_executables(&c.executables));
    let none = |v: &[String]| if v.is_empty() { "none".to_string() } else { v.join(", ") };
    let user = if facts.user.is_empty() { "none (root)" } else { facts.user.as_str() };
    let rows = [
        ("image", image.familiar()),
        ("id", facts.id.clone()),
        ("digest", facts.digest.clone().unwrap_or_else(|| "none".into())),
        ("profile", profile.name.clone()),
        ("size", size_and_layers(facts.size, facts.layers)),
        ("USER", user.to_string()),
        ("shells", tools.as_ref().map_or("not examined".into(), |t| none(&t.shells))),
        ("packagers", tools.as_ref().map_or("not examined".into(), |t| none(&t.package_managers))),
    ];
    for (k, v) in rows {
        let _ = writeln!(out, "{k:<10} {}", line(&v, LINE_MAX));
    }
    let key_w = checks.iter().map(|c| c.key.len()).max().unwrap_or(3).max(11);
    let _ = writeln!(out, "\n{:<9} {:<7} {:<key_w$}  DETAIL", "CHECK", "RESULT", "PROFILE KEY");
    for c in checks {
        let _ = writeln!(out, "{:<9} {:<7} {:<key_w$}  {}", c.check, c.status.as_str(), c.key, escape(&c.detail));
    }
    let problems: Vec<&Check> = checks.iter().filter(|c| matches!(c.status, Status::Refuse | Status::Warn)).collect();
    if !problems.is_empty() {
        out.push('\n');
    }
    for c in problems {
        match c.status {
            Status::Refuse => {
                let _ = writeln!(out, "{}", refusal(c));
            }
            _ => {
                let text = format!("{}: {}; {} (profile key {})", c.asked, c.detail, c.fix, c.key);
                let _ = writeln!(out, "warning: {}", escape(&text));
            }
        }
    }
    out
}

/// The `--format json` report.
fn report(typed: &str, image: &ImageRef, facts: &ImageFacts, profile: &Profile, checks: &[Check]) -> serde_json::Value {
    let tools = facts.contents.as_ref().map(|c| Tools::from_executables(&c.executables));
    let found = match &facts.history {
        Some(h) => secrets::find(&facts.env, &facts.labels, h),
        None => secrets::find(&facts.env, &facts.labels, &[]),
    };
    let vulnerabilities = facts.scan.as_ref().map(|s| match s {
        ScanResult::Findings { scanner, findings } => {
            let threshold = profile.image.scan.as_ref().map(|s| scan::Severity::parse(&s.fail_on));
            let blocking = threshold.map(|t| scan::at_or_above(findings, t).len());
            json!({"scanner": scanner, "total": findings.len(), "at_or_above_fail_on": blocking, "findings": findings})
        }
        ScanResult::Unavailable { scanner, reason } => json!({"scanner": scanner, "unavailable": reason}),
    });
    json!({
        "image": typed,
        "repository": image.repository(),
        "id": facts.id,
        "digest": facts.digest,
        "pinned": pinned(image, Some(facts), &profile.image).map(|p| p.familiar()),
        "profile": profile.name,
        "user": facts.user,
        "size": facts.size,
        "layers": facts.layers,
        "shells": tools.as_ref().map(|t| &t.shells),
        "package_managers": tools.as_ref().map(|t| &t.package_managers),
        "executables": facts.contents.as_ref().map(|c| &c.executables),
        "secrets": found.iter().map(|s| json!({"place": s.place.to_string(), "kind": s.kind, "value": s.masked})).collect::<Vec<_>>(),
        "vulnerabilities": vulnerabilities,
        "checks": checks,
        "refused": checks.iter().any(|c| c.status == Status::Refuse),
    })
}
