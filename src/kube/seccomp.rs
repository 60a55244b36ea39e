//! The pods' seccomp profile: the runtime's default, hardrun's bundled profile installed
//! as a file on each node (`Localhost`), or the bundled profile as a
//! security-profiles-operator `SeccompProfile` object the operator installs itself.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::SeccompProfile;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use serde_yaml::Value;

use super::Workload;
use crate::cli::KubeSeccomp;
use crate::plan::SeccompSource;

/// Where node-installed profiles go, under the kubelet's seccomp folder.
const NODE_DIR: &str = "hardrun";
/// The namespace an operator profile is in when no --namespace is given.
const DEFAULT_NAMESPACE: &str = "default";

pub struct Choice {
    kind: KubeSeccomp,
    namespace: String,
    /// Bundled profiles the workloads use.
    bundled: BTreeSet<String>,
    /// Profile files (not bundled) the workloads use.
    files: BTreeSet<String>,
}

/// What a plan's seccomp is, for Kubernetes.
enum Used {
    /// Docker's own default (`seccomp=builtin`): the runtime's default is its counterpart.
    RuntimeDefault,
    Bundled(String),
    File(String),
}

fn used(w: &Workload) -> Used {
    let builtin = w
        .plan
        .create
        .host_config
        .as_ref()
        .and_then(|hc| hc.security_opt.as_ref())
        .is_some_and(|o| o.iter().any(|s| s == "seccomp=builtin"));
    match (&w.plan.seccomp, builtin) {
        (_, true) => Used::RuntimeDefault,
        (SeccompSource::Bundled(n), _) => Used::Bundled(n.clone()),
        (SeccompSource::File(p), _) => Used::File(p.clone()),
    }
}

fn file_name(path: &str) -> String {
    std::path::Path::new(path).file_name().map_or_else(|| "profile.json".into(), |n| n.to_string_lossy().into())
}

impl Choice {
    pub fn new(kind: KubeSeccomp, namespace: Option<&str>, workloads: &[Workload]) -> Choice {
        let mut c = Choice {
            kind,
            namespace: namespace.unwrap_or(DEFAULT_NAMESPACE).to_string(),
            bundled: BTreeSet::new(),
            files: BTreeSet::new(),
        };
        for w in workloads {
            match used(w) {
                Used::Bundled(n) => c.bundled.insert(n),
                Used::File(p) => c.files.insert(p),
                Used::RuntimeDefault => false,
            };
        }
        c
    }

    /// The pod's `seccompProfile`.
    pub fn for_pod(&self, w: &Workload) -> SeccompProfile {
        let localhost = |path: String| SeccompProfile { type_: "Localhost".into(), localhost_profile: Some(path) };
        match (self.kind, used(w)) {
            (KubeSeccomp::RuntimeDefault, _) | (_, Used::RuntimeDefault) => {
                SeccompProfile { type_: "RuntimeDefault".into(), localhost_profile: None }
            }
            (KubeSeccomp::Operator, Used::Bundled(n)) => localhost(format!("operator/{}/{n}.json", self.namespace)),
            (_, Used::Bundled(n)) => localhost(format!("{NODE_DIR}/{n}.json")),
            (_, Used::File(p)) => localhost(format!("{NODE_DIR}/{}", file_name(&p))),
        }
    }

    /// What the user must do for the profiles to be found.
    pub fn notes(&self) -> Vec<String> {
        let mut out = Vec::new();
        let install = |what: &str, source: &str| {
            format!(
                "install {what} on every node before applying: {source} > /var/lib/kubelet/seccomp/{NODE_DIR}/{what}"
            )
        };
        if self.kind != KubeSeccomp::RuntimeDefault {
            if self.kind == KubeSeccomp::Localhost {
                for n in &self.bundled {
                    out.push(install(&format!("{n}.json"), &format!("hardrun seccomp export {n}")));
                }
            }
            for p in &self.files {
                out.push(install(&file_name(p), &format!("cat {p}")));
            }
        }
        if self.kind == KubeSeccomp::Operator && !self.bundled.is_empty() {
            out.push(format!(
                "the SeccompProfile objects need the security-profiles-operator, and pods reference them in namespace {}",
                self.namespace
            ));
        }
        out
    }

    /// The bundled profiles as operator objects, with `--seccomp operator`.
    pub fn operator_objects(&self) -> Vec<Value> {
        if self.kind != KubeSeccomp::Operator {
            return Vec::new();
        }
        self.bundled
            .iter()
            .filter_map(|n| operator_profile(n, &self.namespace))
            .map(|o| serde_yaml::to_value(o).expect("a SeccompProfile serializes"))
            .collect()
    }
}

/// security-profiles-operator's `SeccompProfile` (v1beta1).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OperatorProfile {
    api_version: &'static str,
    kind: &'static str,
    metadata: ObjectMeta,
    spec: OperatorSpec,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct OperatorSpec {
    default_action: String,
    architectures: Vec<String>,
    syscalls: Vec<OperatorSyscall>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct OperatorSyscall {
    names: Vec<String>,
    action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    errno_ret: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    args: Vec<OperatorArg>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct OperatorArg {
    index: u32,
    value: u64,
    value_two: u64,
    op: String,
}

fn scmp(v: &impl Serialize) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// A bundled profile in the operator's terms. Rules that hold only for some
/// capabilities or kernels (docker's `includes`/`excludes`) have no counterpart and are
/// left out: in an allow-list that only denies more.
pub fn operator_profile(name: &str, namespace: &str) -> Option<OperatorProfile> {
    let profile = crate::seccomp::parse(crate::seccomp::bundled(name)?).ok()?;
    let mut architectures: Vec<String> = profile.architectures.iter().map(scmp).collect();
    for m in &profile.arch_map {
        architectures.push(scmp(&m.architecture));
        architectures.extend(m.sub_architectures.iter().map(scmp));
    }
    let syscalls = profile
        .syscalls
        .iter()
        .filter(|r| r.includes.is_empty() && r.excludes.is_empty())
        .map(|r| OperatorSyscall {
            names: r.syscall_names().map(str::to_string).collect(),
            action: scmp(&r.action),
            errno_ret: r.errno_ret,
            args: r
                .args
                .iter()
                .map(|a| OperatorArg { index: a.index, value: a.value, value_two: a.value_two, op: scmp(&a.op) })
                .collect(),
        })
        .collect();
    Some(OperatorProfile {
        api_version: "security-profiles-operator.x-k8s.io/v1beta1",
        kind: "SeccompProfile",
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            ..Default::default()
        },
        spec: OperatorSpec { default_action: scmp(&profile.default_action), architectures, syscalls },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_profile_converts_whole() {
        let p = operator_profile("hardrun-default", "apps").unwrap();
        let bundled = crate::seccomp::parse(crate::seccomp::bundled("hardrun-default").unwrap()).unwrap();
        assert_eq!(p.spec.syscalls.len(), bundled.syscalls.len());
        assert_eq!(p.spec.default_action, "SCMP_ACT_ERRNO");
        assert!(p.spec.architectures.contains(&"SCMP_ARCH_X86_64".to_string()));
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["spec"]["syscalls"][26]["args"][0]["op"], "SCMP_CMP_MASKED_EQ");
        assert_eq!(v["metadata"]["namespace"], "apps");
    }
}
