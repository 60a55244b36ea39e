//! The container lifecycle of `docker run` and `docker create`: create, attach, wait,
//! start, forward signals, resize the TTY, and exit with the container's code. Nothing
//! is left behind: whatever goes wrong between create and a running container, the
//! container hardrun created is removed (a signal's case is `interrupt`'s; a SIGKILL's,
//! the owner sweep's in `owner`).

use std::io::IsTerminal;

use anyhow::{Result, anyhow};
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    CreateContainerOptions, KillContainerOptionsBuilder, ResizeContainerTTYOptionsBuilder,
};
use tokio::signal::unix::{Signal, SignalKind, signal};

use super::attach::{self, End, Streams};
use super::client::{self, DaemonError, Method, seg};
use super::interrupt::{self, Phase};
use super::owner::Kind;
use super::terminal::{self, RawMode};
use super::{Engine, describe};
use crate::plan::Plan;
use crate::sanitize::short_id;

pub use crate::error::ExitError;

/// How long forwarding a signal to the container may take: a daemon that does not
/// answer must not stop hardrun from seeing the next signal.
const FORWARD_DEADLINE: std::time::Duration = std::time::Duration::from_secs(1);

/// The signals hardrun catches from before the pull until the container runs, and then
/// forwards to it.
pub struct Signals(Vec<(SignalKind, &'static str, i32, Signal)>);

impl Signals {
    pub fn install() -> Result<Signals> {
        let kinds = [
            (SignalKind::interrupt(), "SIGINT", 2),
            (SignalKind::terminate(), "SIGTERM", 15),
            (SignalKind::hangup(), "SIGHUP", 1),
            (SignalKind::quit(), "SIGQUIT", 3),
            (SignalKind::user_defined1(), "SIGUSR1", 10),
            (SignalKind::user_defined2(), "SIGUSR2", 12),
        ];
        let mut out = Vec::new();
        for (kind, name, number) in kinds {
            out.push((kind, name, number, signal(kind)?));
        }
        Ok(Signals(out))
    }

    /// The next signal: its name and number.
    pub async fn recv(&mut self) -> (&'static str, i32) {
        let futures = self.0.iter_mut().map(|(_, name, number, s)| {
            let (name, number) = (*name, *number);
            Box::pin(async move {
                s.recv().await;
                (name, number)
            })
        });
        futures_util::future::select_all(futures).await.0
    }
}

/// Runs `fut` to completion even if a signal arrives meanwhile (cancelling a create or
/// start half-way could leave a container the daemon made); reports the signal.
pub(crate) async fn shielded<T>(
    fut: impl std::future::Future<Output = T>,
    signals: &mut Signals,
) -> (T, Option<(&'static str, i32)>) {
    tokio::pin!(fut);
    let mut caught = None;
    loop {
        tokio::select! {
            out = &mut fut => return (out, caught),
            s = signals.recv(), if caught.is_none() => caught = Some(s),
        }
    }
}

pub(crate) fn interrupted(signal: (&str, i32), what: &str) -> anyhow::Error {
    ExitError { code: 128 + signal.1, message: format!("{} received {what}", signal.0) }.into()
}

/// docker's exit code for a failed start: 127 when the command is missing, 126 when it
/// cannot be run, 125 otherwise.
pub fn start_failure_code(message: &str) -> i32 {
    if ["executable file not found", "no such file or directory", "system cannot find the file specified"]
        .iter()
        .any(|m| message.contains(m))
    {
        127
    } else if message.contains("permission denied") || message.contains("is a directory") {
        126
    } else {
        125
    }
}

impl Engine {
    /// Creates the container of `plan` to be started by this process, and returns its ID
    /// (writing `--cidfile`).
    pub async fn create(&self, plan: &Plan) -> Result<String> {
        self.create_as(plan, Kind::Run).await
    }

    /// Creates the container of `plan`, labelled with its owner (this process, and
    /// whether it starts the container or leaves it to the user).
    async fn create_as(&self, plan: &Plan, kind: Kind) -> Result<String> {
        if let Some(path) = &plan.lifecycle.cidfile
            && std::path::Path::new(path).exists()
        {
            return Err(anyhow!(
                "container ID file {path} exists: make sure the other container is not running, or delete the file"
            ));
        }
        let mut body: ContainerCreateBody = plan.create.clone();
        if let Some((key, value)) = interrupt::owner_label(kind) {
            body.labels.get_or_insert_with(Default::default).insert(key, value);
        }
        let endpoints = body.networking_config.as_ref().and_then(|n| n.endpoints_config.as_ref());
        if !self.api_at_least(1, 44) && endpoints.is_some_and(|e| e.values().any(|ep| ep.mac_address.is_some())) {
            // Older daemons take the address only in a Config field the current API dropped;
            // sent per network they would record it and not apply it.
            return Err(anyhow!(
                "--mac-address needs Engine API 1.44 (Docker 25) and this daemon speaks {}.{}: leave it out, or upgrade the daemon",
                self.api.0,
                self.api.1
            ));
        }
        // Before API 1.44 a container is created on one network and connected to the rest.
        let mut later = Vec::new();
        if !self.api_at_least(1, 44)
            && let Some(eps) = body.networking_config.as_mut().and_then(|n| n.endpoints_config.as_mut())
            && eps.len() > 1
        {
            let primary = body.host_config.as_ref().and_then(|h| h.network_mode.clone()).unwrap_or_default();
            let names: Vec<String> = eps.keys().filter(|k| **k != primary).cloned().collect();
            for name in names {
                if let Some(ep) = eps.remove(&name) {
                    later.push((name, ep));
                }
            }
        }
        if plan.lifecycle.tty
            && self.api_at_least(1, 42)
            && let (Some((w, h)), Some(hc)) = (terminal::size(), body.host_config.as_mut())
        {
            hc.console_size = Some(vec![h as usize, w as usize]);
        }
        let opts = CreateContainerOptions {
            name: plan.name.clone(),
            platform: plan.lifecycle.platform.clone().unwrap_or_default(),
        };
        let path = format!("/containers/create{}", client::query(&opts));
        let created: bollard::models::ContainerCreateResponse =
            self.client.post(&path, &body).await.map_err(|e| anyhow!(describe(&e)))?;
        for w in created.warnings.iter().filter(|w| !w.is_empty()) {
            eprintln!("WARNING: {}", crate::sanitize::line(w, crate::sanitize::LINE_MAX));
        }
        let id = created.id;
        // Every later call, message and file uses the ID: it must be one (64 hex digits).
        if !client::is_container_id(&id) {
            let _ = self.remove(&id).await;
            return Err(anyhow!(
                "the daemon's create answer has {:?} for the container's ID, not 64 hexadecimal digits",
                crate::sanitize::line(&id, 80)
            ));
        }
        interrupt::created(&id);
        for (name, ep) in later {
            let req = bollard::models::NetworkConnectRequest { container: id.clone(), endpoint_config: Some(ep) };
            let path = format!("/networks/{}/connect", seg(&name));
            if let Err(e) = self.client.post::<_, serde::de::IgnoredAny>(&path, &req).await {
                let _ = self.remove(&id).await;
                return Err(anyhow!("connecting to network {name}: {} (the container was removed)", describe(&e)));
            }
        }
        if let Some(path) = &plan.lifecycle.cidfile
            && let Err(e) = std::fs::write(path, &id)
        {
            let _ = self.remove(&id).await;
            return Err(anyhow!("cannot write the container ID to {path}: {e} (the container was removed)"));
        }
        Ok(id)
    }

    async fn start(&self, id: &str) -> Result<()> {
        self.start_call(id).await.map_err(|e| {
            let message = describe(&e);
            anyhow::Error::from(ExitError { code: start_failure_code(&message), message })
        })
    }

    /// Removes a container hardrun created after a failure, and says so.
    async fn discard(&self, id: &str, err: anyhow::Error) -> anyhow::Error {
        let short = short_id(id);
        interrupt::enter(Phase::Removing);
        let removed = self.remove(id).await;
        if removed.is_ok() {
            interrupt::handed_over(id);
        }
        match removed {
            Ok(()) => match err.downcast::<ExitError>() {
                Ok(mut e) => {
                    e.message = format!("{} (hardrun removed container {short})", e.message);
                    e.into()
                }
                Err(other) => other.context(format!("hardrun removed container {short}")),
            },
            Err(e) => err.context(format!("container {short} could not be removed: {e}")),
        }
    }

    /// `docker create`: the ID on stdout.
    pub async fn create_only(&self, plan: &Plan, signals: &mut Signals) -> Result<i32> {
        interrupt::enter(Phase::Creating);
        let (created, caught) = shielded(self.create_as(plan, Kind::Create), signals).await;
        let id = created?;
        if let Some(sig) = caught {
            return Err(self.discard(&id, interrupted(sig, "while creating")).await);
        }
        interrupt::handed_over(&id);
        crate::error::write_stdout(format!("{id}\n").as_bytes())?;
        Ok(0)
    }

    /// `docker run`: create, then either start and print the ID (`-d`), or attach, start,
    /// wait, and return the container's exit code.
    pub async fn run(&self, plan: &Plan, signals: &mut Signals, after_start: &dyn AfterStart) -> Result<i32> {
        let life = &plan.lifecycle;
        if life.attach_stdin && life.tty && !std::io::stdin().is_terminal() {
            return Err(anyhow!("the input device is not a TTY: drop -t, or run from a terminal"));
        }
        interrupt::enter(Phase::Creating);
        let (created, caught) = shielded(self.create(plan), signals).await;
        let id = created?;
        if let Some(sig) = caught {
            return Err(self.discard(&id, interrupted(sig, "while creating")).await);
        }
        interrupt::enter(Phase::Checking);
        if let Err(e) = after_start.before_start(self, &id).await {
            return Err(self.discard(&id, e).await);
        }
        crate::timing::mark("create");
        if life.detach {
            // With --rm the daemon may remove the container before the start watch looks
            // at it: a wait registered before start still hears its exit code.
            if life.auto_remove {
                interrupt::enter(Phase::Waiting);
                let (waiter, caught) = shielded(self.wait_registered(&id, "next-exit"), signals).await;
                match (waiter, caught) {
                    (Err(e), _) => return Err(self.discard(&id, e).await),
                    (_, Some(sig)) => return Err(self.discard(&id, interrupted(sig, "while preparing to wait")).await),
                    (Ok(w), None) => after_start.exit_heard(ExitWatch(w)),
                }
            }
            interrupt::enter(Phase::Starting);
            let (started, caught) = shielded(self.start(&id), signals).await;
            if let Err(e) = started {
                return Err(self.discard(&id, e).await);
            }
            if let Some(sig) = caught {
                return Err(self.discard(&id, interrupted(sig, "while starting")).await);
            }
            // Started detached, the container is the user's (hardrun-init guards its
            // command whether or not hardrun stays to hear the verdict).
            interrupt::kept(&id);
            interrupt::enter(Phase::Verifying);
            if let Err(e) = after_start.check(self, &id).await {
                return Err(self.discard(&id, e).await);
            }
            crate::error::write_stdout(format!("{id}\n").as_bytes())?;
            return Ok(0);
        }
        match self.foreground(&id, plan, signals, after_start).await {
            Ok(code) => Ok(code),
            Err(Failure::BeforeRunning(e)) => Err(self.discard(&id, e).await),
            Err(Failure::AfterRunning(e)) => Err(e),
        }
    }

    async fn foreground(
        &self,
        id: &str,
        plan: &Plan,
        signals: &mut Signals,
        after_start: &dyn AfterStart,
    ) -> Result<i32, Failure> {
        let life = &plan.lifecycle;
        let keys = match &life.detach_keys {
            Some(k) => {
                Some((k.clone(), terminal::parse_detach_keys(k).map_err(|e| Failure::BeforeRunning(anyhow!(e)))?))
            }
            None if life.attach_stdin && life.tty => Some(("ctrl-p,ctrl-q".to_string(), vec![16, 17])),
            None => None,
        };
        let streams = Streams {
            stdin: life.attach_stdin,
            stdout: life.attach_stdout,
            stderr: life.attach_stderr,
            tty: life.tty,
            detach_keys: keys,
        };
        let before = Failure::BeforeRunning;
        interrupt::enter(Phase::Attaching);
        let (attached, caught) = shielded(self.attach(id, &streams), signals).await;
        crate::timing::mark("attach");
        let attached = attached.map_err(before)?;
        if let Some(sig) = caught {
            return Err(before(interrupted(sig, "while attaching")));
        }
        // Wait for removal with --rm, so that when hardrun returns nothing is left.
        let condition = if life.auto_remove { "removed" } else { "next-exit" };
        interrupt::enter(Phase::Waiting);
        let (waiter, caught) = shielded(self.wait_registered(id, condition), signals).await;
        crate::timing::mark("register-wait");
        let waiter = waiter.map_err(before)?;
        if let Some(sig) = caught {
            return Err(before(interrupted(sig, "while preparing to wait")));
        }
        let raw_mode = if life.tty && life.attach_stdin { Some(RawMode::enable()) } else { None };
        interrupt::enter(Phase::Starting);
        let (started, caught) = shielded(self.start(id), signals).await;
        crate::timing::mark("start");
        if let Err(e) = started {
            drop(raw_mode);
            return Err(before(e));
        }
        if let Some(sig) = caught {
            drop(raw_mode);
            return Err(before(interrupted(sig, "while starting")));
        }
        interrupt::enter(Phase::Verifying);
        if let Err(e) = after_start.check(self, id).await {
            drop(raw_mode);
            return Err(before(e));
        }
        crate::timing::mark("verify");
        // Running attached: signals are forwarded to the container (or, without the
        // proxy, leave it running), as docker does.
        interrupt::handed_over(id);
        interrupt::enter(Phase::Running);
        if life.tty {
            self.resize(id).await;
        }
        let proxy = life.sig_proxy && !life.tty;
        let moved = std::sync::atomic::AtomicU64::new(0);
        let pump = attach::pump(attached, &streams, &moved);
        // The wait is read while the output streams: once it answers the container has
        // exited, and its output must end soon after, or at least keep flowing (a daemon
        // holding it open would hold hardrun forever).
        let answer = waiter.answer();
        let grace = tokio::time::sleep(std::time::Duration::MAX);
        tokio::pin!(pump, answer, grace);
        let mut exited: Option<Result<i32>> = None;
        let mut seen = 0;
        let mut winch = signal(SignalKind::window_change()).ok();
        let ended = loop {
            tokio::select! {
                r = &mut pump => break r,
                a = &mut answer, if exited.is_none() => {
                    exited = Some(a);
                    seen = moved.load(std::sync::atomic::Ordering::Relaxed);
                    grace.as_mut().reset(tokio::time::Instant::now() + client::call_deadline());
                }
                _ = &mut grace, if exited.is_some() => {
                    let now = moved.load(std::sync::atomic::Ordering::Relaxed);
                    if now != seen {
                        seen = now;
                        grace.as_mut().reset(tokio::time::Instant::now() + client::call_deadline());
                        continue;
                    }
                    drop(raw_mode);
                    return Err(Failure::AfterRunning(anyhow!(
                        "the daemon kept the container's output open and silent {}s after the container exited",
                        client::call_deadline().as_secs()
                    )));
                }
                s = signals.recv() => {
                    if proxy {
                        let opts = KillContainerOptionsBuilder::new().signal(s.0).build();
                        let path = format!("/containers/{}/kill{}", seg(id), client::query(&opts));
                        let _ = tokio::time::timeout(FORWARD_DEADLINE, self.client.call(Method::POST, &path, None)).await;
                    } else {
                        drop(raw_mode);
                        return Err(Failure::AfterRunning(interrupted(s, "(the container keeps running)")));
                    }
                }
                _ = async {
                    match winch.as_mut() {
                        Some(w) => w.recv().await,
                        None => std::future::pending().await,
                    }
                }, if life.tty => {
                    self.resize(id).await;
                }
            }
        };
        drop(raw_mode);
        crate::timing::mark("exit");
        interrupt::enter(Phase::Exiting);
        match ended.map_err(Failure::AfterRunning)? {
            End::Detached => Ok(0),
            End::Closed => {
                let code = match exited {
                    Some(code) => code.map_err(Failure::AfterRunning),
                    // The output ended first: the answer follows at once, or the daemon fails.
                    None => match tokio::time::timeout(client::call_deadline(), answer).await {
                        Ok(code) => code.map_err(Failure::AfterRunning),
                        Err(_) => Err(Failure::AfterRunning(anyhow!(
                            "waiting for the container: the daemon did not give its exit status within {}s of its output ending",
                            client::call_deadline().as_secs()
                        ))),
                    },
                };
                // With --rm the wait ends once the daemon removed the container.
                crate::timing::mark(if life.auto_remove { "remove" } else { "wait" });
                match code {
                    Err(Failure::AfterRunning(e)) if life.auto_remove => self.remove_after_exit(id, e).await,
                    code => code,
                }
            }
        }
    }

    /// The daemon's own removal of an exited `--rm` container failed (a busy filesystem
    /// under load, say): hardrun removes it once more, and if that works the run ends
    /// with the container's code, as if the daemon had succeeded.
    async fn remove_after_exit(&self, id: &str, e: anyhow::Error) -> Result<i32, Failure> {
        let Some(after) = e.downcast_ref::<AfterExit>() else { return Err(Failure::AfterRunning(e)) };
        let code = after.code;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        match self.remove(id).await {
            Ok(()) => Ok(code),
            Err(again) => Err(Failure::AfterRunning(anyhow!("{e}; removing it again: {again}"))),
        }
    }

    async fn resize(&self, id: &str) {
        if let Some((w, h)) = terminal::size() {
            let opts = ResizeContainerTTYOptionsBuilder::new().w(w as i32).h(h as i32).build();
            let path = format!("/containers/{}/resize{}", seg(id), client::query(&opts));
            let _ = self.client.call(Method::POST, &path, None).await;
        }
    }

    /// `POST /containers/{id}/start`.
    pub(crate) async fn start_call(&self, id: &str) -> Result<(), DaemonError> {
        self.client.call(Method::POST, &format!("/containers/{}/start", seg(id)), None).await
    }

    /// Starts waiting for the container to exit; returns once the daemon has registered
    /// the wait (its answer's head has come), so a container that exits at once is seen.
    async fn wait_registered(&self, id: &str, condition: &str) -> Result<Waiter> {
        let path = format!("/containers/{}/wait?condition={condition}", seg(id));
        let (_, body) = self.client.stream(Method::POST, &path, &[]).await.map_err(|e| anyhow!(describe(&e)))?;
        Ok(Waiter(body))
    }
}

/// The exit code of a detached `--rm` container, heard through a wait registered before
/// it started (the container itself may be gone by the time anyone looks).
pub struct ExitWatch(Waiter);

impl ExitWatch {
    /// The exit code once the container has exited, read as exactly as a foreground run's.
    pub async fn code(self) -> Result<i32> {
        self.0.answer().await
    }
}

/// A check run right after start (hardening verification); its failure removes the container.
pub trait AfterStart {
    /// Given, before start, the way to hear a detached `--rm` container's exit.
    fn exit_heard(&self, _: ExitWatch) {}

    fn check<'a>(
        &'a self,
        engine: &'a Engine,
        id: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + 'a>>;

    /// A check once the container exists and before it starts (of what the daemon
    /// recorded); its failure removes the container too.
    fn before_start<'a>(
        &'a self,
        _: &'a Engine,
        _: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + 'a>> {
        Box::pin(async { Ok(()) })
    }
}

/// No check after start.
pub struct NoCheck;

impl AfterStart for NoCheck {
    fn check<'a>(
        &'a self,
        _: &'a Engine,
        _: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + 'a>> {
        Box::pin(async { Ok(()) })
    }
}

enum Failure {
    /// The container never ran: remove it.
    BeforeRunning(anyhow::Error),
    /// It ran: its fate is its own (docker's behaviour).
    AfterRunning(anyhow::Error),
}

/// A registered wait whose answer comes when the container exits (or is removed).
struct Waiter(client::Stream);

impl Waiter {
    /// The exit code, when the daemon gives it: as late as the container runs, at most a
    /// JSON answer's size, and read exactly (`wait_answer`).
    async fn answer(self) -> Result<i32> {
        let body = self.0.rest(client::JSON_MAX, None).await;
        let body = body.map_err(|e| anyhow!("waiting for the container: {}", describe(&e)))?;
        super::wait_answer::exit_code(&body).map_err(|why| match super::wait_answer::code_beside_error(&body) {
            Some(code) => anyhow::Error::new(AfterExit { code, why }),
            None => anyhow!(why),
        })
    }
}

/// The container exited with `code`, and then the daemon failed (with `--rm`, its removal).
#[derive(Debug)]
struct AfterExit {
    code: i32,
    why: String,
}

impl std::fmt::Display for AfterExit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.why)
    }
}

impl std::error::Error for AfterExit {}

#[cfg(test)]
mod tests {
    use super::start_failure_code;

    #[test]
    fn start_failures_map_to_docker_codes() {
        assert_eq!(start_failure_code(r#"exec: "nope": executable file not found in $PATH: unknown"#), 127);
        assert_eq!(start_failure_code("exec: /x: no such file or directory"), 127);
        assert_eq!(start_failure_code("exec: /etc: permission denied"), 126);
        assert_eq!(start_failure_code("exec: /etc: is a directory"), 126);
        assert_eq!(start_failure_code("cgroup error"), 125);
    }
}
