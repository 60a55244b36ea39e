//! `hardrun run` and `hardrun create`: parse, refuse early (before touching the daemon),
//! gather the daemon's facts, pull when needed, harden with everything known, then hand
//! the Plan to the engine.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::plan::Refused;
use super::{cwd, env, load_profile};
use crate::cli::Global;
use crate::engine::lifecycle::{AfterStart, ExitError, NoCheck, Signals, start_failure_code};
use crate::engine::{DaemonFacts, Engine, endpoint};
use crate::image::ImageRef;
use crate::plan::Plan;
use crate::policy::{self, Host};
use crate::profile::{Loader, Profile};
use crate::request::{MountKind, NetworkAttachment, NetworkMode, RunRequest, VolumeSource};
use crate::verify::init::{self, InitDir, ReportFifo};
use crate::verify::inspect;
use crate::verify::mounts::{self, MountTable, PlannedMount};
use crate::verify::spec::{self, SpecInput};
use crate::verify::verdict::Verdict;

/// What `run` and `create` share: the parsed request and the context it runs in.
pub struct Invocation<'a> {
    pub req: RunRequest,
    pub profile: Profile,
    pub global: &'a Global,
    pub quiet: bool,
    pub verbose: u8,
    pub create_only: bool,
    pub verify: bool,
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
        Ok(Invocation { req, profile, global, quiet, verbose, create_only, verify: !create_only })
    }

    pub async fn execute(self) -> Result<i32> {
        let mut signals = Signals::install()?;
        let endpoint = endpoint::resolve(self.global, &env)?;
        let cwd = cwd()?;
        let mut host = crate::host::gather(&self.req, &self.profile, &cwd, Some(&endpoint.host));
        // Refuse what can be refused before the daemon is touched: nothing is created.
        policy::harden(&self.req, &self.profile, &host).map_err(Refused)?;

        let engine = Engine::connect(endpoint).await?;
        let facts = self.daemon_facts(&engine, &mut host).await?;
        let apparmor_on_host = host.apparmor == Some(true);
        let image = ImageRef::parse(&self.req.image).map_err(anyhow::Error::msg)?;
        host.image = self.ensure_image(&engine, &image, &mut signals).await?;
        let plan = policy::harden(&self.req, &self.profile, &host).map_err(Refused)?;
        self.report(&plan);
        if !self.create_only && !self.verify {
            return engine.run(&plan, &mut signals, &NoCheck).await;
        }
        let guard = Guard::prepare(&engine, &plan, &host, !self.create_only, facts.selinux);
        let verbose = self.verbose > 0 && !self.quiet;
        let (sent, mode) = match guard {
            Guard::Init { plan: wrapped, report, dir } => {
                let mode = match report {
                    Some(r) => Mode::Init(tokio::sync::Mutex::new(r)),
                    None => Mode::Daemon { planned: Vec::new(), reason: String::new() },
                };
                let check = Verification { plan: &wrapped, mode, apparmor_on_host, verbose };
                let outcome = match self.create_only {
                    true => engine.create_only(&wrapped, &mut signals).await,
                    false => engine.run(&wrapped, &mut signals, &check).await,
                };
                match outcome {
                    // A daemon that does not see this host's files (a forwarded socket, a
                    // confined daemon) cannot mount the init: fall back to its record.
                    Err(e) if cannot_mount(&e, &dir) => {
                        let reason = format!(
                            "the daemon could not mount hardrun's init ({})",
                            crate::sanitize::line(&e.to_string(), 300)
                        );
                        if !self.quiet {
                            eprintln!("hardrun: note: {reason}; verifying from the daemon's record instead");
                        }
                        let planned = mounts::planned(&plan.create, &image_volumes(&host), &host);
                        (&plan, Mode::Daemon { planned, reason })
                    }
                    other => return other,
                }
            }
            Guard::Daemon { reason } => {
                let planned = mounts::planned(&plan.create, &image_volumes(&host), &host);
                (&plan, Mode::Daemon { planned, reason })
            }
            Guard::Nothing => (&plan, Mode::Daemon { planned: Vec::new(), reason: String::new() }),
        };
        if self.create_only {
            return engine.create_only(sent, &mut signals).await;
        }
        let check = Verification { plan: sent, mode, apparmor_on_host, verbose };
        engine.run(sent, &mut signals, &check).await
    }

    /// Facts only the daemon knows: AppArmor, user namespaces, volumes, --volumes-from.
    async fn daemon_facts(&self, engine: &Engine, host: &mut Host) -> Result<DaemonFacts> {
        let wants_network =
            self.req.networks.is_empty() && self.profile.network.default == crate::policy::ISOLATED_NETWORK;
        let network = async {
            match wants_network {
                true => engine.isolated_network().await.map(Some),
                false => Ok(None),
            }
        };
        let (facts, network) = tokio::join!(engine.daemon_facts(), network);
        let facts = facts?;
        host.isolated_network = network?;
        host.apparmor = Some(facts.apparmor);
        if facts.apparmor {
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
        if self.verbose > 1 {
            for d in &plan.decisions {
                eprintln!("hardrun: {}: {} ({})", d.control, d.value, d.source);
            }
        }
    }
}

/// Whether creating or starting failed because the daemon could not mount the init's
/// folder (never a verdict: a refused container is not tried again another way).
fn cannot_mount(e: &anyhow::Error, dir: &Path) -> bool {
    let text = e.to_string();
    // A start the runtime failed is an ExitError too, and says so; a verdict never does.
    (!e.is::<ExitError>() || text.contains("OCI runtime"))
        && text.contains(&dir.display().to_string())
        && ["bind source path does not exist", "invalid mount config", "error mounting", "permission denied"]
            .iter()
            .any(|m| text.contains(m))
}

fn image_volumes(host: &Host) -> Vec<String> {
    host.image.as_ref().map(|i| i.volumes.clone()).unwrap_or_default()
}

/// How the container will be verified, decided before it is created.
enum Guard {
    /// hardrun-init runs first (`plan` is the wrapped one); `report` when hardrun
    /// listens for its verdict (`run`, not `create`).
    Init { plan: Box<Plan>, report: Option<ReportFifo>, dir: PathBuf },
    /// Only the daemon's record can be checked, for this reason.
    Daemon { reason: String },
    /// No command to run: the daemon refuses the create itself.
    Nothing,
}

impl Guard {
    fn prepare(engine: &Engine, plan: &Plan, host: &Host, listen: bool, selinux: bool) -> Guard {
        if !engine.endpoint.is_local() {
            return Guard::Daemon { reason: "the daemon is not on this machine".into() };
        }
        let daemon = |reason: String| Guard::Daemon { reason };
        let Some(home) = init::data_home(&env) else {
            return daemon("there is no HOME or XDG_DATA_HOME to keep hardrun's init in".into());
        };
        let dir = match InitDir::ensure(&home) {
            Ok(d) => d,
            Err(e) => return daemon(format!("hardrun's init could not be set up under {}: {e}", home.display())),
        };
        let report = match listen.then(|| ReportFifo::create(&dir)).transpose() {
            Ok(r) => r,
            Err(e) => {
                return daemon(format!("the init's report channel could not be made in {}: {e}", dir.path.display()));
            }
        };
        let table = match MountTable::read() {
            Ok(t) => t,
            Err(e) => return daemon(format!("this host's mount table could not be read: {e}")),
        };
        let image = host.image.clone().unwrap_or_default();
        let mut planned = mounts::planned(&plan.create, &image.volumes, host);
        planned.push(PlannedMount::Bind {
            target: init::CONTAINER_DIR.into(),
            source: dir.path.clone(),
            read_only: true,
            recursive: true,
        });
        let namespaces = spec::host_namespaces();
        let input = SpecInput {
            expect: &plan.expect,
            body: &plan.create,
            mounts: &planned,
            table: &table,
            report: report.as_ref().map(|r| r.name.as_str()),
            host_namespaces: &namespaces,
        };
        let text = match spec::write(&input) {
            Ok(t) => t,
            Err(e) => return daemon(e),
        };
        let mut wrapped = plan.clone();
        let (ep, cmd) = (Some(image.entrypoint.as_slice()), Some(image.cmd.as_slice()));
        if !init::wrap(&mut wrapped.create, ep, cmd, &dir, text, selinux) {
            return Guard::Nothing;
        }
        Guard::Init { plan: Box::new(wrapped), report, dir: dir.path }
    }
}

enum Mode {
    /// Wait for hardrun-init's verdict on its FIFO.
    Init(tokio::sync::Mutex<ReportFifo>),
    /// Judge the daemon's record before start (nothing when `planned` and `reason` are
    /// empty: there is no command, the daemon refuses the container).
    Daemon { planned: Vec<PlannedMount>, reason: String },
}

/// How long a started container may take before its init reports.
const VERDICT_WAIT: std::time::Duration = std::time::Duration::from_secs(30);
/// How long hardrun waits for the verdict alone before also watching for the
/// container to stop without one.
const QUICK_VERDICT: std::time::Duration = std::time::Duration::from_millis(500);

/// Verification of a run: the init's verdict after start, or the daemon's record
/// before it.
struct Verification<'p> {
    plan: &'p Plan,
    mode: Mode,
    apparmor_on_host: bool,
    verbose: bool,
}

impl Verification<'_> {
    async fn verdict(&self, engine: &Engine, id: &str) -> Result<()> {
        let Mode::Init(fifo) = &self.mode else { return Ok(()) };
        let mut fifo = fifo.lock().await;
        // The verdict comes within milliseconds; only a container that takes longer
        // costs the daemon a second request, to notice it stopped without one.
        let quick = tokio::time::timeout(QUICK_VERDICT, fifo.line()).await;
        let line = match quick {
            Ok(line) => Some(line?),
            Err(_) => tokio::select! {
                line = fifo.line() => Some(line?),
                stopped = engine.until_stopped(id) => {
                    stopped?;
                    fifo.try_line()
                }
                _ = tokio::time::sleep(VERDICT_WAIT) => match fifo.try_line() {
                    Some(line) => Some(line),
                    None => anyhow::bail!(
                        "hardrun-init did not report within {}s, so the hardening is not proven and the container was stopped",
                        VERDICT_WAIT.as_secs()
                    ),
                },
            },
        };
        let Some(line) = line else {
            // Stopped (killed) before the init got as far as a verdict: the command did not run.
            if self.verbose {
                eprintln!("hardrun: the container stopped before hardrun-init reported: nothing ran to verify");
            }
            return Ok(());
        };
        let verdict = Verdict::parse(&line);
        if !matches!(verdict, Some(Verdict::Verified(_))) {
            // The init exits without running anything: let it, and let the daemon's own
            // removal (--rm) finish, so nothing is left once hardrun returns.
            engine.until_stopped(id).await?;
            if self.plan.lifecycle.auto_remove {
                engine.until_removed(id).await?;
            }
        }
        match verdict {
            Some(Verdict::Verified(state)) => {
                if self.verbose {
                    eprintln!(
                        "hardrun: verified (kernel, before the command ran): {}",
                        state.describe(self.apparmor_on_host)
                    );
                }
                Ok(())
            }
            Some(Verdict::Refused(diffs)) => Err(ExitError {
                code: 125,
                message: format!(
                    "the container is not as planned, so hardrun-init did not run its command: {}",
                    crate::sanitize::line(&diffs, 4000)
                ),
            }
            .into()),
            Some(Verdict::StartFailed(message)) => {
                let message = crate::sanitize::line(&message, 1000);
                Err(ExitError { code: start_failure_code(&message), message }.into())
            }
            None => {
                Err(anyhow::anyhow!("hardrun-init's report is not understood: {}", crate::sanitize::line(&line, 200)))
            }
        }
    }

    async fn record(&self, engine: &Engine, id: &str) -> Result<()> {
        let Mode::Daemon { planned, reason } = &self.mode else { return Ok(()) };
        if reason.is_empty() {
            return Ok(());
        }
        let inspected = engine.inspect_containers(&[id.to_string()]).await?;
        let c = inspected.first().ok_or_else(|| anyhow::anyhow!("the daemon does not report the container"))?;
        match inspect::judge(c, &self.plan.create, &self.plan.expect, planned) {
            Ok(line) => {
                if self.verbose {
                    eprintln!("hardrun: verified (the daemon's record, not the kernel: {reason}): {line}");
                }
                Ok(())
            }
            Err(diffs) => Err(ExitError {
                code: 125,
                message: format!(
                    "the daemon's record of the container is not as planned ({reason}, so the kernel could not be read): {}",
                    crate::sanitize::line(&diffs.join("; "), 4000)
                ),
            }
            .into()),
        }
    }
}

impl AfterStart for Verification<'_> {
    fn check<'a>(
        &'a self,
        engine: &'a Engine,
        id: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + 'a>> {
        Box::pin(self.verdict(engine, id))
    }

    fn before_start<'a>(
        &'a self,
        engine: &'a Engine,
        id: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + 'a>> {
        Box::pin(self.record(engine, id))
    }
}

/// hardrun's effective uid, from /proc (no libc binding needed for one number).
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}
