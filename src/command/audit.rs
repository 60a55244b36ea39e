//! `hardrun audit`: existing containers judged against the loaded profile, in CIS Docker
//! Benchmark v1.6 section 5 terms, each finding with hardrun's reason and fix. Exit 1
//! when anything but informational findings turns up.
//!
//! The engine gathers (container inspect, daemon setup); `rules::findings` judges them
//! without I/O, so every rule is tested on real `docker inspect` output.

mod rules;
#[cfg(test)]
mod tests;

use anyhow::Result;
use bollard::models::ContainerInspectResponse;
use serde::Serialize;

use crate::cli::{AuditCommand, Global, ReportFormat};
use crate::command::{cwd, env, load_profile};
use crate::engine::inspect::DaemonSetup;
use crate::engine::{Engine, endpoint};
use crate::profile::{Loader, Profile};
pub use rules::{Finding, findings};

/// One audited container and what was found.
#[derive(Debug, Serialize)]
pub struct Report {
    pub id: String,
    pub name: String,
    pub image: String,
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn of(c: &ContainerInspectResponse, profile: &Profile, daemon: &DaemonSetup) -> Report {
        let id = c.id.clone().unwrap_or_default();
        Report {
            id: id.chars().take(12).collect(),
            name: c.name.clone().unwrap_or_default().trim_start_matches('/').to_string(),
            image: c.config.as_ref().and_then(|c| c.image.clone()).unwrap_or_default(),
            findings: findings(c, profile, daemon),
        }
    }

    fn failing(&self) -> usize {
        self.findings.iter().filter(|f| !f.informational).count()
    }
}

pub async fn run(cmd: &AuditCommand, global: &Global) -> Result<i32> {
    let profile = load_profile(global, &Loader::standard(&cwd()?, &env))?;
    let engine = Engine::connect(endpoint::resolve(global, &env)?).await?;
    let daemon = engine.setup().await?;
    let containers = engine.inspect_containers(&cmd.containers).await?;
    let reports: Vec<Report> = containers.iter().map(|c| Report::of(c, &profile, &daemon)).collect();
    let failing: usize = reports.iter().map(Report::failing).sum();
    match cmd.format {
        ReportFormat::Table => print!("{}", table(&reports, &profile.name)),
        ReportFormat::Json => {
            let doc = serde_json::json!({ "profile": profile.name, "containers": reports, "findings": failing });
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
    }
    // Like a linter: 1 when anything needs fixing.
    Ok(if failing > 0 { 1 } else { 0 })
}

/// A header per container with its real findings, one line each; then the informational
/// findings grouped, one line per kind however many containers share it (so the real
/// ones stand out); a summary at the end.
fn table(reports: &[Report], profile: &str) -> String {
    use crate::sanitize::escape;
    let mut out = String::new();
    for r in reports {
        let count = match r.failing() {
            0 => "nothing found".to_string(),
            n => format!("{n} finding(s)"),
        };
        // Names, images and findings quote the daemon's answers: escaped, one line each.
        let (name, id, image) = (escape(&r.name), escape(&r.id), escape(&r.image));
        out.push_str(&format!("{name} ({id}, {image}): {count}\n"));
        for f in r.findings.iter().filter(|f| !f.informational) {
            let key =
                f.profile_key.as_ref().map(|k| format!(" (or allow it with the profile key {k})")).unwrap_or_default();
            let cis = f.cis.unwrap_or("-");
            let text = format!("{}: {}; fix: {}{key}", f.detail, f.why, f.fix);
            out.push_str(&format!("  {cis:<5} {}\n", escape(&text)));
        }
    }
    for (f, names) in informational(reports) {
        let shown: Vec<String> = names.iter().take(3).map(|n| escape(n)).collect();
        let more = if names.len() > 3 { format!(", {} more", names.len() - 3) } else { String::new() };
        let cis = f.cis.map(|c| format!(" ({c})")).unwrap_or_default();
        let line = format!("{}: {}{more}; {}", f.detail, shown.join(", "), f.fix);
        out.push_str(&format!("info: {} container(s){cis}, {}\n", names.len(), escape(&line)));
    }
    let failing: usize = reports.iter().map(Report::failing).sum();
    out.push_str(&format!("audited {} container(s) against profile {profile}: {failing} finding(s)\n", reports.len()));
    out
}

/// Informational findings alike in kind and detail, with the containers that have them,
/// in the order first met.
fn informational(reports: &[Report]) -> Vec<(&Finding, Vec<&str>)> {
    let mut groups: Vec<(&Finding, Vec<&str>)> = Vec::new();
    for r in reports {
        for f in r.findings.iter().filter(|f| f.informational) {
            match groups.iter_mut().find(|(g, _)| g.check == f.check && g.detail == f.detail) {
                Some((_, names)) => names.push(&r.name),
                None => groups.push((f, vec![&r.name])),
            }
        }
    }
    groups
}
