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
                // Unset means the bridge driver's default: on.
                icc: n.options.as_ref().and_then(|o| o.get(NO_ICC)).is_none_or(|v| v != "false"),
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

/// Against the real daemon: a bridge created with inter-container traffic off is read as
/// such and is one hardrun's isolated default may use; the daemon's own `bridge` is
/// judged from the same facts `docker network inspect` prints.
#[cfg(test)]
mod daemon_tests {
    use std::process::Command;

    use crate::cli::Global;
    use crate::engine::{Engine, endpoint};
    use crate::policy::{IsolatedDefault, isolated_default};

    fn docker(args: &[&str]) -> Option<String> {
        let out = Command::new("docker").args(args).output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Removes the test network even when an assertion fails.
    struct Net(String);
    impl Drop for Net {
        fn drop(&mut self) {
            let _ = docker(&["network", "rm", &self.0]);
        }
    }

    #[test]
    fn the_default_choice_follows_the_networks_icc_fact() {
        if docker(&["version", "--format", "{{.Server.APIVersion}}"]).is_none() {
            let required = std::env::var("HARDRUN_REQUIRE_DOCKER").as_deref() == Ok("1");
            assert!(!required, "HARDRUN_REQUIRE_DOCKER=1 but the Docker daemon is not reachable");
            eprintln!("SKIPPED (no daemon test): the Docker daemon is not reachable");
            return;
        }
        let run = std::env::var("HARDRUN_TEST_RUN").unwrap_or_else(|_| "local".into());
        let name = format!("hardrun-test-noicc-{run}-{}", std::process::id());
        let label = format!("hardrun-test={run}-noicc");
        docker(&["network", "create", "--label", &label, "-o", "com.docker.network.bridge.enable_icc=false", &name])
            .expect("docker network create");
        let _net = Net(name.clone());
        let req = crate::run_args::parse_for_test(&["img:1"]).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (apart, bridge) = rt.block_on(async {
            let ep = endpoint::resolve(&Global::default(), &|k| std::env::var(k).ok()).unwrap();
            let engine = Engine::connect(ep).await.unwrap();
            (engine.find_network(&name).await.unwrap().unwrap(), engine.find_network("bridge").await.unwrap())
        });
        assert!(!apart.icc);
        assert_eq!(isolated_default(Some(&apart), &req).0, IsolatedDefault::Bridge);
        let bridge_icc = docker(&["network", "inspect", "bridge", "-f", "{{json .Options}}"]).unwrap();
        let expected = match bridge_icc.contains("\"com.docker.network.bridge.enable_icc\":\"false\"") {
            true => IsolatedDefault::Bridge,
            false => IsolatedDefault::Own,
        };
        assert_eq!(isolated_default(bridge.as_ref(), &req).0, expected, "{bridge_icc}");
    }
}
