//! Vulnerability scanners' reports: Trivy's and Grype's JSON read into one list of
//! findings, and which of them reach the profile's `image.scan.fail_on`.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Severities in rising order. Grype's `Negligible` sits below `Low`; `Unknown` (the
/// scanner could not rate it) sits lowest, so only `fail_on: UNKNOWN` counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Unknown,
    Negligible,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Trivy's `CRITICAL`, Grype's `Critical`, a profile's `critical`.
    pub fn parse(s: &str) -> Severity {
        match s.trim().to_ascii_uppercase().as_str() {
            "CRITICAL" => Severity::Critical,
            "HIGH" => Severity::High,
            "MEDIUM" => Severity::Medium,
            "LOW" => Severity::Low,
            "NEGLIGIBLE" => Severity::Negligible,
            _ => Severity::Unknown,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Unknown => "UNKNOWN",
            Severity::Negligible => "NEGLIGIBLE",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        })
    }
}

/// One vulnerability in one installed package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub id: String,
    pub package: String,
    pub installed: String,
    /// The version(s) that fix it, when there is a fix.
    pub fixed: Option<String>,
    pub severity: Severity,
    pub title: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The scanner read these from the image's package database: escaped and bounded.
        let shown = |s: &str| crate::sanitize::line(s, 80);
        write!(f, "{} in {} {} ({}", shown(&self.id), shown(&self.package), shown(&self.installed), self.severity)?;
        match &self.fixed {
            Some(v) => write!(f, ", fixed in {})", shown(v)),
            None => write!(f, ", no fix yet)"),
        }
    }
}

/// Reads a scanner's JSON: Trivy's (`Results[].Vulnerabilities[]`, also its older bare
/// array of results) or Grype's (`matches[]`). The same vulnerability reported for the
/// same package twice (Trivy lists it once per target) is kept once.
pub fn parse(json: &str) -> Result<Vec<Finding>, String> {
    let v: Value = serde_json::from_str(json).map_err(|e| format!("not JSON ({e})"))?;
    let mut findings = if let Some(matches) = v.get("matches") {
        grype(matches)?
    } else if let Some(results) = v.get("Results") {
        trivy(results)?
    } else if v.get("SchemaVersion").is_some() {
        // Trivy omits Results when it detected nothing to scan.
        Vec::new()
    } else if v.is_array() {
        // Trivy before schema 2 printed the array of results alone.
        trivy(&v)?
    } else {
        return Err("neither Trivy JSON (Results) nor Grype JSON (matches)".into());
    };
    let mut seen = std::collections::HashSet::new();
    findings.retain(|f| seen.insert((f.id.clone(), f.package.clone(), f.installed.clone())));
    Ok(findings)
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or_default().to_string()
}

fn trivy(results: &Value) -> Result<Vec<Finding>, String> {
    let results = match results {
        Value::Array(r) => r.as_slice(),
        Value::Null => &[],
        _ => return Err("Trivy's Results is not a list".into()),
    };
    let mut out = Vec::new();
    for result in results {
        let Some(vulns) = result.get("Vulnerabilities").and_then(Value::as_array) else { continue };
        for v in vulns {
            let fixed = text(v, "FixedVersion");
            out.push(Finding {
                id: text(v, "VulnerabilityID"),
                package: text(v, "PkgName"),
                installed: text(v, "InstalledVersion"),
                fixed: (!fixed.is_empty()).then_some(fixed),
                severity: Severity::parse(&text(v, "Severity")),
                title: text(v, "Title"),
            });
        }
    }
    Ok(out)
}

fn grype(matches: &Value) -> Result<Vec<Finding>, String> {
    let matches = match matches {
        Value::Array(m) => m.as_slice(),
        Value::Null => &[],
        _ => return Err("Grype's matches is not a list".into()),
    };
    let mut out = Vec::new();
    for m in matches {
        let vuln = m.get("vulnerability").ok_or("a Grype match without its vulnerability")?;
        let artifact = m.get("artifact").ok_or("a Grype match without its artifact")?;
        let versions: Vec<&str> = vuln
            .pointer("/fix/versions")
            .and_then(Value::as_array)
            .map(|v| v.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        // Grype has no title; the description's first sentence stands in.
        let description = text(vuln, "description");
        let title = description.split(". ").next().unwrap_or_default().trim_end_matches('.').to_string();
        out.push(Finding {
            id: text(vuln, "id"),
            package: text(artifact, "name"),
            installed: text(artifact, "version"),
            fixed: (!versions.is_empty()).then(|| versions.join(", ")),
            severity: Severity::parse(&text(vuln, "severity")),
            title,
        });
    }
    Ok(out)
}

/// The findings at or above `threshold`, worst first (fixable before unfixable, then by ID).
pub fn at_or_above(findings: &[Finding], threshold: Severity) -> Vec<&Finding> {
    let mut hits: Vec<&Finding> = findings.iter().filter(|f| f.severity >= threshold).collect();
    hits.sort_by(|a, b| {
        b.severity.cmp(&a.severity).then(b.fixed.is_some().cmp(&a.fixed.is_some())).then(a.id.cmp(&b.id))
    });
    hits
}

/// How many findings of each severity, worst first (`2 CRITICAL, 1 HIGH`).
pub fn counts(findings: &[&Finding]) -> String {
    let mut by: Vec<(Severity, usize)> = Vec::new();
    for f in findings {
        match by.iter_mut().find(|(s, _)| *s == f.severity) {
            Some((_, n)) => *n += 1,
            None => by.push((f.severity, 1)),
        }
    }
    by.sort_by_key(|b| std::cmp::Reverse(b.0));
    by.iter().map(|(s, n)| format!("{n} {s}")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn reads_trivy_reports() {
        let f = parse(&fixture("trivy-alpine.json")).unwrap();
        assert_eq!(f.len(), 4, "{f:#?}");
        let c = f.iter().find(|f| f.id == "CVE-2022-28391").unwrap();
        assert_eq!(
            (c.package.as_str(), c.installed.as_str(), c.fixed.as_deref(), c.severity),
            ("busybox", "1.34.1-r3", Some("1.34.1-r5"), Severity::High)
        );
        assert!(c.title.starts_with("busybox: remote attackers"), "{}", c.title);
        assert!(f.iter().any(|f| f.fixed.is_none()), "an unfixed finding stays without a fix");
        let clean = parse(&fixture("trivy-clean.json")).unwrap();
        assert!(clean.is_empty());
    }

    #[test]
    fn reads_grype_reports() {
        let f = parse(&fixture("grype-debian.json")).unwrap();
        assert_eq!(f.len(), 3, "{f:#?}");
        let c = f.iter().find(|f| f.id == "CVE-2023-4911").unwrap();
        assert_eq!(
            (c.package.as_str(), c.installed.as_str(), c.fixed.as_deref(), c.severity),
            ("libc6", "2.36-9+deb12u1", Some("2.36-9+deb12u3"), Severity::High)
        );
        let n = f.iter().find(|f| f.severity == Severity::Negligible).unwrap();
        assert_eq!(n.fixed, None);
        assert!(parse(r#"{"matches": [], "source": {"type": "image"}}"#).unwrap().is_empty());
    }

    #[test]
    fn thresholds_and_order() {
        let f = parse(&fixture("trivy-alpine.json")).unwrap();
        let high = at_or_above(&f, Severity::High);
        assert_eq!(high.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(), ["CVE-2022-37434", "CVE-2022-28391"]);
        assert_eq!(counts(&high), "1 CRITICAL, 1 HIGH");
        assert_eq!(at_or_above(&f, Severity::Critical).len(), 1);
        assert_eq!(at_or_above(&f, Severity::Low).len(), 4);
        let g = parse(&fixture("grype-debian.json")).unwrap();
        assert_eq!(at_or_above(&g, Severity::Low).len(), 2, "negligible stays below LOW");
        assert_eq!(at_or_above(&g, Severity::Unknown).len(), 3);
    }

    #[test]
    fn other_json_is_an_error() {
        for bad in ["", "{}", "[1", r#"{"matches": 3}"#, r#"{"Results": "x"}"#] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Severity::parse("Critical"), Severity::Critical);
        assert_eq!(Severity::parse("whatever"), Severity::Unknown);
    }
}
