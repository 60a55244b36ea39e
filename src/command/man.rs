//! `hardrun man`: manual pages rendered from the same clap definitions as `--help`
//! (clap_mangen), so the page cannot say other than the parser does.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow};
use clap::CommandFactory;

use crate::cli::{Cli, ManCommand};

pub fn run(cmd: &ManCommand, env: &dyn Fn(&str) -> Option<String>) -> Result<i32> {
    if cmd.install {
        let dir = cmd.dir.clone().unwrap_or_else(|| default_dir(env));
        let written = install(&dir)?;
        eprintln!("hardrun: wrote {written} pages into {}; try: man hardrun", dir.join("man1").display());
        return Ok(0);
    }
    let page = match &cmd.command {
        None => page(None)?,
        Some(name) => page(Some(name))?,
    };
    crate::error::write_stdout(&page)?;
    Ok(0)
}

/// The roff text of hardrun(1), or of hardrun-COMMAND(1).
pub fn page(command: Option<&str>) -> Result<Vec<u8>> {
    let mut top = Cli::command();
    top.build();
    let cmd = match command {
        None => top,
        Some(name) => {
            let sub = top.find_subcommand(name).ok_or_else(|| {
                let names: Vec<&str> = top.get_subcommands().map(|c| c.get_name()).collect();
                anyhow!("no command {name:?} (commands: {})", names.join(", "))
            })?;
            sub.clone().display_name(format!("hardrun-{name}"))
        }
    };
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut out)?;
    Ok(out)
}

/// Where man finds a user's pages without configuration (man-db maps ~/.local/bin on
/// PATH to ~/.local/share/man).
fn default_dir(env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    env("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env("HOME").unwrap_or_else(|| "/".into())).join(".local/share"))
        .join("man")
}

/// Writes hardrun.1 and one hardrun-COMMAND.1 per command into `dir/man1`.
fn install(dir: &Path) -> Result<usize> {
    let man1 = dir.join("man1");
    std::fs::create_dir_all(&man1).with_context(|| format!("cannot create {}", man1.display()))?;
    let names: Vec<String> = Cli::command().get_subcommands().map(|c| c.get_name().to_string()).collect();
    let pages = std::iter::once(None).chain(names.iter().map(|n| Some(n.as_str())));
    let mut written = 0;
    for name in pages {
        let file = man1.join(match name {
            None => "hardrun.1".to_string(),
            Some(n) => format!("hardrun-{n}.1"),
        });
        std::fs::write(&file, page(name)?).with_context(|| format!("cannot write {}", file.display()))?;
        written += 1;
    }
    Ok(written)
}
