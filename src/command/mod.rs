//! hardrun's commands, one file each; `main` dispatches to them.

pub mod audit;
pub mod bundled;
pub mod completions;
pub mod compose;
pub mod doctor;
pub mod export;
pub mod gate;
pub mod image;
pub mod install_plugin;
pub mod learn;
pub mod man;
pub mod plan;
pub mod prepare;
pub mod profile;
pub mod prune;
pub mod run;
pub mod signature;
pub mod verified;
pub mod watch;

use std::path::PathBuf;

use anyhow::{Context as _, Result};

use crate::cli::Global;
use crate::profile::{Loader, Profile};

/// The process environment, as the lookup function request parsing takes.
pub fn env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

/// Where hardrun caches: `$XDG_CACHE_HOME`, else `~/.cache`, else the temporary folder.
pub fn cache_home() -> PathBuf {
    env("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
}

pub fn cwd() -> Result<PathBuf> {
    std::env::current_dir().context("cannot read the current directory; cd into an existing folder")
}

/// The profile the global options name (`--profile-file` first, then `--profile`). The
/// files in force are named on stderr whenever one is not bundled, and so is every
/// project file passed over because the user has not trusted it.
pub fn load_profile(global: &Global, loader: &Loader) -> Result<Profile> {
    let profile = match &global.profile_file {
        Some(path) => loader.load_file(path)?,
        None => loader.load(global.profile.as_deref().unwrap_or("default"))?,
    };
    for u in &profile.untrusted {
        eprintln!("hardrun: warning: passed over {}", crate::profile::load::untrusted_note(u));
    }
    if let Some(files) = profile.files_in_force() {
        eprintln!("hardrun: {files}");
    }
    Ok(profile)
}
