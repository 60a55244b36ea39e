//! Ctrl-C and SIGTERM in every phase of a run: [`guarded`] races the whole command
//! against the signals, so a signal ends it within a second whatever it is waiting for
//! (a daemon call that hangs included), then removes what the run created so far, under
//! its own short deadline, and names the phase it interrupted.
//!
//! The work says where it is ([`enter`]) and what it owns ([`created`], [`handed_over`]);
//! containers whose create was cut short are found by this process's owner label. Once
//! the container runs attached, signals are the lifecycle's to forward to it (docker's
//! `--sig-proxy`), and with `-d` the container is the user's once hardrun has vouched
//! for it: neither is touched here.

use std::cell::RefCell;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Result;

use super::Engine;
use super::lifecycle::Signals;
use super::owner::{self, Kind, Owner};
use crate::error::Interrupted;
use crate::sanitize::short_id;

/// How long removing what was created may take after a signal: with the signal's own
/// handling, hardrun is gone within a second even when the daemon does not answer.
pub const CLEANUP_DEADLINE: Duration = Duration::from_millis(800);
/// Between two looks for a container whose create was cut short, and how long to look.
const RELOOK: Duration = Duration::from_millis(150);
const RELOOK_FOR: Duration = Duration::from_millis(400);

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Preparing,
    Connecting,
    DaemonFacts,
    Image,
    Pulling,
    Looking,
    Creating,
    Checking,
    Attaching,
    Waiting,
    Starting,
    Verifying,
    Watching,
    /// Attached and running: signals go to the container.
    Running,
    Exiting,
    Removing,
}

impl Phase {
    /// The phase in the one line a signal prints ("SIGINT received while ...").
    pub fn describe(self) -> &'static str {
        match self {
            Phase::Preparing => "preparing the run",
            Phase::Connecting => "connecting to the daemon",
            Phase::DaemonFacts => "asking the daemon about itself, the networks and the volumes",
            Phase::Image => "inspecting the image",
            Phase::Pulling => "pulling the image",
            Phase::Looking => "looking inside the image",
            Phase::Creating => "creating the container",
            Phase::Checking => "verifying the daemon's record of the container",
            Phase::Attaching => "attaching to the container",
            Phase::Waiting => "registering the wait for the container",
            Phase::Starting => "starting the container",
            Phase::Verifying => "verifying the container's hardening",
            Phase::Watching => "watching the container start",
            Phase::Running => "running the container",
            Phase::Exiting => "reading the container's exit code",
            Phase::Removing => "removing the container",
        }
    }

    /// Whether a create may be under way, its container not known yet.
    fn creating(self) -> bool {
        matches!(self, Phase::Creating | Phase::Looking)
    }

    fn before_create(self) -> bool {
        matches!(self, Phase::Preparing | Phase::Connecting | Phase::DaemonFacts | Phase::Image | Phase::Pulling)
    }
}

/// What the current run has done so far (one run per process).
struct State {
    phase: Phase,
    engine: Option<Engine>,
    /// Containers created and not yet the user's.
    owned: Vec<String>,
    /// Containers started detached: the user's, left running.
    kept: Vec<String>,
    /// Containers that are the user's or gone: never removed here, even when they carry
    /// this process's owner label (a `create`'s).
    released: Vec<String>,
    /// This process's owner label value, per kind, once asked for.
    owner: Vec<(Kind, String)>,
}

static STATE: Mutex<State> = Mutex::new(State {
    phase: Phase::Preparing,
    engine: None,
    owned: Vec::new(),
    kept: Vec::new(),
    released: Vec::new(),
    owner: Vec::new(),
});

fn state() -> std::sync::MutexGuard<'static, State> {
    // A panic cannot leave the state half-written (each change is one assignment).
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn enter(phase: Phase) {
    state().phase = phase;
}

pub fn connected(engine: &Engine) {
    state().engine = Some(engine.clone());
}

/// A container now exists that a signal must remove.
pub fn created(id: &str) {
    state().owned.push(id.to_string());
}

/// The container is the user's now (it runs attached, or `create` reported it), or is
/// gone: a signal leaves it alone.
pub fn handed_over(id: &str) {
    let mut s = state();
    s.owned.retain(|o| o != id);
    s.kept.retain(|o| o != id);
    s.released.push(id.to_string());
}

/// The container was started detached: it is the user's, and a signal says it stays.
pub fn kept(id: &str) {
    let mut s = state();
    s.owned.retain(|o| o != id);
    s.kept.push(id.to_string());
    s.released.push(id.to_string());
}

/// The owner label for containers this process creates, `None` where /proc cannot say.
pub fn owner_label(kind: Kind) -> Option<(String, String)> {
    let mut s = state();
    if let Some((_, v)) = s.owner.iter().find(|(k, _)| *k == kind) {
        return Some((owner::LABEL.to_string(), v.clone()));
    }
    let value = Owner::current(kind)?.value();
    s.owner.push((kind, value.clone()));
    Some((owner::LABEL.to_string(), value))
}

/// Runs `work` until it ends or a signal arrives in a phase hardrun acts on; then removes
/// what the run created and fails with [`Interrupted`] (128 + the signal's number).
pub async fn guarded<T>(work: impl Future<Output = Result<T>>) -> Result<T> {
    let mut signals = Signals::install()?;
    let mut work = Box::pin(work);
    let (signal, number) = loop {
        // Signals first: the work's own handling of a signal (in a phase that is not
        // the running container's) never gets to act before this.
        tokio::select! {
            biased;
            s = signals.recv() => {
                if state().phase != Phase::Running {
                    break s;
                }
            }
            out = &mut work => return out,
        }
    };
    // Cancel whatever daemon call was under way before cleaning up after it.
    drop(work);
    let (phase, engine, owned, kept, released, labels) = {
        let s = state();
        (s.phase, s.engine.clone(), s.owned.clone(), s.kept.clone(), s.released.clone(), s.owner.clone())
    };
    let mut outcome = match engine {
        Some(engine) => clean_up(&engine, phase, &owned, &released, &labels).await,
        None => "nothing was created".to_string(),
    };
    if let Some(id) = kept.last() {
        let id = short_id(id);
        outcome = format!("container {id} was started detached and stays (docker rm -f {id} removes it)");
    }
    Err(Interrupted { signal, number, phase: phase.describe(), outcome }.into())
}

/// Removes the containers `owned`, and those labelled with this process's owner that
/// never started (a create cut short) and are not `released`, within
/// [`CLEANUP_DEADLINE`]; says what became of them.
async fn clean_up(
    engine: &Engine,
    phase: Phase,
    owned: &[String],
    released: &[String],
    labels: &[(Kind, String)],
) -> String {
    let removed = RefCell::new(Vec::<String>::new());
    let failed = RefCell::new(Vec::<String>::new());
    // Removals sent: the daemon carries one out even if hardrun leaves before its answer.
    let asked = RefCell::new(Vec::<String>::new());
    let began = std::time::Instant::now();
    let work = async {
        for id in owned {
            asked.borrow_mut().push(id.clone());
            match engine.remove(id).await {
                Ok(()) => removed.borrow_mut().push(id.clone()),
                Err(e) => failed.borrow_mut().push(format!("{} ({e})", short_id(id))),
            }
        }
        if labels.is_empty() || phase.before_create() {
            return;
        }
        // The daemon may finish a create hardrun no longer waits for: look again a few
        // times while a create was under way.
        loop {
            let found = labelled_unstarted(engine, labels).await;
            let mut any = false;
            for id in found.iter().filter(|id| !removed.borrow().contains(id) && !released.contains(id)) {
                any = true;
                asked.borrow_mut().push(id.clone());
                match engine.remove(id).await {
                    Ok(()) => removed.borrow_mut().push(id.clone()),
                    Err(e) => failed.borrow_mut().push(format!("{} ({e})", short_id(id))),
                }
            }
            if any || !phase.creating() || began.elapsed() + RELOOK > RELOOK_FOR {
                return;
            }
            tokio::time::sleep(RELOOK).await;
        }
    };
    let finished = tokio::time::timeout(CLEANUP_DEADLINE, work).await.is_ok();
    let removed = removed.into_inner();
    let failed = failed.into_inner();
    let asked = asked.into_inner();
    let shown = |ids: &[String]| ids.iter().map(|i| short_id(i).to_string()).collect::<Vec<_>>().join(", ");
    let mut parts = Vec::new();
    if !removed.is_empty() {
        parts.push(format!("removed container {}", shown(&removed)));
    }
    if !failed.is_empty() {
        parts.push(format!("could not remove container {}", failed.join(", ")));
    }
    if !finished {
        let unanswered = |id: &&String| !removed.contains(id) && !failed.iter().any(|f| f.starts_with(short_id(id)));
        let pending: Vec<String> = asked.iter().filter(unanswered).cloned().collect();
        let unasked: Vec<String> = owned.iter().filter(|id| !asked.contains(id)).cloned().collect();
        let secs = CLEANUP_DEADLINE.as_secs_f32();
        if !pending.is_empty() {
            parts.push(format!(
                "removing container {} (the daemon had not confirmed it within {secs:.1} s and goes on without hardrun)",
                shown(&pending)
            ));
        }
        if !unasked.is_empty() || (pending.is_empty() && phase.creating()) {
            let what = match unasked.is_empty() {
                true => "a container whose create was cut short".to_string(),
                false => format!("container {}", shown(&unasked)),
            };
            parts.push(format!(
                "the daemon did not answer within {secs:.1} s, so {what} may remain (`hardrun prune` removes a container that never started; `docker rm -f` any other)"
            ));
        }
    }
    if parts.is_empty() {
        parts.push(
            match phase {
                p if p.before_create() => "nothing was created",
                Phase::Exiting => "the container had run, and is left as docker leaves it",
                _ => "nothing was left behind",
            }
            .to_string(),
        );
    }
    parts.join("; ")
}

/// This process's never-started containers, by its owner label.
async fn labelled_unstarted(engine: &Engine, labels: &[(Kind, String)]) -> Vec<String> {
    let mut ids = Vec::new();
    for (_, value) in labels {
        if let Ok(list) = engine.unstarted(&format!("{}={value}", owner::LABEL)).await {
            ids.extend(list.into_iter().map(|c| c.id));
        }
    }
    ids
}
