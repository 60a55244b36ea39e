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
use super::interrupt::{self, Phase};
use super::owner::Kind;
use super::raw;
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
        let created = self.docker.create_container(Some(opts), body).await.map_err(|e| anyhow!(describe(&e)))?;
        for w in created.warnings.iter().filter(|w| !w.is_empty()) {
            eprintln!("WARNING: {w}");
        }
        let id = created.id;
        interrupt::created(&id);
        for (name, ep) in later {
            let req = bollard::models::NetworkConnectRequest { container: id.clone(), endpoint_config: Some(ep) };
            if let Err(e) = self.docker.connect_network(&name, req).await {
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
        self.docker.start_container(id, None).await.map_err(|e| {
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
        let pump = attach::pump(attached, &streams);
        tokio::pin!(pump);
        let mut winch = signal(SignalKind::window_change()).ok();
        let ended = loop {
            tokio::select! {
                r = &mut pump => break r,
                s = signals.recv() => {
                    if proxy {
                        let opts = KillContainerOptionsBuilder::new().signal(s.0).build();
                        let _ = tokio::time::timeout(FORWARD_DEADLINE, self.docker.kill_container(id, Some(opts))).await;
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
                let code = waiter.code().await.map_err(Failure::AfterRunning);
                // With --rm the wait ends once the daemon removed the container.
                crate::timing::mark(if life.auto_remove { "remove" } else { "wait" });
                code
            }
        }
    }

    async fn resize(&self, id: &str) {
        if let Some((w, h)) = terminal::size() {
            let opts = ResizeContainerTTYOptionsBuilder::new().w(w as i32).h(h as i32).build();
            let _ = self.docker.resize_container_tty(id, opts).await;
        }
    }

    /// Starts waiting for the container to exit; returns once the daemon has registered
    /// the wait, so a container that exits at once is still seen.
    async fn wait_registered(&self, id: &str, condition: &str) -> Result<Waiter> {
        if raw::supported(&self.endpoint) {
            let path = format!("/v{}.{}/containers/{id}/wait?condition={condition}", self.api.0, self.api.1);
            let resp =
                raw::post(&self.endpoint, &path, false).await.map_err(|e| anyhow!("waiting for the container: {e}"))?;
            if resp.status != 200 {
                return Err(anyhow!(resp.error_message().await));
            }
            return Ok(Waiter::Raw(resp));
        }
        // Over TLS: bollard's wait, started before the container is.
        let docker = self.docker.clone();
        let (id, condition) = (id.to_string(), condition.to_string());
        let task = tokio::spawn(async move {
            use futures_util::StreamExt;
            let opts = bollard::query_parameters::WaitContainerOptions { condition };
            let mut s = docker.wait_container(&id, Some(opts));
            match s.next().await {
                Some(Ok(r)) => Ok(r.status_code as i32),
                Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code as i32),
                Some(Err(e)) => Err(anyhow!(describe(&e))),
                None => Err(anyhow!("the daemon ended the wait without a status")),
            }
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        Ok(Waiter::Task(task))
    }
}

/// A check run right after start (hardening verification); its failure removes the container.
pub trait AfterStart {
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

enum Waiter {
    Raw(raw::Response),
    Task(tokio::task::JoinHandle<Result<i32>>),
}

impl Waiter {
    async fn code(self) -> Result<i32> {
        match self {
            Waiter::Raw(resp) => {
                let body = resp.body().await?;
                let v: serde_json::Value = serde_json::from_str(body.trim())
                    .map_err(|_| anyhow!("unexpected wait answer from the daemon: {body}"))?;
                if let Some(msg) = v.pointer("/Error/Message").and_then(|m| m.as_str()).filter(|m| !m.is_empty()) {
                    return Err(anyhow!("waiting for the container: {msg}"));
                }
                Ok(v.get("StatusCode").and_then(|c| c.as_i64()).unwrap_or(0) as i32)
            }
            Waiter::Task(t) => t.await.map_err(|e| anyhow!("waiting for the container: {e}"))?,
        }
    }
}

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
