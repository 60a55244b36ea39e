//! `hardrun learn`: runs the image with the user's flags under an observation setup and
//! prints a profile (extending the chosen one) with what the service needed; `learn
//! --check PROFILE` runs it hardened under that profile and says whether it works.
//!
//! The observation container is the plan's own (non-root, CapDrop ALL,
//! no-new-privileges, the plan's limits and mounts) with two changes that only let it
//! be seen: a writable root, so `docker diff` shows where it writes, and the chosen
//! seccomp profile with the syscalls it does not name logged instead of refused (the
//! escape routes stay refused). It is removed afterwards; the run that follows is
//! never loosened: the profile is only printed.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Seek};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow};

use super::run::{Invocation, Mode};
use super::{cwd, env};
use crate::cli::{Global, LearnCommand};
use crate::engine::lifecycle::Signals;
use crate::engine::{Engine, endpoint};
use crate::learn::{self, Observed};
use crate::plan::{Plan, SeccompSource};

/// The label of observation containers.
const LABEL: &str = "org.hardrun.learn";

pub async fn run(cmd: &LearnCommand, global: &Global, quiet: bool) -> Result<i32> {
    let mut global = global.clone();
    if let Some(p) = &cmd.check {
        global.profile_file = Some(p.clone());
    }
    let inv = Invocation::new(|cwd| cmd.docker.to_request(cwd, &env), &global, true, 0, false)?;
    if inv.req.detach || inv.req.interactive || inv.req.tty {
        return Err(anyhow!("learn runs the container itself: leave out -d, -i and -t"));
    }
    let endpoint = endpoint::resolve(&global, &env)?;
    let mut host = crate::host::gather(&inv.req, &inv.profile, &cwd()?, Some(&endpoint.host));
    crate::policy::harden(&inv.req, &inv.profile, &host).map_err(super::plan::Refused)?;
    let engine = Engine::connect(endpoint).await?;
    let mut signals = Signals::install()?;
    let (plan, _) = inv.decide(&engine, &mut host, &mut signals, Mode::Run).await?;
    super::prepare::bind_sources(&plan.prepare)?;
    match &cmd.check {
        Some(profile) => check(&engine, cmd, &plan, &inv.profile, &profile.display().to_string(), quiet).await,
        None => observe(&engine, cmd, &plan, &inv, quiet).await,
    }
}

/// The observation run of `plan`: the same container with a writable root (for `docker
/// diff`) and the observation seccomp profile; everything else, the user, the dropped
/// capabilities and no-new-privileges included, as planned.
fn observation(plan: &mut Plan, seccomp: &str) {
    let hc = plan.create.host_config.get_or_insert_with(Default::default);
    hc.readonly_rootfs = Some(false);
    hc.auto_remove = Some(false);
    for opt in hc.security_opt.iter_mut().flatten() {
        if opt.starts_with("seccomp=") {
            *opt = format!("seccomp={seccomp}");
        }
    }
    plan.create.labels.get_or_insert_with(Default::default).insert(LABEL.into(), "1".into());
    plan.lifecycle.cidfile = None;
}

/// Runs `probe` until it succeeds or `until` passes; whether it did.
async fn probe_until(probe: &str, until: Instant) -> bool {
    loop {
        let ok = tokio::process::Command::new("sh")
            .args(["-c", probe])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .status()
            .await
            .is_ok_and(|s| s.success());
        if ok || Instant::now() >= until {
            return ok;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Creates and starts the container of `plan`; the ID.
async fn start(engine: &Engine, plan: &Plan) -> Result<String> {
    let id = engine.create(plan).await?;
    if let Err(e) = engine.start_created(&id).await {
        let _ = engine.remove(&id).await;
        return Err(e.context("starting the container"));
    }
    Ok(id)
}

async fn observe(engine: &Engine, cmd: &LearnCommand, plan: &Plan, inv: &Invocation<'_>, quiet: bool) -> Result<i32> {
    let mut watched = plan.clone();
    let base_seccomp = match &plan.seccomp {
        SeccompSource::Bundled(name) => crate::seccomp::bundled(name).map(str::to_string).context("bundled seccomp")?,
        SeccompSource::File(p) => std::fs::read_to_string(p).with_context(|| format!("cannot read {p}"))?,
    };
    let observing = learn::observation_seccomp(&base_seccomp).map_err(anyhow::Error::msg)?;
    observation(&mut watched, &observing);
    let mut kmsg = KernelLog::open();
    let started = Instant::now();
    let id = start(engine, &watched).await?;
    if !quiet {
        eprintln!("hardrun: observing {} for up to {:.0} s", inv.req.image, cmd.duration.as_secs_f64());
    }
    let until = started + cmd.duration;
    let mut seen = Seen::default();
    let probe = async {
        match &cmd.probe {
            Some(p) => Some(probe_until(p, until).await),
            None => None,
        }
    };
    // Whether it stopped by itself before the time was up.
    let watch = async {
        loop {
            let pid = engine.init_pid(&id).await;
            if pid == 0 {
                return true;
            }
            seen.scan(&id);
            if Instant::now() >= until {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let (probed, stopped) = tokio::join!(probe, watch);
    let exited = match stopped {
        true => engine.exit_state(&id).await.map(|(code, _)| code),
        false => None,
    };
    let tail = crate::engine::watch::Tail::default();
    let output = engine.follow_output(&id, tail.clone());
    engine.kill_now(&id).await;
    let _ = tokio::time::timeout(Duration::from_secs(2), output).await;
    let changes = engine.root_changes(&id).await;
    let removed = engine.remove(&id).await;
    let changes = changes?;
    removed?;

    let events = kmsg.as_mut().ok().map(|k| k.read_events());
    let (folders, files) = learn::written(&changes);
    let writable: Vec<&str> = plan.writable.iter().map(|w| w.path.as_str()).collect();
    let outside = |p: &String| !writable.iter().any(|w| p == w || p.starts_with(&format!("{w}/")));
    let mut o = Observed {
        image: inv.req.image.clone(),
        base: inv.profile.name.clone(),
        base_file: global_file(inv),
        seccomp: inv.profile.seccomp.clone(),
        folders: folders.into_iter().filter(outside).collect(),
        files: files.into_iter().filter(outside).collect(),
        ports: seen.ports.iter().copied().collect(),
        users: seen.users.iter().cloned().collect(),
        user: plan
            .decisions
            .iter()
            .find(|d| d.control == "user")
            .map(|d| (plan.run_as.clone().unwrap_or_else(|| d.value.clone()), d.source.to_string())),
        probe: cmd.probe.clone().zip(probed),
        exited,
        base_publishes: inv.profile.network.publish,
        ..Observed::default()
    };
    match (kmsg, events) {
        (Err(why), _) => o.syscalls_unavailable = Some(why),
        (Ok(_), Some(Ok((events, lost)))) => {
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            for (pid, name) in events {
                if seen.pids.contains(&pid) {
                    *counts.entry(name).or_default() += 1;
                }
            }
            o.syscalls = counts.into_iter().collect();
            let default = crate::seccomp::parse(crate::seccomp::bundled("hardrun-default").unwrap_or("{}")).ok();
            o.default_allows = o
                .syscalls
                .iter()
                .filter(|(n, _)| default.as_ref().is_some_and(|d| d.allows(n) != crate::seccomp::Allowance::Denied))
                .map(|(n, _)| n.clone())
                .collect();
            o.syscalls_partial = lost;
        }
        (Ok(_), Some(Err(why))) => o.syscalls_unavailable = Some(why),
        (Ok(_), None) => {}
    }
    let ctx = crate::diagnosis::Context::from_plan(plan, &inv.profile, o.exited.unwrap_or(0), false);
    // What its output says matters when it stopped by itself.
    if o.exited.is_some() {
        o.diagnoses = crate::diagnosis::diagnose(&tail.lines(), &ctx).into_iter().map(|f| f.line).collect();
    }
    print!("{}", learn::propose(&o));
    Ok(0)
}

/// The profile file the base came from, when it was not found by name.
fn global_file(inv: &Invocation<'_>) -> Option<String> {
    inv.global.profile_file.as_ref().map(|p| p.display().to_string())
}

/// What the observation saw of the container's processes.
#[derive(Default)]
struct Seen {
    pids: BTreeSet<u32>,
    users: BTreeSet<String>,
    ports: BTreeSet<u16>,
}

impl Seen {
    /// The processes in the container's cgroup, their users, and the TCP ports its
    /// network namespace listens on.
    fn scan(&mut self, id: &str) {
        let Ok(dir) = std::fs::read_dir("/proc") else { return };
        let mut member = None;
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
            let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
            if !cgroup.contains(id) {
                continue;
            }
            self.pids.insert(pid);
            member.get_or_insert(pid);
            if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
                let id_of = |k: &str| {
                    status
                        .lines()
                        .find(|l| l.starts_with(k))
                        .and_then(|l| l.split_whitespace().nth(2))
                        .map(str::to_string)
                };
                if let (Some(u), Some(g)) = (id_of("Uid:"), id_of("Gid:")) {
                    self.users.insert(format!("{u}:{g}"));
                }
            }
        }
        // Through a process just seen in the container: its network namespace's table.
        let Some(pid) = member else { return };
        for table in ["tcp", "tcp6"] {
            if let Ok(t) = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")) {
                self.ports.extend(learn::listening(&t));
            }
        }
    }
}

/// The kernel's log from now on (`/dev/kmsg`), where seccomp's LOG action writes.
struct KernelLog(std::fs::File);

impl KernelLog {
    /// Opened at its end; why not, when it cannot be read (not root, dmesg_restrict, a
    /// remote daemon's kernel).
    fn open() -> Result<KernelLog, String> {
        use std::os::unix::fs::OpenOptionsExt;
        let logged = std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_logged").unwrap_or_default();
        if !logged.split_whitespace().any(|a| a == "log") {
            return Err("this kernel does not log seccomp's LOG action (kernel.seccomp.actions_logged lacks `log`), \
                        so syscalls outside the profile cannot be seen"
                .into());
        }
        // O_NONBLOCK: a read with nothing new returns at once.
        let mut f = std::fs::OpenOptions::new().read(true).custom_flags(0o4000).open("/dev/kmsg").map_err(|e| {
            format!("the kernel log (/dev/kmsg) cannot be read here ({e}): run learn as root next to the daemon to see syscalls")
        })?;
        f.seek(std::io::SeekFrom::End(0)).map_err(|e| format!("/dev/kmsg: {e}"))?;
        Ok(KernelLog(f))
    }

    /// The seccomp events logged since it was opened, and whether lines were lost.
    fn read_events(&mut self) -> Result<(Vec<(u32, String)>, bool), String> {
        let mut events = Vec::new();
        let mut lost = false;
        let mut buf = vec![0u8; 8192];
        loop {
            match self.0.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let record = String::from_utf8_lossy(&buf[..n]);
                    let text = record.split_once(';').map_or(record.as_ref(), |(_, t)| t);
                    if text.contains("callbacks suppressed") || text.contains("printk limit exceeded") {
                        lost = true;
                    }
                    // runc's own setup runs under the filter before the service does.
                    if !text.contains("comm=\"runc:") {
                        events.extend(learn::seccomp_event(text));
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                // The ring overwrote what was not read yet.
                Err(e) if e.raw_os_error() == Some(32) => lost = true,
                Err(e) => return Err(format!("reading /dev/kmsg: {e}")),
            }
        }
        Ok((events, lost))
    }
}

/// `learn --check PROFILE`: the run under PROFILE, hardened as `run` makes it; works
/// when it stays up for the duration and the probe (if any) succeeds.
async fn check(
    engine: &Engine,
    cmd: &LearnCommand,
    plan: &Plan,
    profile: &crate::profile::Profile,
    file: &str,
    quiet: bool,
) -> Result<i32> {
    let mut checked = plan.clone();
    checked.create.labels.get_or_insert_with(Default::default).insert(LABEL.into(), "check".into());
    let started = Instant::now();
    let id = start(engine, &checked).await?;
    let until = started + cmd.duration;
    let probed = match &cmd.probe {
        Some(p) => Some(probe_until(p, until).await),
        None => None,
    };
    let tail = crate::engine::watch::Tail::default();
    let output = engine.follow_output(&id, tail.clone());
    // The rest of the time (none when the probe took it all): is it still up?
    let seen = engine.watch(&id, started, cmd.duration).await;
    engine.kill_now(&id).await;
    let _ = tokio::time::timeout(Duration::from_secs(2), output).await;
    let state = engine.exit_state(&id).await;
    engine.remove(&id).await?;
    let seen = seen?;
    let died = !matches!(seen, crate::engine::watch::Seen::Running);
    let works = !died && probed != Some(false);
    if works {
        if !quiet {
            let probe = if probed == Some(true) { ", and the probe succeeded" } else { "" };
            eprintln!(
                "hardrun: works under {file}: the container ran hardened for {:.0} s{probe}",
                cmd.duration.as_secs_f64()
            );
        }
        return Ok(0);
    }
    let why = match (died, state) {
        (true, Some((code, _))) => format!("the container exited with code {code}"),
        (true, None) => "the container stopped".to_string(),
        (false, _) => "the probe never succeeded".to_string(),
    };
    eprintln!("hardrun: does not work under {file}: {why}");
    let ctx = crate::diagnosis::Context::from_plan(plan, profile, state.map_or(0, |s| s.0), state.is_some_and(|s| s.1));
    for f in crate::diagnosis::diagnose(&tail.lines(), &ctx) {
        eprintln!("hardrun: diagnosis: {}", f.advice);
    }
    Ok(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::load::{Loader, Location};

    #[test]
    fn the_observation_run_keeps_every_control_but_the_read_only_root_and_seccomps_default() {
        let profile = Loader { locations: vec![Location::Bundled] }.load("default").unwrap();
        let req = crate::run_args::parse_for_test(&["--user", "999:999", "img:1"]).unwrap();
        let host = crate::policy::Host { cwd: "/home/dev/project".into(), apparmor: Some(false), ..Default::default() };
        let mut plan = crate::policy::harden(&req, &profile, &host).unwrap();
        let base = crate::seccomp::bundled("hardrun-default").unwrap();
        observation(&mut plan, &learn::observation_seccomp(base).unwrap());
        let hc = plan.create.host_config.as_ref().unwrap();
        assert_eq!(hc.readonly_rootfs, Some(false));
        assert_eq!(hc.cap_drop.as_deref(), Some(&["ALL".to_string()][..]));
        assert!(hc.cap_add.as_ref().is_none_or(|c| c.is_empty()));
        let opts = hc.security_opt.as_ref().unwrap();
        assert!(opts.iter().any(|o| o == "no-new-privileges"), "{opts:?}");
        let seccomp = opts.iter().find_map(|o| o.strip_prefix("seccomp=")).unwrap();
        assert!(seccomp.contains("SCMP_ACT_LOG") && seccomp.contains("\"defaultAction\":\"SCMP_ACT_ERRNO\""));
        assert_eq!(plan.create.user.as_deref(), Some("999:999"));
        assert_eq!(plan.create.labels.as_ref().unwrap()[LABEL], "1");
    }
}
