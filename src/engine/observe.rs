//! What `hardrun learn` needs from the daemon beyond a run: starting a container it
//! created, the changes of its root filesystem (`docker diff`), and stopping it.

use anyhow::{Result, anyhow};
use bollard::query_parameters::KillContainerOptionsBuilder;

use super::client::{Method, query, seg};
use super::{Engine, describe};

impl Engine {
    pub async fn start_created(&self, id: &str) -> Result<()> {
        self.start_call(id).await.map_err(|e| anyhow!(describe(&e)))
    }

    /// `docker diff`: (kind, path) with kind 0 changed, 1 added, 2 deleted.
    pub async fn root_changes(&self, id: &str) -> Result<Vec<(u8, String)>> {
        let changes: Option<Vec<bollard::models::FilesystemChange>> =
            self.client.get(&format!("/containers/{}/changes", seg(id))).await.map_err(|e| anyhow!(describe(&e)))?;
        Ok(changes.unwrap_or_default().into_iter().map(|c| (c.kind as u8, c.path)).collect())
    }

    /// SIGKILL, ignoring a container that already stopped.
    pub async fn kill_now(&self, id: &str) {
        let opts = KillContainerOptionsBuilder::new().signal("SIGKILL").build();
        let _ = self.client.call(Method::POST, &format!("/containers/{}/kill{}", seg(id), query(&opts)), None).await;
    }

    /// The host pid of the container's first process, 0 when it is not running.
    pub async fn init_pid(&self, id: &str) -> i64 {
        match self.inspect_container(id).await {
            Ok(c) => c.state.and_then(|s| s.pid).unwrap_or(0),
            Err(_) => 0,
        }
    }
}
