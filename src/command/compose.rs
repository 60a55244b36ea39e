//! `hardrun compose config|up|down|ps|logs|export`: read the project, harden every
//! service with the same policy as `run`, write the hardened file and hand it to the
//! Compose that is installed (`docker compose`, else docker-compose 1.x). `up` gates
//! every image and verifies every started container in the kernel.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context as _, Result, anyhow};

use super::plan::{Refused, seccomp_file};
use super::{cache_home, cwd, env, load_profile};
use crate::cli::{ComposeAction, ComposeCommand, ComposeExport, ComposeVersion, Global};
use crate::compose::render::{self, Dialect};
use crate::compose::{self, Project, Service, file};
use crate::engine::lifecycle::Signals;
use crate::engine::{Engine, endpoint};
use crate::image::ImageRef;
use crate::plan::Plan;
use crate::policy::{self, Host, Refusal, VolumeFacts};
use crate::profile::{Loader, Profile};

/// Where the CLI plugin of `docker compose` (v2) lives.
const PLUGIN_DIRS: [&str; 4] = [
    "/usr/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
];

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
    let mut text = format!(
        "# Hardened by hardrun from {} (project {}). Regenerate it rather than edit it.\n",
        project.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "),
        project.name
    );
    for g in &gaps {
        text += &crate::yaml::comments(&format!("not carried over: {g}"));
    }
    text += &crate::yaml::to_string(&doc);
    Ok(text)
}

/// The Compose that runs the hardened file.
struct Tool {
    argv: Vec<String>,
    dialect: Dialect,
}

impl Tool {
    /// `docker compose` when its plugin is installed, else docker-compose on PATH.
    fn find() -> Option<Tool> {
        let home_plugins = env("HOME").map(|h| PathBuf::from(h).join(".docker/cli-plugins"));
        let plugin =
            PLUGIN_DIRS.iter().map(PathBuf::from).chain(home_plugins).any(|d| d.join("docker-compose").is_file());
        if plugin {
            return Some(Tool { argv: vec!["docker".into(), "compose".into()], dialect: Dialect::V2 });
        }
        let path = env("PATH").unwrap_or_default();
        let v1 = path.split(':').map(|d| Path::new(d).join("docker-compose")).find(|p| p.is_file())?;
        Some(Tool { argv: vec![v1.display().to_string()], dialect: Dialect::V1 })
    }

    fn required() -> Result<Tool> {
        Tool::find().ok_or_else(|| {
            anyhow!("no Compose found: install the docker compose plugin or docker-compose (hardrun runs Compose with the hardened file)")
        })
    }

    /// `compose -p NAME -f FILE --project-directory DIR ARGS...`.
    fn command(&self, project: &Project, file: &Path, docker_host: &str, args: &[String]) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(&self.argv[0]);
        c.args(&self.argv[1..])
            .arg("-p")
            .arg(&project.name)
            .arg("-f")
            .arg(file)
            .arg("--project-directory")
            .arg(&project.dir)
            .args(args)
            .env("DOCKER_HOST", docker_host)
            // The file is final: Compose must not read the project's .env into it again.
            .env_remove("COMPOSE_FILE")
            .stdin(Stdio::inherit());
        c
    }

    /// Runs Compose to the end; a signal hardrun receives meanwhile is Compose's to act on.
    async fn status(&self, mut command: tokio::process::Command, signals: &mut Signals) -> Result<i32> {
        let mut child = command.spawn().with_context(|| format!("cannot start {}", self.argv.join(" ")))?;
        loop {
            tokio::select! {
                status = child.wait() => {
                    let status = status?;
                    return Ok(status.code().unwrap_or(128 + 9));
                }
                _ = signals.recv() => {}
            }
        }
    }
}

/// One project's Compose invocations.
struct Run<'a> {
    tool: &'a Tool,
    project: &'a Project,
    file: &'a Path,
    host: &'a str,
}

impl Run<'_> {
    fn compose(&self, verb: &[&str], rest: &[String]) -> tokio::process::Command {
        let args: Vec<String> = verb.iter().map(|s| s.to_string()).chain(rest.iter().cloned()).collect();
        self.tool.command(self.project, self.file, self.host, &args)
    }
}

/// What verification found so far.
#[derive(Default)]
struct Checks {
    seen: Vec<String>,
    verified: Vec<String>,
    unchecked: Vec<String>,
}

impl Checks {
    /// Says what was verified and what could not be, once.
    fn report(&mut self, quiet: bool) {
        if !quiet {
            for u in &self.unchecked {
                eprintln!("hardrun: could not check {u}");
            }
            if !self.verified.is_empty() {
                self.verified.sort();
                eprintln!("hardrun: verified in the kernel: {}", self.verified.join(", "));
            }
        }
        self.unchecked.clear();
        self.verified.clear();
    }
}

/// Where `up` keeps the hardened file of a project, for `down`, `ps` and `logs`.
fn state_file(project: &Project) -> PathBuf {
    cache_home().join("hardrun/compose").join(format!("{}.yml", project.name))
}

fn write_state(project: &Project, text: &str) -> Result<PathBuf> {
    let path = state_file(project);
    let dir = path.parent().expect("the state file has a folder");
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
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

/// `hardrun compose up`.
struct Up<'a> {
    cmd: &'a ComposeCommand,
    global: &'a Global,
    quiet: bool,
    verbose: u8,
    detach: bool,
    verify: bool,
    services: &'a [String],
}

impl Up<'_> {
    async fn run(&self) -> Result<i32> {
        let tool = Tool::required()?;
        let (project, mut services) = load(self.cmd)?;
        for s in self.services {
            if !services.iter().any(|svc| &svc.name == s) {
                return Err(anyhow!("no such service: {s}"));
            }
        }
        let profiles = Profiles::load(self.global, &services, &project.dir, self.quiet)?;
        let endpoint = endpoint::resolve(self.global, &env)?;
        let mut facts = Facts {
            volumes: compose::storage::declared(&project).0,
            docker_host: Some(endpoint.host.clone()),
            apparmor: None,
            apparmor_unloaded: Vec::new(),
            userns_remapped: false,
            daemon_asked: false,
            images: BTreeMap::new(),
        };
        // Refuse what can be refused before the daemon is touched: nothing is created.
        harden(&project, services.clone(), &profiles, &facts)?;

        let mut signals = Signals::install()?;
        let engine = Engine::connect(endpoint.clone()).await?;
        self.daemon_facts(&engine, &project, &services, &profiles, &mut facts).await?;
        let build: Vec<String> =
            services.iter().filter(|s| s.kept.contains_key("build")).map(|s| s.name.clone()).collect();
        if !build.is_empty() {
            self.build(&tool, &project, &endpoint.host, &build, &mut signals).await?;
        }
        let active: Vec<String> = project
            .variable(&env, "COMPOSE_PROFILES")
            .map(|p| p.split(',').map(|s| s.trim().to_string()).collect())
            .unwrap_or_default();
        for svc in &mut services {
            // A service in a Compose profile that is not active is not started: not gated.
            let compose_profiles: Vec<&str> = svc
                .kept
                .get("profiles")
                .and_then(|p| p.as_sequence())
                .into_iter()
                .flatten()
                .filter_map(|p| p.as_str())
                .collect();
            let selected = compose_profiles.is_empty()
                || self.services.contains(&svc.name)
                || compose_profiles.iter().any(|p| active.iter().any(|a| a == p || a == "*"));
            if !selected {
                continue;
            }
            let image = ImageRef::parse(&svc.req.image).map_err(|e| anyhow!("services.{}.image: {e}", svc.name))?;
            let wants = super::gate::Wants {
                profile: profiles.of(svc),
                pull: svc.req.pull,
                platform: svc.req.platform.as_deref(),
                quiet: self.quiet,
                user: svc.req.user.as_ref(),
                group_add: &svc.req.group_add,
                everything: false,
            };
            let gathered = super::gate::gather(&engine, &image, &svc.req.image, &wants, &mut signals)
                .await
                .with_context(|| format!("services.{}.image", svc.name))?;
            facts.images.insert(svc.name.clone(), gathered);
            // Pulled as asked: Compose runs the image just judged rather than pull again.
            svc.req.pull = crate::request::PullPolicy::Missing;
        }
        let hardened = harden(&project, services, &profiles, &facts)?;
        let text = hardened_file(&project, &hardened, tool.dialect, self.quiet)?;
        let path = write_state(&project, &text)?;
        if self.verbose > 0 && !self.quiet {
            eprintln!("hardrun: wrote {}", path.display());
        }

        let run = Run { tool: &tool, project: &project, file: &path, host: &endpoint.host };
        if self.detach {
            let code = tool.status(run.compose(&["up", "-d"], self.services), &mut signals).await?;
            if code != 0 || !self.verify {
                return Ok(code);
            }
            let mut checks = Checks::default();
            self.check(&engine, &run, &hardened, &mut checks, &mut signals).await?;
            checks.report(self.quiet);
            return Ok(0);
        }
        // Attached, as `compose up` is: the containers are created first, then started by
        // the Compose that follows them, and each is verified as it starts.
        let code = tool.status(run.compose(&["up", "--no-start"], self.services), &mut signals).await?;
        if code != 0 {
            return Ok(code);
        }
        let mut child = run
            .compose(&["up"], self.services)
            .spawn()
            .with_context(|| format!("cannot start {}", tool.argv.join(" ")))?;
        let mut checks = Checks::default();
        let mut polling = self.verify;
        let mut failure = None;
        let code = loop {
            tokio::select! {
                status = child.wait() => break status?.code().unwrap_or(128 + 9),
                _ = signals.recv() => {}
                _ = tokio::time::sleep(std::time::Duration::from_millis(100)), if polling => {
                    match self.check(&engine, &run, &hardened, &mut checks, &mut signals).await {
                        Ok(true) => {
                            polling = false;
                            checks.report(self.quiet);
                        }
                        Ok(false) => {}
                        Err(e) => {
                            failure = Some(e);
                            polling = false;
                        }
                    }
                }
            }
        };
        if let Some(e) = failure {
            return Err(e);
        }
        if polling {
            // Compose ended before every container was seen running.
            checks.report(self.quiet);
        }
        Ok(code)
    }

    /// AppArmor, user namespaces and existing volumes, as `run` gathers them.
    async fn daemon_facts(
        &self,
        engine: &Engine,
        project: &Project,
        services: &[Service],
        profiles: &Profiles,
        facts: &mut Facts,
    ) -> Result<()> {
        let daemon = engine.daemon_facts().await?;
        facts.apparmor = Some(daemon.apparmor);
        facts.userns_remapped = daemon.userns || daemon.rootless;
        facts.daemon_asked = true;
        if daemon.apparmor
            && let Ok(loaded) = crate::apparmor::loaded_profiles()
        {
            for svc in services {
                if let Some(name) = profiles.of(svc).apparmor.clone()
                    && crate::apparmor::bundled(&name).is_some()
                    && !loaded.contains(&name)
                    && !facts.apparmor_unloaded.contains(&name)
                {
                    facts.apparmor_unloaded.push(name);
                }
            }
        }
        let keys: Vec<String> = services.iter().flat_map(|s| s.volumes.iter().cloned()).collect();
        for key in keys {
            if let Some(v) = engine.volume(&project.volume_name(&key)).await? {
                facts.volumes.insert(key, v);
            }
        }
        Ok(())
    }

    async fn build(
        &self,
        tool: &Tool,
        project: &Project,
        host: &str,
        services: &[String],
        signals: &mut Signals,
    ) -> Result<()> {
        if !self.quiet {
            eprintln!("hardrun: building {} with Compose before judging the images", services.join(", "));
        }
        let mut c = tokio::process::Command::new(&tool.argv[0]);
        c.args(&tool.argv[1..]).arg("-p").arg(&project.name);
        for f in &project.files {
            c.arg("-f").arg(f);
        }
        c.arg("build").args(services).env("DOCKER_HOST", host);
        match tool.status(c, signals).await? {
            0 => Ok(()),
            code => Err(anyhow!(
                "building {} failed (Compose exited with {code}); nothing was started",
                services.join(", ")
            )),
        }
    }

    /// Reads back the kernel's view of each container Compose started since the last
    /// call, against its service's plan. A container that differs is stopped and removed
    /// and the whole `up` fails. Returns whether every container was seen started.
    async fn check(
        &self,
        engine: &Engine,
        run: &Run<'_>,
        hardened: &[(Service, Plan)],
        checks: &mut Checks,
        signals: &mut Signals,
    ) -> Result<bool> {
        let containers = engine.project_containers(&run.project.name).await?;
        let apparmor_on_host = engine.daemon_facts().await?.apparmor;
        let verbose = self.verbose > 0 && !self.quiet;
        let mut failed = Vec::new();
        for c in &containers {
            if checks.seen.contains(&c.id) || c.state == "created" {
                continue;
            }
            let Some((_, plan)) = hardened.iter().find(|(s, _)| s.name == c.service) else { continue };
            checks.seen.push(c.id.clone());
            let check = super::run::Verification { plan, apparmor_on_host, verbose };
            match check.verify(engine, &c.id).await {
                Ok(line) if line.starts_with("nothing to read") => {
                    checks.unchecked.push(format!("{} ({}): it exited before it could be read", c.service, c.name))
                }
                Ok(_) => checks.verified.push(c.service.clone()),
                Err(e) => {
                    eprintln!("hardrun: {} ({}): {e}", c.service, c.name);
                    failed.push(c.service.clone());
                }
            }
        }
        if !failed.is_empty() {
            failed.dedup();
            let mut args = vec!["rm".to_string(), "--stop".to_string(), "--force".to_string()];
            args.extend(failed.iter().cloned());
            run.tool.status(run.compose(&[], &args), signals).await?;
            return Err(anyhow!(
                "the hardening is not in effect in {}, so it was stopped and removed",
                failed.join(", ")
            ));
        }
        Ok(!containers.is_empty() && containers.iter().all(|c| checks.seen.contains(&c.id)))
    }
}
