//! Watching the start (`run`, in `-d` and in the foreground): a service that dies in
//! its first seconds is reported with its exit code, its last output and a diagnosis of
//! what hardening likely caused (`diagnosis`), and `-d` exits non-zero instead of
//! printing the ID of a container that is gone.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::diagnosis::{self, Context};
use crate::engine::Engine;
use crate::engine::lifecycle::{AfterStart, ExitError, ExitWatch};
use crate::engine::watch::{Seen, Tail};
use crate::plan::Plan;
use crate::profile::Profile;
use crate::sanitize;

/// The window watched when `--watch` is not given.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(2);
/// Output lines shown with a failure.
const SHOWN_LINES: usize = 10;

pub struct Watch<'p> {
    plan: &'p Plan,
    profile: &'p Profile,
    window: Duration,
    quiet: bool,
    tail: Tail,
    started: RefCell<Option<Started>>,
    /// A detached `--rm` container's exit, heard even once it is removed.
    exit: RefCell<Option<ExitWatch>>,
}

/// The container being watched, when, and the task reading its output.
struct Started {
    id: String,
    at: Instant,
    output: Option<tokio::task::JoinHandle<()>>,
}

impl<'p> Watch<'p> {
    pub fn new(plan: &'p Plan, profile: &'p Profile, window: Duration, quiet: bool) -> Watch<'p> {
        Watch {
            plan,
            profile,
            window,
            quiet,
            tail: Tail::default(),
            started: RefCell::new(None),
            exit: RefCell::new(None),
        }
    }

    async fn check_start(&self, engine: &Engine, id: &str) -> Result<()> {
        crate::engine::interrupt::enter(crate::engine::interrupt::Phase::Watching);
        if self.window.is_zero() {
            return Ok(());
        }
        let now = Instant::now();
        let output = Some(engine.follow_output(id, self.tail.clone()));
        *self.started.borrow_mut() = Some(Started { id: id.to_string(), at: now, output });
        if !self.plan.lifecycle.detach {
            // In the foreground the output streams on; the exit is judged in `after_exit`.
            return Ok(());
        }
        let mut seen = engine.watch(id, now, self.window).await?;
        let exit = self.exit.borrow_mut().take();
        if let (Seen::Gone { after }, Some(exit)) = (&seen, exit) {
            // Removed by --rm after it exited: the wait registered before start has the code.
            if let Ok(Ok(code)) = tokio::time::timeout(Duration::from_secs(2), exit.code()).await {
                seen = Seen::Exited { code: i64::from(code), oom_killed: false, restarts: 0, after: *after };
            }
        }
        match seen {
            Seen::Running => Ok(()),
            Seen::Exited { code: 0, restarts: 0, after, .. } => {
                if !self.quiet {
                    eprintln!("hardrun: note: the container exited with code 0 {:.1} s after it started", secs(after));
                }
                Ok(())
            }
            Seen::Exited { code, oom_killed, restarts, after } => {
                self.settle().await;
                let what = match restarts {
                    0 => format!("the container exited with code {code} {:.1} s after it started", secs(after)),
                    n => format!(
                        "the container was restarted {n} time{} within {:.1} s of starting (last exit code {code})",
                        if n == 1 { "" } else { "s" },
                        secs(after)
                    ),
                };
                let exit = if code > 0 && code < 256 { code as i32 } else { 125 };
                Err(ExitError { code: exit, message: self.report(&what, code, oom_killed, true) }.into())
            }
            Seen::Gone { after } => {
                self.settle().await;
                let what = format!("the container exited and was removed {:.1} s after it started", secs(after));
                Err(ExitError { code: 125, message: self.report(&what, -1, false, true) }.into())
            }
        }
    }

    /// In the foreground, once the container ended with `code`: a diagnosis when it
    /// failed within the window and its output shows why (its output was on screen).
    pub async fn after_exit(&self, engine: &Engine, code: i32) {
        let Some((id, started)) = self.started.borrow().as_ref().map(|s| (s.id.clone(), s.at)) else { return };
        if code == 0 || started.elapsed() > self.window + Duration::from_millis(500) {
            return;
        }
        self.settle().await;
        let oom = engine.exit_state(&id).await.is_some_and(|(_, oom)| oom);
        let ctx = Context::from_plan(self.plan, self.profile, code as i64, oom);
        let findings = diagnosis::diagnose(&self.tail.lines(), &ctx);
        if !findings.is_empty() {
            let what =
                format!("the container exited with code {code} {:.1} s after it started", secs(started.elapsed()));
            eprintln!("hardrun: {}", self.report(&what, code as i64, oom, false));
        }
    }

    /// Lets the output stream deliver what the container wrote last.
    async fn settle(&self) {
        let task = self.started.borrow_mut().as_mut().and_then(|s| s.output.take());
        if let Some(t) = task {
            let _ = tokio::time::timeout(Duration::from_millis(1000), t).await;
        }
    }

    /// `what`, then (with `output`) the last lines of output, then each diagnosis; every
    /// line of it hardrun's own (`hardrun: ` is added by whoever prints it).
    fn report(&self, what: &str, code: i64, oom_killed: bool, output: bool) -> String {
        let lines = self.tail.lines();
        let mut out = what.to_string();
        if output {
            match (lines.is_empty(), self.tail.unavailable()) {
                (_, Some(why)) => out.push_str(&format!("; its output cannot be read ({why})")),
                (true, None) => out.push_str("; it wrote nothing"),
                (false, None) => {
                    out.push_str("; its last output:");
                    for l in &lines[lines.len().saturating_sub(SHOWN_LINES)..] {
                        out.push_str(&format!("\nhardrun:   | {}", sanitize::line(l, sanitize::LINE_MAX)));
                    }
                }
            }
        }
        let ctx = Context::from_plan(self.plan, self.profile, code, oom_killed);
        for f in diagnosis::diagnose(&lines, &ctx) {
            out.push_str(&format!(
                "\nhardrun: diagnosis: {}\nhardrun:   (from: {})",
                f.advice,
                sanitize::line(&f.line, 200)
            ));
        }
        out
    }
}

impl Drop for Watch<'_> {
    fn drop(&mut self) {
        if let Some(task) = self.started.borrow_mut().as_mut().and_then(|s| s.output.take()) {
            task.abort();
        }
    }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

impl AfterStart for Watch<'_> {
    fn check<'a>(&'a self, engine: &'a Engine, id: &'a str) -> Pin<Box<dyn Future<Output = Result<()>> + 'a>> {
        Box::pin(self.check_start(engine, id))
    }

    fn exit_heard(&self, exit: ExitWatch) {
        *self.exit.borrow_mut() = Some(exit);
    }
}

/// Two checks, one after the other (before start, and after start).
pub struct Then<'a>(pub &'a dyn AfterStart, pub &'a dyn AfterStart);

impl AfterStart for Then<'_> {
    /// The exit goes to the second check: the start watch comes after verification.
    fn exit_heard(&self, exit: ExitWatch) {
        self.1.exit_heard(exit)
    }

    fn check<'a>(&'a self, engine: &'a Engine, id: &'a str) -> Pin<Box<dyn Future<Output = Result<()>> + 'a>> {
        Box::pin(async move {
            self.0.check(engine, id).await?;
            self.1.check(engine, id).await
        })
    }

    fn before_start<'a>(&'a self, engine: &'a Engine, id: &'a str) -> Pin<Box<dyn Future<Output = Result<()>> + 'a>> {
        Box::pin(async move {
            self.0.before_start(engine, id).await?;
            self.1.before_start(engine, id).await
        })
    }
}
