//! `hardrun plan`: parse, load the profile, harden, and print the Plan.

use anyhow::{Context as _, Result};

use super::run::{Invocation, Mode};
use super::{cwd, env};
use crate::cli::{Global, PlanCommand, PlanFormat};
use crate::engine::lifecycle::Signals;
use crate::engine::{Engine, endpoint};
use crate::plan::{Plan, SeccompSource, docker_argv, table};
use crate::policy::{self, Refusal};

/// The refusals of one invocation, reported together.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.iter().map(|r| r.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct Refused(pub Vec<Refusal>);

/// The plan `run` would follow. With a reachable daemon and a local image it is made
/// exactly as `run` makes it (the image gate, its user and folders, volumes, networks),
/// changing nothing; otherwise from the flags and the profile alone, and it says so.
pub async fn run(cmd: &PlanCommand, global: &Global) -> Result<i32> {
    let cwd = cwd()?;
    let inv = Invocation::new(|cwd| cmd.docker.to_request(cwd, &env), global, true, 0, false)?;
    let endpoint = endpoint::resolve(global, &env);
    let docker_host = endpoint.as_ref().map(|e| e.host.clone()).ok().or_else(|| env("DOCKER_HOST"));
    let mut host = crate::host::gather(&inv.req, &inv.profile, &cwd, docker_host.as_deref());
    // What can be refused without the daemon is refused first, as `run` does.
    let offline = policy::harden(&inv.req, &inv.profile, &host).map_err(Refused)?;
    let engine = match (cmd.offline, endpoint) {
        (true, _) => Err("--offline".to_string()),
        (false, Err(e)) => Err(e.to_string()),
        (false, Ok(endpoint)) => Engine::connect(endpoint).await.map_err(|e| e.to_string()),
    };
    let plan = match engine {
        Ok(engine) => {
            let mut signals = Signals::install()?;
            let (mut plan, _) = inv.decide(&engine, &mut host, &mut signals, Mode::Plan).await?;
            if host.image.is_none() {
                plan.notices.push(format!(
                    "{} is not local: its user, folders and VOLUMEs are checked when `run` pulls it",
                    inv.req.image
                ));
            }
            plan
        }
        Err(why) => {
            let mut plan = offline;
            plan.notices.push(format!(
                "made without the daemon ({why}): the image, its user and folders, volumes and networks are not checked"
            ));
            plan
        }
    };
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
