//! hardrun's isolated default network: a bridge of its own, created on first use and
//! labelled as hardrun's, with inter-container traffic disabled, so a compromised
//! container cannot reach its neighbours the way it could on docker0.

use std::collections::HashMap;

use anyhow::{Result, anyhow};
use bollard::models::NetworkCreateRequest;
use bollard::query_parameters::ListNetworksOptionsBuilder;

use super::client::{Method, query, seg};
use super::{Engine, describe, status_of};
use crate::policy::NetworkFacts;

pub const NAME: &str = "hardrun";
pub const LABEL: &str = "org.hardrun.network";
const NO_ICC: &str = "com.docker.network.bridge.enable_icc";

impl Engine {
    /// The ID of hardrun's network, created when missing.
    pub async fn isolated_network(&self) -> Result<String> {
        if let Some(id) = self.oldest_isolated().await? {
            return Ok(id);
        }
        let req = NetworkCreateRequest {
            name: NAME.into(),
            driver: Some("bridge".into()),
            labels: Some(HashMap::from([(LABEL.to_string(), "isolated".to_string())])),
            options: Some(HashMap::from([(NO_ICC.to_string(), "false".to_string())])),
            ..Default::default()
        };
        let created =
            match self.client.post::<_, bollard::models::NetworkCreateResponse>("/networks/create", &req).await {
                Ok(r) => Some(r.id),
                // Another hardrun made it meanwhile (newer daemons refuse duplicates).
                Err(e) if status_of(&e) == Some(409) => None,
                Err(e) => return Err(anyhow!("creating hardrun's network: {}", describe(&e))),
            };
        // Older daemons accept duplicate names: when several hardrun processes raced, all
        // settle on the oldest and the others remove their own copy.
        let chosen =
            self.oldest_isolated().await?.ok_or_else(|| anyhow!("hardrun's network vanished after creation"))?;
        if let Some(mine) = created
            && mine != chosen
        {
            let _ = self.client.call(Method::DELETE, &format!("/networks/{}", seg(&mine)), None).await;
        }
        Ok(chosen)
    }

    /// The ID of hardrun's network when it exists (for `plan`, which creates nothing).
    pub async fn find_isolated_network(&self) -> Result<Option<String>> {
        self.oldest_isolated().await
    }

    /// The network the daemon means by `term` (an ID, a name or an ID prefix, resolved by
    /// the daemon itself, ambiguity included), `None` when it has none.
    pub async fn find_network(&self, term: &str) -> Result<Option<NetworkFacts>> {
        // The term is a path segment of the request: anything but a plain name cannot be
        // a network's name or ID, and must not reach another endpoint.
        if term.is_empty() || !term.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
            return Ok(None);
        }
        match self.client.get::<bollard::models::NetworkInspect>(&format!("/networks/{}", seg(term))).await {
            Ok(n) => Ok(Some(NetworkFacts {
                id: n.id.unwrap_or_default(),
                name: n.name.unwrap_or_default(),
                driver: n.driver.unwrap_or_default(),
            })),
            Err(e) if status_of(&e) == Some(404) => Ok(None),
            Err(e) => Err(anyhow!("looking up network {term}: {}", describe(&e))),
        }
    }

    async fn oldest_isolated(&self) -> Result<Option<String>> {
        let filters = HashMap::from([
            ("name".to_string(), vec![NAME.to_string()]),
            ("label".to_string(), vec![LABEL.to_string()]),
        ]);
        let opts = ListNetworksOptionsBuilder::new().filters(&filters).build();
        let mut nets: Vec<bollard::models::Network> =
            self.client.get(&format!("/networks{}", query(&opts))).await.map_err(|e| anyhow!(describe(&e)))?;
        // The name filter matches substrings; keep the exact name.
        nets.retain(|n| n.name.as_deref() == Some(NAME));
        nets.sort_by_key(|n| (created_key(n.created.as_deref().unwrap_or_default()), n.id.clone()));
        Ok(nets.into_iter().next().and_then(|n| n.id))
    }
}

/// A sortable form of an RFC 3339 time whose fraction Go trims (`.5Z` after `.45Z`).
fn created_key(t: &str) -> String {
    match t.split_once('.') {
        Some((whole, rest)) => {
            let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            format!("{whole}.{digits:0<9}{}", &rest[digits.len()..])
        }
        None => t.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::created_key;

    #[test]
    fn creation_times_sort_by_value() {
        assert!(created_key("2026-11-28T10:00:00.45Z") < created_key("2026-11-28T10:00:00.5Z"));
        assert!(created_key("2026-11-28T10:00:00Z") < created_key("2026-11-28T10:00:01.1Z"));
    }
}
