//! Running Compose itself: finding the one installed (`docker compose` v2 when its
//! plugin is there, else docker-compose 1.x), the command line that points it at the
//! hardened file, and where that file is kept between `up` and `down`.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context as _, Result, anyhow};

use crate::command::{cache_home, env};
use crate::compose::Project;
use crate::compose::render::Dialect;
use crate::engine::lifecycle::Signals;

/// Where the CLI plugin of `docker compose` (v2) lives.
const PLUGIN_DIRS: [&str; 4] = [
    "/usr/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
];

/// The Compose that runs the hardened file.
pub struct Tool {
    pub argv: Vec<String>,
    pub dialect: Dialect,
}

impl Tool {
    /// `docker compose` when its plugin is installed, else docker-compose on PATH.
    pub fn find() -> Option<Tool> {
        let home_plugins = env("HOME").map(|h| PathBuf::from(h).join(".docker/cli-plugins"));
        let plugin =
            PLUGIN_DIRS.iter().map(PathBuf::from).chain(home_plugins).any(|d| d.join("docker-compose").is_file());
        if plugin {
            return Some(Tool { argv: vec!["docker".into(), "compose".into()], dialect: Dialect::V2 });
        }
        let path = env("PATH").unwrap_or_default();
        let v1 = path.split(':').map(|d| Path::new(d).join("docker-compose")).find(|p| p.is_file())?;
        Some(Tool { argv: vec![v1.display().to_string()], dialect: Dialect::V1 })
    }

    pub fn required() -> Result<Tool> {
        Tool::find().ok_or_else(|| {
            anyhow!("no Compose found: install the docker compose plugin or docker-compose (hardrun runs Compose with the hardened file)")
        })
    }

    /// `compose -p NAME -f FILE --project-directory DIR ARGS...`.
    pub fn command(
        &self,
        project: &Project,
        file: &Path,
        docker_host: &str,
        args: &[String],
    ) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(&self.argv[0]);
        c.args(&self.argv[1..])
            .arg("-p")
            .arg(&project.name)
            .arg("-f")
            .arg(file)
            .arg("--project-directory")
            .arg(&project.dir)
            .args(args)
            .env("DOCKER_HOST", docker_host)
            // The file is final: Compose must not read the project's .env into it again.
            .env_remove("COMPOSE_FILE")
            .stdin(Stdio::inherit());
        c
    }

    /// Runs Compose to the end; a signal hardrun receives meanwhile is Compose's to act on.
    pub async fn status(&self, mut command: tokio::process::Command, signals: &mut Signals) -> Result<i32> {
        let mut child = command.spawn().with_context(|| format!("cannot start {}", self.argv.join(" ")))?;
        loop {
            tokio::select! {
                status = child.wait() => {
                    let status = status?;
                    return Ok(status.code().unwrap_or(128 + 9));
                }
                _ = signals.recv() => {}
            }
        }
    }
}

/// One project's Compose invocations.
pub struct Run<'a> {
    pub tool: &'a Tool,
    pub project: &'a Project,
    pub file: &'a Path,
    pub host: &'a str,
}

impl Run<'_> {
    pub fn compose(&self, verb: &[&str], rest: &[String]) -> tokio::process::Command {
        let args: Vec<String> = verb.iter().map(|s| s.to_string()).chain(rest.iter().cloned()).collect();
        self.tool.command(self.project, self.file, self.host, &args)
    }
}

/// Where `up` keeps the hardened file of a project, for `down`, `ps` and `logs`.
pub fn state_file(project: &Project) -> PathBuf {
    cache_home().join("hardrun/compose").join(format!("{}.yml", project.name))
}

pub fn write_state(project: &Project, text: &str) -> Result<PathBuf> {
    let path = state_file(project);
    let dir = path.parent().expect("the state file has a folder");
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}
