//! Who created a container: every container hardrun creates carries [`LABEL`], naming the
//! hardrun process (boot, PID namespace, PID and start time, so a reused PID is not
//! mistaken for it). A `hardrun run` killed between create and start (SIGKILL, a crash,
//! the machine going down) leaves a container that never ran; the next `run` or
//! `create`, and `hardrun prune`, remove such containers once their owner is gone.
//!
//! Only never-started ("created") containers are judged, only those labelled by a
//! `run` (a `create`'s container is the user's to start later), and only when the owner
//! is certainly gone: same boot and PID namespace and no such process, or a container
//! made before this machine booted. Anything else is left alone.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Result, anyhow};

use super::{Engine, describe};

/// The owner label (under hardrun's reserved prefix, which users cannot set).
pub const LABEL: &str = "org.hardrun.owner";
/// How long the sweep at the start of a run may take before it is abandoned (the run
/// goes on meanwhile; what is left is swept next time).
pub const SWEEP_DEADLINE: Duration = Duration::from_secs(5);

/// What the container was created for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `run`: started by the same process; never started means the owner died.
    Run,
    /// `create`: left for the user to start.
    Create,
}

/// A hardrun process, as its label names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub kind: Kind,
    pub boot: String,
    pub pid_ns: u64,
    pub pid: u32,
    /// Clock ticks after boot (field 22 of /proc/PID/stat).
    pub start: u64,
}

impl Owner {
    /// This process, or `None` where /proc does not tell (then nothing is labelled).
    pub fn current(kind: Kind) -> Option<Owner> {
        let here = Here::read()?;
        let pid = std::process::id();
        let start = here.start_of(pid)?;
        Some(Owner { kind, boot: here.boot, pid_ns: here.pid_ns, pid, start })
    }

    pub fn value(&self) -> String {
        let kind = match self.kind {
            Kind::Run => "run",
            Kind::Create => "create",
        };
        format!("{kind}/{}/{}/{}/{}", self.boot, self.pid_ns, self.pid, self.start)
    }

    pub fn parse(value: &str) -> Option<Owner> {
        let mut parts = value.split('/');
        let kind = match parts.next()? {
            "run" => Kind::Run,
            "create" => Kind::Create,
            _ => return None,
        };
        let boot = parts.next()?.to_string();
        let owner = Owner {
            kind,
            boot,
            pid_ns: parts.next()?.parse().ok()?,
            pid: parts.next()?.parse().ok()?,
            start: parts.next()?.parse().ok()?,
        };
        parts.next().is_none().then_some(owner)
    }
}

/// This machine and process namespace, as /proc tells them.
#[derive(Debug, Clone)]
pub struct Here {
    pub boot: String,
    pub pid_ns: u64,
    /// When this machine booted (Unix seconds).
    pub booted_at: i64,
}

impl Here {
    pub fn read() -> Option<Here> {
        let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?.trim().to_string();
        let ns = std::fs::read_link("/proc/self/ns/pid").ok()?;
        let pid_ns = ns.to_str()?.strip_prefix("pid:[")?.strip_suffix(']')?.parse().ok()?;
        let uptime: f64 = std::fs::read_to_string("/proc/uptime").ok()?.split_whitespace().next()?.parse().ok()?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs_f64();
        if boot.is_empty() || boot.contains('/') {
            return None;
        }
        Some(Here { boot, pid_ns, booted_at: (now - uptime) as i64 })
    }

    /// The start time of process `pid`, or `None` when there is no such process.
    pub fn start_of(&self, pid: u32) -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        start_in_stat(&stat)
    }
}

/// Field 22 of a /proc/PID/stat line; the command name (field 2) may hold spaces and
/// parentheses, so fields are counted after its last ')'.
fn start_in_stat(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether a never-started container labelled `owner`, created at `created` (Unix
/// seconds), was left by a hardrun run that is certainly gone. `start_of` looks a
/// process up on this machine.
pub fn abandoned(owner: &Owner, created: i64, here: &Here, start_of: &dyn Fn(u32) -> Option<u64>) -> bool {
    if owner.kind != Kind::Run {
        return false;
    }
    if owner.boot != here.boot {
        // Another boot, of this machine or another: gone only if made before this boot
        // (a minute's slack for clocks).
        return created < here.booted_at - 60;
    }
    if owner.pid_ns != here.pid_ns {
        // Another PID namespace on this machine: its processes cannot be looked up here.
        return false;
    }
    start_of(owner.pid) != Some(owner.start)
}

/// A container the sweep found.
#[derive(Debug, Clone)]
pub struct Leftover {
    pub id: String,
    pub name: String,
    pub owner: Owner,
}

/// A never-started container with an owner label, as the daemon lists it.
#[derive(Debug, Clone)]
pub struct Unstarted {
    pub id: String,
    pub name: String,
    /// The owner label's value.
    pub owner: String,
    /// Unix seconds.
    pub created: i64,
}

impl Engine {
    /// The never-started containers labelled `label` (`KEY` or `KEY=VALUE`): one list
    /// call, filtered by label and state at the daemon.
    pub async fn unstarted(&self, label: &str) -> Result<Vec<Unstarted>> {
        let filters = HashMap::from([
            ("label".to_string(), vec![label.to_string()]),
            ("status".to_string(), vec!["created".to_string()]),
        ]);
        let opts = bollard::query_parameters::ListContainersOptionsBuilder::new().all(true).filters(&filters).build();
        let path = format!("/containers/json{}", super::client::query(&opts));
        let list: Vec<bollard::models::ContainerSummary> =
            self.client.get(&path).await.map_err(|e| anyhow!(describe(&e)))?;
        Ok(list
            .into_iter()
            // The daemon filtered by state; a daemon that did not is checked here too.
            .filter(|c| c.state.as_ref().is_none_or(|s| s.to_string() == "created"))
            .filter_map(|c| {
                Some(Unstarted {
                    owner: c.labels.as_ref()?.get(LABEL)?.clone(),
                    name: c.names.and_then(|n| n.into_iter().next()).unwrap_or_default(),
                    created: c.created.unwrap_or(i64::MAX),
                    id: c.id.filter(|id| !id.is_empty())?,
                })
            })
            .collect())
    }

    /// The never-started containers whose hardrun run is gone.
    pub async fn abandoned(&self) -> Result<Vec<Leftover>> {
        let Some(here) = Here::read() else { return Ok(Vec::new()) };
        let start_of = |pid| here.start_of(pid);
        Ok(self
            .unstarted(LABEL)
            .await?
            .into_iter()
            .filter_map(|c| {
                let owner = Owner::parse(&c.owner)?;
                abandoned(&owner, c.created, &here, &start_of).then_some(Leftover { id: c.id, name: c.name, owner })
            })
            .collect())
    }

    /// Removes what [`Engine::abandoned`] finds; returns what was removed and the first
    /// failure, if any.
    pub async fn sweep(&self) -> Result<Vec<Leftover>> {
        let found = self.abandoned().await?;
        let mut removed = Vec::new();
        for l in found {
            self.remove(&l.id).await?;
            removed.push(l);
        }
        Ok(removed)
    }

    /// The sweep a run starts with: in the background, bounded, silent (a failure here
    /// must not fail the run; the next run or `hardrun prune` tries again).
    pub fn sweep_in_background(&self) {
        let engine = self.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(SWEEP_DEADLINE, engine.sweep()).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn here() -> Here {
        Here { boot: "b-1".into(), pid_ns: 7, booted_at: 1_000_000 }
    }

    fn owner(kind: Kind, boot: &str, ns: u64) -> Owner {
        Owner { kind, boot: boot.into(), pid_ns: ns, pid: 42, start: 900 }
    }

    #[test]
    fn labels_read_back() {
        let o = owner(Kind::Run, "6f1c-aa", 4026531836);
        assert_eq!(o.value(), "run/6f1c-aa/4026531836/42/900");
        assert_eq!(Owner::parse(&o.value()), Some(o));
        for bad in ["", "run", "run/b/1/2", "run/b/1/2/3/4", "stop/b/1/2/3", "run/b/x/2/3", "run/b/1/-2/3"] {
            assert_eq!(Owner::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_a_dead_runs_container_is_abandoned() {
        let h = here();
        let alive = |pid: u32| (pid == 42).then_some(900);
        let gone = |_: u32| None;
        let reused = |pid: u32| (pid == 42).then_some(901);
        let t = 2_000_000;
        assert!(!abandoned(&owner(Kind::Run, "b-1", 7), t, &h, &alive), "its process still runs");
        assert!(abandoned(&owner(Kind::Run, "b-1", 7), t, &h, &gone));
        assert!(abandoned(&owner(Kind::Run, "b-1", 7), t, &h, &reused), "the PID now names another process");
        assert!(!abandoned(&owner(Kind::Create, "b-1", 7), t, &h, &gone), "create's container is the user's");
        assert!(!abandoned(&owner(Kind::Run, "b-1", 8), t, &h, &gone), "another PID namespace cannot be judged");
        assert!(!abandoned(&owner(Kind::Run, "b-0", 7), t, &h, &gone), "another machine may still run it");
        assert!(abandoned(&owner(Kind::Run, "b-0", 7), 900_000, &h, &gone), "made before this boot");
    }

    #[test]
    fn start_time_is_field_22() {
        let stat = "1234 (a) b) c) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 10";
        assert_eq!(start_in_stat(stat), Some(98765));
        let me = Here::read().expect("this test runs on Linux");
        assert!(me.start_of(std::process::id()).is_some());
        assert!(Owner::current(Kind::Run).is_some());
    }
}
