//! `hardrun run` and `hardrun create`: parse, refuse early (before touching the daemon),
//! gather the daemon's facts, pull when needed, harden with everything known, then hand
//! the Plan to the engine.

use std::path::Path;

use anyhow::Result;

use super::plan::Refused;
use super::verified;
use super::watch::Then;
use super::watch::Watch;
use super::{cwd, env, load_profile};
use crate::cli::Global;
use crate::engine::interrupt::{self, Phase};
use crate::engine::lifecycle::{NoCheck, Signals};
use crate::engine::{DaemonFacts, Engine, endpoint};
use crate::image::ImageRef;
use crate::plan::Plan;
use crate::policy::{self, Host};
use crate::profile::{Loader, Profile};
use crate::request::{MountKind, NetworkAttachment, NetworkMode, RunRequest, VolumeSource};

/// Whether the daemon's facts are gathered to run (pull, create hardrun's network) or
/// only to show the plan (change nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Run,
    Plan,
}

/// What `run` and `create` share: the parsed request and the context it runs in.
pub struct Invocation<'a> {
    pub req: RunRequest,
    pub profile: Profile,
    pub global: &'a Global,
    pub quiet: bool,
    pub verbose: u8,
    pub create_only: bool,
    pub verify: bool,
    /// How long after start the container is watched (`--watch`).
    pub watch: std::time::Duration,
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
        let watch = super::watch::DEFAULT_WINDOW;
        Ok(Invocation { req, profile, global, quiet, verbose, create_only, verify: !create_only, watch })
    }

    pub async fn execute(mut self) -> Result<i32> {
        let mut signals = Signals::install()?;
        let endpoint = endpoint::resolve(self.global, &env)?;
        let cwd = cwd()?;
        let mut host = crate::host::gather(&self.req, &self.profile, &cwd, Some(&endpoint.host));
        // Refuse what can be refused before the daemon is touched: nothing is created.
        policy::harden(&self.req, &self.profile, &host).map_err(Refused)?;

        crate::timing::mark("parse");
        interrupt::enter(Phase::Connecting);
        let engine = Engine::connect(endpoint).await?;
        interrupt::connected(&engine);
        crate::timing::mark("connect");
        // Containers of runs killed before they started, swept while this run proceeds.
        engine.sweep_in_background();
        // Verified before anything is pulled or created; from here on the verified digest
        // is what runs, whatever the tag names meanwhile.
        if let Some(pinned) = self.verify_signature(&engine).await? {
            self.req.image = pinned.familiar();
        }
        let (plan, facts) = self.decide(&engine, &mut host, &mut signals, Mode::Run).await?;
        crate::timing::mark("gate");
        let apparmor_on_host = host.apparmor == Some(true);
        self.report(&plan);
        super::prepare::bind_sources(&plan.prepare)?;
        let watch = Watch::new(&plan, &self.profile, self.watch, self.quiet || self.req.quiet);
        let code = if !self.create_only && !self.verify {
            engine.run(&plan, &mut signals, &Then(&NoCheck, &watch)).await?
        } else {
            let options = verified::Options {
                create_only: self.create_only,
                verbose: self.verbose > 0 && !self.quiet,
                quiet: self.quiet,
                selinux: facts.selinux,
                apparmor_on_host,
            };
            verified::execute(&engine, &plan, &host, &mut signals, options, &watch).await?
        };
        if !self.create_only {
            watch.after_exit(&engine, code).await;
        }
        Ok(code)
    }

    /// `image.signatures` (or `--disable-content-trust=false`): the image's signature
    /// verified, and the `repo@digest` it was verified as, to create from.
    async fn verify_signature(&self, engine: &Engine) -> Result<Option<ImageRef>> {
        let asked = self.req.disable_content_trust == Some(false);
        let quiet = self.quiet || self.req.quiet;
        super::signature::before_create(engine, &self.req.image, self.req.pull, &self.profile, asked, quiet).await
    }

    /// The plan with everything the daemon knows (the image's facts, volumes, networks),
    /// as `run` makes it and `plan` shows it. `Mode::Plan` changes nothing: it pulls
    /// nothing, creates no network, loads no AppArmor profile, and leaves a missing
    /// image to `run`.
    pub async fn decide(
        &self,
        engine: &Engine,
        host: &mut Host,
        signals: &mut Signals,
        mode: Mode,
    ) -> Result<(Plan, DaemonFacts)> {
        interrupt::enter(Phase::DaemonFacts);
        let facts = self.daemon_facts(engine, host, mode).await?;
        let image = ImageRef::parse(&self.req.image).map_err(anyhow::Error::msg)?;
        interrupt::enter(Phase::Image);
        host.image = match mode {
            Mode::Run => self.ensure_image(engine, &image, signals).await?,
            Mode::Plan if engine.image(&self.req.image).await?.is_none() => None,
            Mode::Plan => {
                let wants = super::gate::Wants {
                    profile: &self.profile,
                    pull: crate::request::PullPolicy::Never,
                    platform: self.req.platform.as_deref(),
                    quiet: true,
                    everything: false,
                };
                Some(super::gate::gather(engine, &image, &self.req.image, &wants, signals).await?)
            }
        };
        let plan = policy::harden(&self.req, &self.profile, host).map_err(Refused)?;
        Ok((plan, facts))
    }

    /// Facts only the daemon knows: AppArmor, user namespaces, volumes, --volumes-from.
    async fn daemon_facts(&self, engine: &Engine, host: &mut Host, mode: Mode) -> Result<DaemonFacts> {
        let wants_network =
            self.req.networks.is_empty() && self.profile.network.default == crate::policy::ISOLATED_NETWORK;
        // The default bridge decides whether hardrun's own network is needed; both are
        // looked up at once, and the network is created only when it is.
        let bridge = async { if wants_network { engine.find_network("bridge").await } else { Ok(None) } };
        let own = async { if wants_network { engine.find_isolated_network().await } else { Ok(None) } };
        let (facts, bridge, own) = tokio::join!(engine.daemon_facts(), bridge, own);
        let facts = facts?;
        host.default_bridge = bridge?;
        let needs_own =
            policy::isolated_default(host.default_bridge.as_ref(), &self.req).0 == policy::IsolatedDefault::Own;
        host.isolated_network = match (wants_network && needs_own, own?, mode) {
            (false, _, _) => None,
            (true, Some(id), _) => Some(id),
            (true, None, Mode::Run) => Some(engine.isolated_network().await?),
            (true, None, Mode::Plan) => None,
        };
        host.apparmor = Some(facts.apparmor);
        if facts.apparmor && mode == Mode::Run {
            self.ensure_apparmor(engine, host)?;
        }
        host.userns_remapped = facts.userns || facts.rootless;
        host.daemon_asked = true;
        for term in self.network_terms() {
            if let Some(n) = engine.find_network(&term).await? {
                host.networks.insert(term, n);
            }
        }
        let named = self.req.volumes.iter().filter_map(|v| match &v.source {
            VolumeSource::Named(n) => Some(n.clone()),
            _ => None,
        });
        let mounted = self.req.mounts.iter().filter(|m| m.kind == MountKind::Volume).filter_map(|m| m.source.clone());
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
        Ok(facts)
    }

    /// The networks to resolve through the daemon: every user-defined one named by
    /// `--network`, or the profile's default when it is one.
    fn network_terms(&self) -> Vec<String> {
        let default = NetworkAttachment { name: self.profile.network.default.clone(), ..Default::default() };
        let defaults =
            (self.req.networks.is_empty() && default.name != crate::policy::ISOLATED_NETWORK).then_some(&default);
        self.req
            .networks
            .iter()
            .chain(defaults)
            .filter_map(|n| match n.mode() {
                NetworkMode::User(term) => Some(term.to_string()),
                _ => None,
            })
            .collect()
    }

    /// On an AppArmor host the bundled profile must be in the kernel: hardrun loads it when
    /// it runs as root next to the daemon; otherwise policy refuses with the command.
    fn ensure_apparmor(&self, engine: &Engine, host: &mut Host) -> Result<()> {
        let Some(name) = self.profile.apparmor.as_deref().filter(|n| crate::apparmor::bundled(n).is_some()) else {
            return Ok(());
        };
        let Ok(loaded) = crate::apparmor::loaded_profiles() else {
            // Not readable (not root): the daemon will say if the profile is missing.
            return Ok(());
        };
        if loaded.iter().any(|p| p == name) {
            return Ok(());
        }
        if engine.endpoint.is_local() && effective_uid() == Some(0) {
            crate::apparmor::load(name)?;
            if !self.quiet {
                eprintln!("hardrun: loaded the AppArmor profile {name}");
            }
        } else {
            host.apparmor_unloaded.push(name.to_string());
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
            everything: false,
        };
        super::gate::gather(engine, image, &self.req.image, &wants, signals).await.map(Some)
    }

    fn report(&self, plan: &Plan) {
        // What will likely break the service is said even with -q.
        for w in &plan.warnings {
            eprintln!("hardrun: warning: {w}");
        }
        // docker's own -q (`run -q`) silences hardrun's notes too.
        if self.quiet || self.req.quiet {
            return;
        }
        // Notes and decisions can quote the image (its user, a warning about its labels).
        use crate::sanitize::escape;
        for n in &plan.notices {
            eprintln!("hardrun: note: {}", escape(n));
        }
        // -v names the network chosen and why (it decides how fast the container starts).
        let shown = |d: &&crate::plan::Decision| self.verbose > 1 || (self.verbose > 0 && d.control == "network");
        for d in plan.decisions.iter().filter(shown) {
            eprintln!("hardrun: {}", escape(&format!("{}: {} ({})", d.control, d.value, d.source)));
        }
    }
}

/// hardrun's effective uid, from /proc (no libc binding needed for one number).
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}
