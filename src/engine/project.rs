//! The containers Compose made for a project, found by the labels Compose puts on them
//! (`com.docker.compose.project`, `com.docker.compose.service`), for verifying each one
//! after `hardrun compose up`.

use anyhow::{Result, anyhow};
use bollard::query_parameters::ListContainersOptionsBuilder;

use super::client::query;
use super::{Engine, describe};

/// One container of a Compose project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectContainer {
    pub id: String,
    pub name: String,
    pub service: String,
    /// `created`, `running`, `exited`...
    pub state: String,
}

impl Engine {
    /// Every container (any state) of Compose project `project`.
    pub async fn project_containers(&self, project: &str) -> Result<Vec<ProjectContainer>> {
        let filters = std::collections::HashMap::from([(
            "label".to_string(),
            vec![format!("com.docker.compose.project={project}")],
        )]);
        let opts = ListContainersOptionsBuilder::new().all(true).filters(&filters).build();
        let list: Vec<bollard::models::ContainerSummary> =
            self.client.get(&format!("/containers/json{}", query(&opts))).await.map_err(|e| anyhow!(describe(&e)))?;
        Ok(list
            .into_iter()
            .filter_map(|c| {
                let service = c.labels.as_ref()?.get("com.docker.compose.service")?.clone();
                let name = c.names.as_ref().and_then(|n| n.first()).map(|n| n.trim_start_matches('/').to_string());
                Some(ProjectContainer {
                    id: c.id?,
                    name: name.unwrap_or_default(),
                    service,
                    state: c.state.map(|s| s.to_string()).unwrap_or_default(),
                })
            })
            .collect())
    }
}
