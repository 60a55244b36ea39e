//! What verification asks the daemon: when a container has stopped (so hardrun stops
//! waiting for a verdict that will not come) or is gone.

use anyhow::{Result, anyhow};
use futures_util::StreamExt;

use super::{Engine, describe, status_of};

impl Engine {
    /// Returns once the container is not running (at once when it already stopped or
    /// was removed).
    pub async fn until_stopped(&self, id: &str) -> Result<()> {
        self.wait_for(id, "not-running").await
    }

    /// Returns once a container the daemon removes itself (`--rm`) is gone.
    pub async fn until_removed(&self, id: &str) -> Result<()> {
        self.wait_for(id, "removed").await
    }

    async fn wait_for(&self, id: &str, condition: &str) -> Result<()> {
        let opts = bollard::query_parameters::WaitContainerOptions { condition: condition.into() };
        match self.docker.wait_container(id, Some(opts)).next().await {
            None | Some(Ok(_)) => Ok(()),
            Some(Err(bollard::errors::Error::DockerContainerWaitError { .. })) => Ok(()),
            Some(Err(e)) if status_of(&e) == Some(404) => Ok(()),
            Some(Err(e)) => Err(anyhow!(describe(&e))),
        }
    }
}
