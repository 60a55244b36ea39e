//! What verification asks the daemon: when a container has stopped (so hardrun stops
//! waiting for a verdict that will not come) or is gone.

use anyhow::{Result, anyhow};

use super::client::{JSON_MAX, Method, seg};
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
        // Unbounded in time while the container runs: the caller races it with its verdict.
        let path = format!("/containers/{}/wait?condition={condition}", seg(id));
        match self.client.stream(Method::POST, &path, &[]).await {
            Ok((_, body)) => body.rest(JSON_MAX, None).await.map(drop).map_err(|e| anyhow!(describe(&e))),
            Err(e) if status_of(&e) == Some(404) => Ok(()),
            Err(e) => Err(anyhow!(describe(&e))),
        }
    }
}
