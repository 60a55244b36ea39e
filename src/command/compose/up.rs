//! `hardrun compose up`: harden without the daemon, then with its facts and every
//! service image gated, start the project with Compose, and verify each container in
//! the kernel as it starts.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result, anyhow};

use super::tool::{Run, Tool, write_state};
use super::verify::Outcome;
use super::{Facts, Profiles, harden, hardened_file, load};
use crate::cli::{ComposeCommand, Global};
use crate::command::env;
use crate::compose::{self, Project, Service};
use crate::engine::lifecycle::Signals;
use crate::engine::{Engine, endpoint};
use crate::image::ImageRef;
use crate::plan::Plan;

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

/// `hardrun compose up`.
pub struct Up<'a> {
    pub cmd: &'a ComposeCommand,
    pub global: &'a Global,
    pub quiet: bool,
    pub verbose: u8,
    pub detach: bool,
    pub verify: bool,
    pub services: &'a [String],
}

impl Up<'_> {
    pub async fn run(&self) -> Result<i32> {
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
            networks: BTreeMap::new(),
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
            // A signed image is verified first, and the service then runs the verified digest.
            let asked = svc.req.disable_content_trust == Some(false);
            let signed = crate::command::signature::before_create(
                &engine,
                &svc.req.image,
                svc.req.pull,
                profiles.of(svc),
                asked,
                self.quiet,
            )
            .await
            .with_context(|| format!("services.{}.image", svc.name))?;
            if let Some(pinned) = signed {
                svc.req.image = pinned.familiar();
            }
            let image = ImageRef::parse(&svc.req.image).map_err(|e| anyhow!("services.{}.image: {e}", svc.name))?;
            let wants = crate::command::gate::Wants {
                profile: profiles.of(svc),
                pull: svc.req.pull,
                platform: svc.req.platform.as_deref(),
                quiet: self.quiet,
                everything: false,
            };
            let gathered = crate::command::gate::gather(&engine, &image, &svc.req.image, &wants, &mut signals)
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
        // The project's networks: as the daemon has them; one not created yet is what
        // Compose will create from its definition (a bridge: `net` refuses other drivers).
        let nets: std::collections::BTreeSet<&String> = services.iter().flat_map(|s| &s.networks).collect();
        for key in nets {
            let real = project.network_name(key);
            let def = project.networks.get(key.as_str()).and_then(|d| d.as_mapping()).cloned().unwrap_or_default();
            let found = match engine.find_network(&real).await? {
                Some(n) => n,
                None if project.is_external(&def) => continue,
                None => {
                    let driver = def.get("driver").and_then(|d| d.as_str()).unwrap_or("bridge").to_string();
                    crate::policy::NetworkFacts { id: real.clone(), name: real.clone(), driver, icc: true }
                }
            };
            facts.networks.insert(real, found);
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
            match super::verify::container(engine, &c.id, &plan.expect, apparmor_on_host).await? {
                Outcome::Verified(line) => {
                    if verbose {
                        eprintln!("hardrun: verified {} ({}): {line}", c.service, c.name);
                    }
                    checks.verified.push(c.service.clone());
                }
                Outcome::Unchecked(why) => checks.unchecked.push(format!("{} ({}): {why}", c.service, c.name)),
                Outcome::Differs(diffs) => {
                    let diffs = crate::sanitize::line(&diffs.join("; "), 4000);
                    eprintln!("hardrun: {} ({}): the hardening is not in effect: {diffs}", c.service, c.name);
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
