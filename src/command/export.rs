//! `hardrun export kube` (a `hardrun run` command line) and `hardrun compose export
//! kube` (a Compose project): harden as `run` does, then write Kubernetes manifests that
//! meet Pod Security "restricted", with what they cannot carry on stderr and in the file.

use anyhow::Result;

use super::plan::Refused;
use super::{cwd, env, load_profile};
use crate::cli::{Global, KubeArgs, KubeRunCommand};
use crate::compose::{Project, Service};
use crate::kube::{self, Net, Workload};
use crate::plan::Plan;
use crate::policy;
use crate::profile::Loader;

/// `hardrun export kube [FLAGS] IMAGE [CMD...]`.
pub fn kube_run(cmd: &KubeRunCommand, global: &Global, quiet: bool) -> Result<i32> {
    let cwd = cwd()?;
    let req = cmd.docker.to_request(&cwd, &env).map_err(anyhow::Error::msg)?;
    let profile = load_profile(global, &Loader::standard(&cwd, &env))?;
    let host = crate::host::gather(&req, &profile, &cwd, env("DOCKER_HOST").as_deref());
    let plan = policy::harden(&req, &profile, &host).map_err(Refused)?;
    let name = req.name.clone().unwrap_or_else(|| plan.image.path.rsplit('/').next().unwrap_or("app").to_string());
    let none = plan.create.host_config.as_ref().and_then(|h| h.network_mode.as_deref()) == Some("none");
    let networks = if none { Vec::new() } else { vec![Net { key: "default".into(), internal: false }] };
    let workload = Workload { name, origin: String::new(), plan: &plan, health_exec: None, networks, replicas: None };
    write(&[workload], &cmd.kube, None, quiet)
}

/// `hardrun compose export kube`: one workload per service.
pub fn compose(project: &Project, hardened: &[(Service, Plan)], args: &KubeArgs, quiet: bool) -> Result<i32> {
    let workloads: Vec<Workload> = hardened
        .iter()
        .map(|(svc, plan)| {
            let mut networks: Vec<Net> = svc
                .networks
                .iter()
                .map(|key| {
                    let def = project.networks.get(key.as_str()).and_then(|d| d.as_mapping());
                    let internal = def.and_then(|d| d.get("internal")).and_then(|i| i.as_bool()) == Some(true);
                    Net { key: key.clone(), internal }
                })
                .collect();
            // network_mode: a mode other than none is a network the pod reaches out from.
            let mode = plan.create.host_config.as_ref().and_then(|h| h.network_mode.as_deref());
            if svc.networks.is_empty() && mode != Some("none") {
                networks.push(Net { key: mode.unwrap_or("bridge").to_string(), internal: false });
            }
            Workload {
                name: svc.name.clone(),
                origin: format!("services.{}", svc.name),
                plan,
                health_exec: svc.health_exec.as_deref(),
                networks,
                replicas: svc
                    .kept
                    .get("deploy")
                    .and_then(|d| d.get("replicas"))
                    .or(svc.kept.get("scale"))
                    .and_then(|r| r.as_i64())
                    .and_then(|r| i32::try_from(r).ok()),
            }
        })
        .collect();
    write(&workloads, args, Some(&project.name), quiet)
}

fn write(workloads: &[Workload], args: &KubeArgs, project: Option<&str>, quiet: bool) -> Result<i32> {
    let manifests = kube::export(workloads, &kube::Options { args, project }).map_err(Refused)?;
    for g in &manifests.gaps {
        eprintln!("hardrun: not carried over: {g}");
    }
    if !quiet {
        for n in &manifests.notes {
            eprintln!("hardrun: note: {n}");
        }
    }
    print!("{}", manifests.to_yaml());
    Ok(0)
}
