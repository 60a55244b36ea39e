//! `hardrun install-plugin`: puts `docker-hardrun` where the docker CLI looks for
//! plugins, so `docker hardrun run ...` runs this binary (see `crate::plugin`).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use crate::cli::InstallPluginCommand;
use crate::plugin::FILE;

pub fn run(cmd: &InstallPluginCommand, env: &dyn Fn(&str) -> Option<String>) -> Result<i32> {
    let exe = std::env::current_exe().context("cannot tell where this hardrun binary is")?;
    let dir = cmd.dir.clone().unwrap_or_else(|| default_dir(env));
    let target = install(&exe, &dir, cmd.copy, cmd.force)?;
    eprintln!("hardrun: installed {}; try: docker hardrun run --rm IMAGE", target.display());
    Ok(0)
}

/// The folder the docker CLI looks in first: `$DOCKER_CONFIG/cli-plugins`, else
/// `~/.docker/cli-plugins`.
fn default_dir(env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    crate::engine::endpoint::config_dir(env).join("cli-plugins")
}

/// Makes `dir/docker-hardrun` point at this binary (a symlink, or a copy with `copy`).
/// An existing file is replaced only when it is hardrun's own (a link to it, or `force`).
fn install(exe: &Path, dir: &Path, copy: bool, force: bool) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let target = dir.join(FILE);
    if let Ok(meta) = std::fs::symlink_metadata(&target) {
        let ours = meta.file_type().is_symlink() && std::fs::read_link(&target).is_ok_and(|l| l == exe);
        if !ours && !force {
            bail!(
                "{} exists and is not a link to this hardrun: remove it, or pass --force to replace it",
                target.display()
            );
        }
        std::fs::remove_file(&target).with_context(|| format!("cannot replace {}", target.display()))?;
    }
    if copy {
        std::fs::copy(exe, &target).with_context(|| format!("cannot copy hardrun to {}", target.display()))?;
    } else {
        std::os::unix::fs::symlink(exe, &target).with_context(|| format!("cannot link {}", target.display()))?;
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_replace_only_hardruns_own_file() {
        let d = tempfile::tempdir().unwrap();
        let exe = d.path().join("hardrun");
        std::fs::write(&exe, "binary").unwrap();
        let dir = d.path().join("cli-plugins");
        let target = install(&exe, &dir, false, false).unwrap();
        assert_eq!(std::fs::read_link(&target).unwrap(), exe);
        install(&exe, &dir, false, false).expect("installing again replaces its own link");
        std::fs::remove_file(&target).unwrap();
        std::fs::write(&target, "someone else's").unwrap();
        let e = install(&exe, &dir, false, false).unwrap_err().to_string();
        assert!(e.contains("--force"), "{e}");
        install(&exe, &dir, true, true).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "binary", "--copy --force copies over it");
        let env = |k: &str| (k == "DOCKER_CONFIG").then(|| "/cfg".to_string());
        assert_eq!(default_dir(&env), Path::new("/cfg/cli-plugins"));
    }
}
