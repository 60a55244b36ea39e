//! Reaching a workload: a Service for its ports (each container port, and a published
//! host port under its own number when it differs) and a NetworkPolicy that denies
//! everything by default, then allows what the project needs: its services on a shared
//! Compose network reach each other (Compose allows every port between them), published
//! ports are open, DNS works, and traffic out of the cluster flows unless every network
//! of the service is `internal`. Private address ranges stay closed, so the project
//! cannot reach other projects' pods or the cloud metadata endpoint.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{Workload, dns_label, meta, selector};

/// Private and link-local ranges: other pods and nodes, and the metadata endpoint.
const PRIVATE_V4: [&str; 4] = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"];
const PRIVATE_V6: [&str; 2] = ["fc00::/7", "fe80::/10"];

/// The pod label that says a pod is on Compose network `key`.
pub fn label(key: &str) -> String {
    let name: String = format!("network.{key}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '-' })
        .take(63)
        .collect();
    format!("hardrun/{}", name.trim_end_matches(['-', '_', '.']))
}

/// (container port, published host port or none, protocol) of a workload.
fn ports(w: &Workload) -> Vec<(i32, Option<i32>, String)> {
    let c = &w.plan.create;
    let mut out: Vec<(i32, Option<i32>, String)> = Vec::new();
    for key in c.exposed_ports.iter().flatten() {
        let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
        let Ok(port) = port.parse::<i32>() else { continue };
        let proto = proto.to_ascii_uppercase();
        let published = c
            .host_config
            .as_ref()
            .and_then(|hc| hc.port_bindings.as_ref())
            .and_then(|b| b.get(key))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|b| b.host_port.as_deref()?.parse::<i32>().ok())
            .next();
        out.push((port, published, proto));
    }
    out.sort();
    out
}

fn published(w: &Workload) -> Vec<(i32, String)> {
    let bindings = w.plan.create.host_config.as_ref().and_then(|hc| hc.port_bindings.as_ref());
    let mut out: Vec<(i32, String)> = bindings
        .into_iter()
        .flatten()
        .filter(|(_, b)| b.as_ref().is_some_and(|b| !b.is_empty()))
        .filter_map(|(key, _)| {
            let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
            Some((port.parse().ok()?, proto.to_ascii_uppercase()))
        })
        .collect();
    out.sort();
    out
}

/// The Service, when the workload has ports.
pub fn service(w: &Workload, name: &str, namespace: Option<&str>, project: Option<&str>) -> Option<Service> {
    let mut service_ports: Vec<ServicePort> = Vec::new();
    for (port, host, proto) in ports(w) {
        let mut add = |number: i32, label: String| {
            if !service_ports.iter().any(|p| p.port == number && p.protocol.as_deref() == Some(&proto)) {
                service_ports.push(ServicePort {
                    name: Some(label),
                    port: number,
                    target_port: Some(IntOrString::Int(port)),
                    protocol: Some(proto.clone()),
                    ..Default::default()
                });
            }
        };
        add(port, format!("{}-{port}", proto.to_ascii_lowercase()));
        if let Some(h) = host.filter(|h| *h != port) {
            add(h, format!("published-{h}"));
        }
    }
    if service_ports.is_empty() {
        return None;
    }
    Some(Service {
        metadata: meta(name, namespace, selector(name, project)),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            selector: Some(selector(name, project)),
            ports: Some(service_ports),
            ..Default::default()
        }),
        status: None,
    })
}

fn peer_on(project: Option<&str>, key: &str) -> NetworkPolicyPeer {
    let mut labels = BTreeMap::from([(label(key), "true".to_string())]);
    if let Some(p) = project {
        labels.insert("app.kubernetes.io/part-of".into(), dns_label(p));
    }
    NetworkPolicyPeer {
        pod_selector: Some(LabelSelector { match_labels: Some(labels), ..Default::default() }),
        ..Default::default()
    }
}

fn port(number: i32, proto: &str) -> NetworkPolicyPort {
    NetworkPolicyPort { port: Some(IntOrString::Int(number)), protocol: Some(proto.into()), end_port: None }
}

/// Default deny, then what the project needs.
pub fn policy(w: &Workload, name: &str, namespace: Option<&str>, project: Option<&str>) -> NetworkPolicy {
    let mut ingress = Vec::new();
    let mut egress = Vec::new();
    // Services of one Compose project on a shared network, every port, both ways.
    if project.is_some() {
        let peers: Vec<NetworkPolicyPeer> = w.networks.iter().map(|n| peer_on(project, &n.key)).collect();
        if !peers.is_empty() {
            ingress.push(NetworkPolicyIngressRule { from: Some(peers.clone()), ports: None });
            egress.push(NetworkPolicyEgressRule { to: Some(peers), ports: None });
        }
    }
    let open = published(w);
    if !open.is_empty() {
        ingress.push(NetworkPolicyIngressRule {
            from: None,
            ports: Some(open.iter().map(|(p, proto)| port(*p, proto)).collect()),
        });
    }
    if !w.networks.is_empty() {
        // DNS, from the cluster's resolver in whatever namespace it runs.
        egress.push(NetworkPolicyEgressRule {
            to: Some(vec![NetworkPolicyPeer {
                namespace_selector: Some(LabelSelector::default()),
                pod_selector: Some(LabelSelector {
                    match_labels: Some(BTreeMap::from([("k8s-app".to_string(), "kube-dns".to_string())])),
                    ..Default::default()
                }),
                ..Default::default()
            }]),
            ports: Some(vec![port(53, "UDP"), port(53, "TCP")]),
        });
    }
    if w.networks.iter().any(|n| !n.internal) {
        let block = |cidr: &str, except: &[&str]| NetworkPolicyPeer {
            ip_block: Some(IPBlock { cidr: cidr.into(), except: Some(except.iter().map(|e| e.to_string()).collect()) }),
            ..Default::default()
        };
        egress.push(NetworkPolicyEgressRule {
            to: Some(vec![block("0.0.0.0/0", &PRIVATE_V4), block("::/0", &PRIVATE_V6)]),
            ports: None,
        });
    }
    NetworkPolicy {
        metadata: meta(name, namespace, selector(name, project)),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector { match_labels: Some(selector(name, project)), ..Default::default() }),
            policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
            ingress: (!ingress.is_empty()).then_some(ingress),
            egress: (!egress.is_empty()).then_some(egress),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::label;

    #[test]
    fn network_labels_are_valid_keys() {
        assert_eq!(label("default"), "hardrun/network.default");
        assert_eq!(label("back end!"), "hardrun/network.back-end");
        assert!(label(&"x".repeat(100)).len() <= "hardrun/".len() + 63);
        assert!(super::super::pod::qualified_name(&label("a_b.c")));
    }
}
