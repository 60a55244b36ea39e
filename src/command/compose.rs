//! `hardrun compose config|up|down|ps|logs|export`: read the project, harden every
//! service with the same policy as `run`, write the hardened file and hand it to the
//! Compose that is installed (`docker compose`, else docker-compose 1.x). `up` gates
//! every image and verifies every started container in the kernel.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, Result};

use super::plan::{Refused, seccomp_file};
use super::{cwd, env, load_profile};
use crate::cli::{ComposeAction, ComposeCommand, ComposeExport, ComposeVersion, Global};
use crate::compose::render::{self, Dialect};
use crate::compose::{self, Project, Service, file};
use crate::engine::endpoint;
use crate::engine::lifecycle::Signals;
use crate::plan::Plan;
use crate::policy::{self, Host, NetworkFacts, Refusal, VolumeFacts};
use crate::profile::{Loader, Profile};

mod tool;
mod up;
mod verify;

use tool::{Tool, state_file, write_state};
use up::Up;

pub async fn run(cmd: &ComposeCommand, global: &Global, quiet: bool, verbose: u8) -> Result<i32> {
    match &cmd.action {
        ComposeAction::Config { output, compose_version } => {
            let dialect = match compose_version {
                Some(ComposeVersion::V1) => Dialect::V1,
                Some(ComposeVersion::V2) => Dialect::V2,
                None => Tool::find().map_or(Dialect::V1, |t| t.dialect),
            };
            let (project, hardened) = harden_static(cmd, global, quiet)?;
            let text = hardened_file(&project, &hardened, dialect, quiet)?;
            match output {
                Some(path) => std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?,
                None => print!("{text}"),
            }
            Ok(0)
        }
        ComposeAction::Export(ComposeExport::Kube(args)) => {
            let (project, hardened) = harden_static(cmd, global, quiet)?;
            super::export::compose(&project, &hardened, args, quiet)
        }
        ComposeAction::Up { detach, no_verify, services } => {
            Up { cmd, global, quiet, verbose, detach: *detach, verify: !no_verify, services }.run().await
        }
        ComposeAction::Down(p) => pass_through(cmd, global, quiet, "down", &p.args).await,
        ComposeAction::Ps(p) => pass_through(cmd, global, quiet, "ps", &p.args).await,
        ComposeAction::Logs(p) => pass_through(cmd, global, quiet, "logs", &p.args).await,
    }
}

/// The project read and translated, or every problem in it.
fn load(cmd: &ComposeCommand) -> Result<(Project, Vec<Service>)> {
    let cwd = cwd()?;
    let opts = file::Options {
        files: &cmd.files,
        project_name: cmd.project_name.as_deref(),
        project_directory: cmd.project_directory.as_deref(),
        cwd: &cwd,
        env: &env,
    };
    let refused = |problems: Vec<compose::Problem>| Refused(problems.into_iter().map(Refusal::from).collect());
    let project = file::load(&opts).map_err(refused)?;
    let lookup = |k: &str| project.variable(&env, k);
    let services = compose::translate(&project, &lookup).map_err(refused)?;
    Ok((project, services))
}

/// The profile of each service: `--profile`/`--profile-file` for all when given, else
/// the service's `x-hardrun: {profile: NAME}`, else `default`.
struct Profiles {
    default: Profile,
    named: BTreeMap<String, Profile>,
    explicit: bool,
}

impl Profiles {
    fn load(global: &Global, services: &[Service], project_dir: &Path, quiet: bool) -> Result<Profiles> {
        let loader = Loader::standard(project_dir, &env);
        let default = load_profile(global, &loader)?;
        let explicit = global.profile.is_some() || global.profile_file.is_some();
        let mut named = BTreeMap::new();
        for svc in services {
            let Some(name) = &svc.profile else { continue };
            if explicit {
                if !quiet {
                    eprintln!(
                        "hardrun: note: services.{}: x-hardrun asks for profile {name}; the command line's {} applies",
                        svc.name, default.name
                    );
                }
                continue;
            }
            if !named.contains_key(name) {
                let p = loader.load(name).with_context(|| format!("services.{}.x-hardrun.profile", svc.name))?;
                named.insert(name.clone(), p);
            }
            if !quiet {
                eprintln!("hardrun: services.{}: profile {name} (from x-hardrun)", svc.name);
            }
        }
        Ok(Profiles { default, named, explicit })
    }

    fn of(&self, svc: &Service) -> &Profile {
        match (&svc.profile, self.explicit) {
            (Some(name), false) => self.named.get(name).unwrap_or(&self.default),
            _ => &self.default,
        }
    }
}

/// The facts every service is judged with; `image` per service when the daemon was asked.
struct Facts {
    volumes: BTreeMap<String, VolumeFacts>,
    /// The project's networks by daemon name: as the daemon has them, or (not created
    /// yet) as Compose will create them.
    networks: BTreeMap<String, NetworkFacts>,
    docker_host: Option<String>,
    apparmor: Option<bool>,
    apparmor_unloaded: Vec<String>,
    userns_remapped: bool,
    daemon_asked: bool,
    images: BTreeMap<String, crate::image::ImageFacts>,
}

impl Facts {
    fn host(&self, project: &Project, svc: &Service, profile: &Profile) -> Host {
        let mut host = crate::host::gather(&svc.req, profile, &project.dir, self.docker_host.as_deref());
        for key in &svc.volumes {
            if let Some(v) = self.volumes.get(key) {
                host.volumes.insert(key.clone(), v.clone());
            }
        }
        if self.apparmor.is_some() {
            host.apparmor = self.apparmor;
        }
        host.apparmor_unloaded = self.apparmor_unloaded.clone();
        host.userns_remapped = self.userns_remapped;
        host.daemon_asked = self.daemon_asked;
        host.image = self.images.get(&svc.name).cloned();
        host.networks.extend(self.networks.iter().map(|(k, v)| (k.clone(), v.clone())));
        host
    }
}

fn harden(
    project: &Project,
    services: Vec<Service>,
    profiles: &Profiles,
    facts: &Facts,
) -> Result<Vec<(Service, Plan)>, Refused> {
    compose::harden_all(services, |svc| {
        let profile = profiles.of(svc);
        policy::harden(&svc.req, profile, &facts.host(project, svc, profile))
    })
    .map_err(Refused)
}

/// Reading, translating and hardening without the daemon (`config`, `export`).
pub fn harden_static(cmd: &ComposeCommand, global: &Global, quiet: bool) -> Result<(Project, Vec<(Service, Plan)>)> {
    let (project, services) = load(cmd)?;
    let profiles = Profiles::load(global, &services, &project.dir, quiet)?;
    let facts = Facts {
        volumes: compose::storage::declared(&project).0,
        networks: BTreeMap::new(),
        docker_host: env("DOCKER_HOST"),
        apparmor: None,
        apparmor_unloaded: Vec::new(),
        userns_remapped: false,
        daemon_asked: false,
        images: BTreeMap::new(),
    };
    let hardened = harden(&project, services, &profiles, &facts)?;
    Ok((project, hardened))
}

/// The hardened file's text, with what it cannot carry and each plan's notices on stderr.
fn hardened_file(project: &Project, hardened: &[(Service, Plan)], dialect: Dialect, quiet: bool) -> Result<String> {
    let mut seccomp = BTreeMap::new();
    for (svc, plan) in hardened {
        seccomp.insert(svc.name.clone(), seccomp_file(plan)?);
    }
    let file_of = |plan: &Plan| {
        hardened
            .iter()
            .find(|(_, p)| std::ptr::eq(p, plan))
            .and_then(|(s, _)| seccomp.get(&s.name).cloned())
            .unwrap_or_default()
    };
    let doc = render::document(project, hardened, &file_of, dialect);
    let gaps = render::gaps(dialect);
    if !quiet {
        for name in &project.unset {
            eprintln!("hardrun: note: variable {name} is not set; Compose substitutes an empty string");
        }
        for (svc, plan) in hardened {
            for n in &plan.notices {
                eprintln!("hardrun: note: services.{}: {n}", svc.name);
            }
        }
        for g in &gaps {
            eprintln!("hardrun: note: {g}");
        }
    }
    // File names are the user's: written as comment text, so none can end the comment.
    let mut text = crate::yaml::comments(&format!(
        "Hardened by hardrun from {} (project {}). Regenerate it rather than edit it.",
        project.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "),
        project.name
    ));
    for g in &gaps {
        text += &crate::yaml::comments(&format!("not carried over: {g}"));
    }
    text += &crate::yaml::to_string(&doc);
    Ok(text)
}

/// `down`, `ps`, `logs`: Compose with the file `up` wrote (or, when there is none, the
/// hardened file made now).
async fn pass_through(cmd: &ComposeCommand, global: &Global, quiet: bool, verb: &str, args: &[String]) -> Result<i32> {
    let tool = Tool::required()?;
    let (project, _) = load(cmd)?;
    let path = state_file(&project);
    if !path.is_file() {
        let (project, hardened) = harden_static(cmd, global, true)?;
        write_state(&project, &hardened_file(&project, &hardened, tool.dialect, true)?)?;
    }
    let endpoint = endpoint::resolve(global, &env)?;
    let mut signals = Signals::install()?;
    let full: Vec<String> = std::iter::once(verb.to_string()).chain(args.iter().cloned()).collect();
    let code = tool.status(tool.command(&project, &path, &endpoint.host, &full), &mut signals).await?;
    if verb == "down" && code == 0 {
        let _ = std::fs::remove_file(&path);
        if !quiet {
            eprintln!("hardrun: project {} is down", project.name);
        }
    }
    Ok(code)
}
