//! A run or create whose command runs only once the hardening is proven: hardrun-init
//! in front of it on a local daemon (its verdict read after start), the daemon's record
//! judged before start where the kernel cannot be read.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::env;
use crate::engine::Engine;
use crate::engine::lifecycle::{AfterStart, ExitError, Signals, start_failure_code};
use crate::plan::Plan;
use crate::policy::Host;
use crate::verify::init::{self, InitDir, ReportFifo};
use crate::verify::inspect;
use crate::verify::mounts::{self, MountTable, PlannedMount};
use crate::verify::spec::{self, SpecInput};
use crate::verify::verdict::Verdict;

pub struct Options {
    pub create_only: bool,
    pub verbose: bool,
    pub quiet: bool,
    /// The daemon labels containers with SELinux (the init's folder must be relabelled).
    pub selinux: bool,
    pub apparmor_on_host: bool,
}

/// Creates (and for `run`, runs) the container of `plan`, verified.
pub async fn execute(engine: &Engine, plan: &Plan, host: &Host, signals: &mut Signals, o: Options) -> Result<i32> {
    let guard = Guard::prepare(engine, plan, host, !o.create_only, o.selinux);
    let (sent, mode) = match guard {
        Guard::Init { plan: wrapped, report, dir } => {
            let mode = match report {
                Some(r) => Mode::Init(tokio::sync::Mutex::new(r)),
                None => Mode::Unchecked,
            };
            let check = Verification { plan: &wrapped, mode, apparmor_on_host: o.apparmor_on_host, verbose: o.verbose };
            let outcome = match o.create_only {
                true => engine.create_only(&wrapped, signals).await,
                false => engine.run(&wrapped, signals, &check).await,
            };
            match outcome {
                // A daemon that does not see this host's files (a forwarded socket, a
                // confined daemon) cannot mount the init: fall back to its record.
                Err(e) if cannot_mount(&e, &dir) => {
                    let reason = format!(
                        "the daemon could not mount hardrun's init ({})",
                        crate::sanitize::line(&e.to_string(), 300)
                    );
                    if !o.quiet {
                        eprintln!("hardrun: note: {reason}; verifying from the daemon's record instead");
                    }
                    let planned = mounts::planned(&plan.create, &image_volumes(host), host);
                    (plan, Mode::Daemon { planned, reason })
                }
                other => return other,
            }
        }
        Guard::Daemon { reason } => {
            let planned = mounts::planned(&plan.create, &image_volumes(host), host);
            (plan, Mode::Daemon { planned, reason })
        }
        Guard::Nothing => (plan, Mode::Unchecked),
    };
    if o.create_only {
        return engine.create_only(sent, signals).await;
    }
    let check = Verification { plan: sent, mode, apparmor_on_host: o.apparmor_on_host, verbose: o.verbose };
    engine.run(sent, signals, &check).await
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
    /// Judge the daemon's record before start, as the kernel cannot be read for `reason`.
    Daemon { planned: Vec<PlannedMount>, reason: String },
    /// Nothing to check from here: `create` (the init checks each start itself), or no
    /// command at all (the daemon refuses the container).
    Unchecked,
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
