//! `hardrun completions SHELL [--install]`: completion scripts generated from the clap
//! definitions, printed, or written where each shell loads them from.

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::{Cli, CompletionsCommand};

pub fn run(cmd: &CompletionsCommand, env: &dyn Fn(&str) -> Option<String>) -> Result<i32> {
    let mut script = Vec::new();
    clap_complete::generate(cmd.shell, &mut Cli::command(), "hardrun", &mut script);
    if !cmd.install {
        crate::error::write_stdout(&script)?;
        return Ok(0);
    }
    let (path, note) = location(cmd.shell, env)?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(&path, script).with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!("hardrun: wrote {}{note}", path.display());
    Ok(0)
}

/// The per-user file each shell reads completions from, and what the user still has to do.
fn location(shell: Shell, env: &dyn Fn(&str) -> Option<String>) -> Result<(PathBuf, &'static str)> {
    let home = || PathBuf::from(env("HOME").unwrap_or_else(|| "/".into()));
    let xdg = |var: &str, fallback: &str| {
        env(var).filter(|v| !v.is_empty()).map(PathBuf::from).unwrap_or_else(|| home().join(fallback))
    };
    Ok(match shell {
        // bash-completion loads it on first use of `hardrun`.
        Shell::Bash => (xdg("XDG_DATA_HOME", ".local/share").join("bash-completion/completions/hardrun"), ""),
        Shell::Fish => (xdg("XDG_CONFIG_HOME", ".config").join("fish/completions/hardrun.fish"), ""),
        Shell::Zsh => (
            xdg("XDG_DATA_HOME", ".local/share").join("zsh/site-functions/_hardrun"),
            "; zsh reads it once that folder is on fpath: add `fpath+=(${XDG_DATA_HOME:-$HOME/.local/share}/zsh/\
             site-functions)` before `compinit` in ~/.zshrc",
        ),
        other => {
            bail!("--install knows bash, zsh and fish; for {other}, print the script (hardrun completions {other})")
        }
    })
}
