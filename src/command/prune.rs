//! `hardrun prune`: the sweep every run starts with, on demand. Removes the containers
//! that `hardrun run` created and never started because it was killed (SIGKILL, a crash,
//! a reboot) — judged by their owner label, never anything else (`engine::owner`).

use anyhow::Result;

use super::env;
use crate::cli::{Global, PruneCommand};
use crate::engine::owner::Leftover;
use crate::engine::{Engine, endpoint};
use crate::sanitize::{escape, short_id};

pub async fn run(cmd: &PruneCommand, global: &Global, quiet: bool) -> Result<i32> {
    let engine = Engine::connect(endpoint::resolve(global, &env)?).await?;
    let found = engine.abandoned().await?;
    let mut out = String::new();
    for l in &found {
        if !cmd.dry_run {
            engine.remove(&l.id).await?;
        }
        out.push_str(&line(l, cmd.dry_run));
        out.push('\n');
    }
    crate::error::write_stdout(out.as_bytes())?;
    if !quiet {
        let verb = if cmd.dry_run { "would remove" } else { "removed" };
        eprintln!(
            "hardrun: {verb} {} container{} left by hardrun runs that ended before starting them",
            found.len(),
            if found.len() == 1 { "" } else { "s" }
        );
    }
    Ok(0)
}

/// One container: its short ID, its name, and whose it was.
fn line(l: &Leftover, dry_run: bool) -> String {
    let verb = if dry_run { "would remove" } else { "removed" };
    let name = escape(l.name.trim_start_matches('/'));
    format!("{verb} {} {name} (created by hardrun process {}, which has ended)", escape(short_id(&l.id)), l.owner.pid)
}
