//! `hardrun plan`: parse, load the profile, harden, and print the Plan.

use anyhow::{Context as _, Result};

use super::{cwd, env, load_profile};
use crate::cli::{Global, PlanCommand, PlanFormat};
use crate::plan::{Plan, SeccompSource, docker_argv, table};
use crate::policy::{self, Refusal};
use crate::profile::Loader;

/// The refusals of one invocation, reported together.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.iter().map(|r| r.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct Refused(pub Vec<Refusal>);

pub fn run(cmd: &PlanCommand, global: &Global) -> Result<i32> {
    let cwd = cwd()?;
    let req = cmd.docker.to_request(&cwd, &env).map_err(anyhow::Error::msg)?;
    let loader = Loader::standard(&cwd, &env);
    let profile = load_profile(global, &loader)?;
    let host = crate::host::gather(&req, &profile, &cwd, env("DOCKER_HOST").as_deref());
    let plan = policy::harden(&req, &profile, &host).map_err(Refused)?;
    match cmd.format {
        PlanFormat::Table => print!("{}", table::render(&plan)),
        PlanFormat::Json => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            serde_json::to_writer_pretty(&mut out, &plan.document())?;
            std::io::Write::write_all(&mut out, b"\n")?;
        }
        PlanFormat::Docker => println!("{}", docker_argv::render(&plan, &seccomp_file(&plan)?)),
    }
    Ok(0)
}

/// A file holding the plan's seccomp profile, for the docker CLI (which reads a path).
/// Bundled profiles are written once to the cache folder, named by content.
pub fn seccomp_file(plan: &Plan) -> Result<String> {
    match &plan.seccomp {
        SeccompSource::File(p) => Ok(p.clone()),
        SeccompSource::Bundled(name) => {
            let text = crate::seccomp::bundled(name).context("bundled seccomp profile missing")?;
            let dir = super::cache_home().join("hardrun/seccomp");
            let hash = text.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3));
            let path = dir.join(format!("{name}-{hash:016x}.json"));
            if !path.exists() {
                std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
                std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
            }
            Ok(path.display().to_string())
        }
    }
}
