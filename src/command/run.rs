//! `hardrun run` and `hardrun create`: parse, refuse early (before touching the daemon),
//! gather the daemon's facts, pull when needed, harden with everything known, then hand
//! the Plan to the engine.

use std::path::Path;

use anyhow::Result;

use super::plan::Refused;
use super::{cwd, env, load_profile};
use crate::cli::Global;
use crate::engine::lifecycle::{AfterStart, NoCheck, Signals};
use crate::engine::{Engine, endpoint};
use crate::image::ImageRef;
use crate::plan::Plan;
use crate::policy::{self, Host};
use crate::profile::{Loader, Profile};
use crate::request::{RunRequest, VolumeSource};

/// What `run` and `create` share: the parsed request and the context it runs in.
pub struct Invocation<'a> {
    pub req: RunRequest,
    pub profile: Profile,
    pub global: &'a Global,
    pub quiet: bool,
    pub verbose: u8,
    pub create_only: bool,
}

impl<'a> Invocation<'a> {
    pub fn new(
        to_request: impl FnOnce(&Path) -> Result<RunRequest, String>,
        global: &'a Global,
        quiet: bool,
        verbose: u8,
        create_only: bool,
    ) -> Result<Invocation<'a>> {
        let cwd = cwd()?;
        let req = to_request(&cwd).map_err(anyhow::Error::msg)?;
        let profile = load_profile(global, &Loader::standard(&cwd, &env))?;
        Ok(Invocation { req, profile, global, quiet, verbose, create_only })
    }

    pub async fn execute(self) -> Result<i32> {
        let mut signals = Signals::install()?;
        let endpoint = endpoint::resolve(self.global, &env)?;
        let cwd = cwd()?;
        let mut host = crate::host::gather(&self.req, &self.profile, &cwd, Some(&endpoint.host));
        // Refuse what can be refused before the daemon is touched: nothing is created.
        policy::harden(&self.req, &self.profile, &host).map_err(Refused)?;

        let engine = Engine::connect(endpoint).await?;
        self.daemon_facts(&engine, &mut host).await?;
        let image = ImageRef::parse(&self.req.image).map_err(anyhow::Error::msg)?;
        host.image = self.ensure_image(&engine, &image, &mut signals).await?;
        let plan = policy::harden(&self.req, &self.profile, &host).map_err(Refused)?;
        self.report(&plan);
        if self.create_only {
            engine.create_only(&plan, &mut signals).await
        } else {
            let check: &dyn AfterStart = &NoCheck;
            engine.run(&plan, &mut signals, check).await
        }
    }

    /// Facts only the daemon knows: AppArmor, user namespaces, volumes, --volumes-from.
    async fn daemon_facts(&self, engine: &Engine, host: &mut Host) -> Result<()> {
        let facts = engine.daemon_facts().await?;
        host.apparmor = Some(facts.apparmor);
        host.userns_remapped = facts.userns || facts.rootless;
        host.api_version = Some(engine.api);
        let named = self.req.volumes.iter().filter_map(|v| match &v.source {
            VolumeSource::Named(n) => Some(n.clone()),
            _ => None,
        });
        let mounted = self.req.mounts.iter().filter(|m| m.kind == "volume").filter_map(|m| m.source.clone());
        for name in named.chain(mounted) {
            if let Some(v) = engine.volume(&name).await? {
                host.volumes.insert(name, v);
            }
        }
        for spec in &self.req.volumes_from {
            let name = spec.split(':').next().unwrap_or(spec);
            if let Some(mounts) = engine.container_mounts(name).await? {
                for m in mounts.iter().filter_map(|m| m.name.clone()) {
                    if let Some(v) = engine.volume(&m).await? {
                        host.volumes.insert(m, v);
                    }
                }
                host.containers.insert(name.to_string(), mounts);
            }
        }
        Ok(())
    }

    /// The image's facts, pulling per `--pull` first. Ctrl-C during the pull leaves
    /// nothing behind (no container exists yet).
    async fn ensure_image(
        &self,
        engine: &Engine,
        image: &ImageRef,
        signals: &mut Signals,
    ) -> Result<Option<crate::policy::ImageFacts>> {
        let wants = super::gate::Wants {
            profile: &self.profile,
            pull: self.req.pull,
            platform: self.req.platform.as_deref(),
            quiet: self.quiet || self.req.quiet,
            user: self.req.user.as_ref(),
            group_add: &self.req.group_add,
            everything: false,
        };
        super::gate::gather(engine, image, &self.req.image, &wants, signals).await.map(Some)
    }

    fn report(&self, plan: &Plan) {
        if self.quiet {
            return;
        }
        for n in &plan.notices {
            eprintln!("hardrun: note: {n}");
        }
        if self.verbose > 0 {
            for d in &plan.decisions {
                eprintln!("hardrun: {}: {} ({})", d.control, d.value, d.source);
            }
        }
    }
}
