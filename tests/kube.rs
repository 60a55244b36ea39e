//! `hardrun export kube` and `hardrun compose export kube`: every manifest validates
//! against the Kubernetes schemas (kubernetes-validate, strict, the API version the
//! models are pinned to) and passes every rule of Pod Security Standards "baseline" and
//! "restricted", checked here rule by rule; `run` flags round-trip into the pod spec;
//! what "restricted" forbids is refused; what Kubernetes cannot express is said.

mod common;

use std::path::Path;
use std::process::Command;

use common::hardrun;
use serde_json::Value;

/// The Kubernetes version of the models (k8s-openapi's `v1_33` feature).
const KUBERNETES: &str = "1.33.0";

/// The documents of a YAML stream.
fn documents(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|d| <Value as serde::Deserialize>::deserialize(d).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

/// Validation against the schemas, strict (no unknown fields), offline. Fails without
/// kubernetes-validate when HARDRUN_REQUIRE_KUBE_VALIDATE=1 (CI installs it).
fn validate(text: &str) {
    let tool = std::env::var("HARDRUN_KUBE_VALIDATE").unwrap_or_else(|_| "kubernetes-validate".into());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("manifests.yaml");
    std::fs::write(&file, text).unwrap();
    let out = match Command::new(&tool).args(["--strict", "-k", KUBERNETES]).arg(&file).output() {
        Ok(o) => o,
        Err(e) => {
            if std::env::var("HARDRUN_REQUIRE_KUBE_VALIDATE").is_ok_and(|v| v == "1") {
                panic!("HARDRUN_REQUIRE_KUBE_VALIDATE=1 but {tool} cannot run: {e}");
            }
            eprintln!("SKIPPED (schema validation): {tool}: {e}; pip install kubernetes-validate");
            return;
        }
    };
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && !report.contains("ERROR"), "schema validation failed:\n{report}\n{text}");
    let core = documents(text).iter().filter(|d| !d["apiVersion"].as_str().unwrap_or("").contains("x-k8s.io")).count();
    assert_eq!(report.matches(" passed for resource ").count(), core, "{report}");
}

/// The pod specs in a document, with where they are.
fn pod_specs(doc: &Value) -> Vec<(String, &Value, &Value)> {
    let kind = doc["kind"].as_str().unwrap_or_default();
    let (meta, spec) = match kind {
        "Pod" => (&doc["metadata"], &doc["spec"]),
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
            (&doc["spec"]["template"]["metadata"], &doc["spec"]["template"]["spec"])
        }
        "CronJob" => (
            &doc["spec"]["jobTemplate"]["spec"]["template"]["metadata"],
            &doc["spec"]["jobTemplate"]["spec"]["template"]["spec"],
        ),
        _ => return Vec::new(),
    };
    vec![(format!("{kind}/{}", doc["metadata"]["name"].as_str().unwrap_or("?")), meta, spec)]
}

fn list(v: &Value) -> Vec<&Value> {
    v.as_array().map(|a| a.iter().collect()).unwrap_or_default()
}

/// Every rule of the Pod Security Standards (baseline, then restricted) for one pod spec,
/// as kubernetes.io/docs/concepts/security/pod-security-standards states them.
fn pss_violations(meta: &Value, spec: &Value) -> Vec<String> {
    let mut v = Vec::new();
    let psc = &spec["securityContext"];
    let containers: Vec<&Value> =
        ["containers", "initContainers", "ephemeralContainers"].iter().flat_map(|k| list(&spec[*k])).collect();
    let each = |f: &dyn Fn(&Value) -> bool| containers.iter().all(|c| f(&c["securityContext"]));
    let any = |f: &dyn Fn(&Value) -> bool| containers.iter().any(|c| f(&c["securityContext"]));
    // Baseline: HostProcess.
    if psc["windowsOptions"]["hostProcess"] == true || any(&|sc| sc["windowsOptions"]["hostProcess"] == true) {
        v.push("baseline: hostProcess".into());
    }
    // Baseline: host namespaces.
    for k in ["hostNetwork", "hostPID", "hostIPC"] {
        if spec[k] == true {
            v.push(format!("baseline: {k}"));
        }
    }
    // Baseline: privileged containers.
    if any(&|sc| sc["privileged"] == true) {
        v.push("baseline: privileged".into());
    }
    // Baseline: capabilities beyond the default set.
    const BASELINE_CAPS: [&str; 13] = [
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    ];
    if any(&|sc| list(&sc["capabilities"]["add"]).iter().any(|c| !BASELINE_CAPS.contains(&c.as_str().unwrap_or("")))) {
        v.push("baseline: capabilities".into());
    }
    // Baseline: hostPath volumes.
    if list(&spec["volumes"]).iter().any(|vol| !vol["hostPath"].is_null()) {
        v.push("baseline: hostPath".into());
    }
    // Baseline: host ports.
    if containers.iter().flat_map(|c| list(&c["ports"])).any(|p| p["hostPort"].as_i64().is_some_and(|h| h != 0)) {
        v.push("baseline: hostPort".into());
    }
    // Baseline: AppArmor.
    let apparmor_ok = |sc: &Value| {
        matches!(sc["appArmorProfile"]["type"].as_str(), None | Some("RuntimeDefault") | Some("Localhost"))
    };
    if !apparmor_ok(psc) || !each(&apparmor_ok) {
        v.push("baseline: appArmorProfile".into());
    }
    if let Some(annotations) = meta["annotations"].as_object() {
        for (k, val) in annotations {
            let value = val.as_str().unwrap_or("");
            if k.starts_with("container.apparmor.security.beta.kubernetes.io/")
                && value != "runtime/default"
                && !value.starts_with("localhost/")
            {
                v.push(format!("baseline: AppArmor annotation {k}"));
            }
        }
    }
    // Baseline: SELinux.
    let selinux_ok = |sc: &Value| {
        let o = &sc["seLinuxOptions"];
        matches!(
            o["type"].as_str(),
            None | Some("")
                | Some("container_t")
                | Some("container_init_t")
                | Some("container_kvm_t")
                | Some("container_engine_t")
        ) && o["user"].is_null()
            && o["role"].is_null()
    };
    if !selinux_ok(psc) || !each(&selinux_ok) {
        v.push("baseline: seLinuxOptions".into());
    }
    // Baseline: /proc mount type.
    if !each(&|sc| matches!(sc["procMount"].as_str(), None | Some("Default"))) {
        v.push("baseline: procMount".into());
    }
    // Baseline: seccomp not Unconfined.
    if psc["seccompProfile"]["type"] == "Unconfined" || any(&|sc| sc["seccompProfile"]["type"] == "Unconfined") {
        v.push("baseline: seccomp Unconfined".into());
    }
    // Baseline: sysctls.
    const SAFE_SYSCTLS: [&str; 10] = [
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    ];
    for s in list(&psc["sysctls"]) {
        if !SAFE_SYSCTLS.contains(&s["name"].as_str().unwrap_or("")) {
            v.push(format!("baseline: sysctl {}", s["name"]));
        }
    }
    // Restricted: volume types.
    const VOLUME_TYPES: [&str; 8] =
        ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"];
    for vol in list(&spec["volumes"]) {
        let kinds: Vec<&String> = vol.as_object().unwrap().keys().filter(|k| *k != "name").collect();
        if kinds.len() != 1 || !VOLUME_TYPES.contains(&kinds[0].as_str()) {
            v.push(format!("restricted: volume type {kinds:?}"));
        }
    }
    // Restricted: privilege escalation.
    if !each(&|sc| sc["allowPrivilegeEscalation"] == false) {
        v.push("restricted: allowPrivilegeEscalation".into());
    }
    // Restricted: running as non-root.
    if !(psc["runAsNonRoot"] == true || each(&|sc| sc["runAsNonRoot"] == true))
        || any(&|sc| sc["runAsNonRoot"] == false)
    {
        v.push("restricted: runAsNonRoot".into());
    }
    // Restricted: running as a non-root user.
    if psc["runAsUser"] == 0 || any(&|sc| sc["runAsUser"] == 0) {
        v.push("restricted: runAsUser 0".into());
    }
    // Restricted: seccomp RuntimeDefault or Localhost, at pod level or on every container.
    let seccomp_ok = |sc: &Value| match sc["seccompProfile"]["type"].as_str() {
        Some("RuntimeDefault") => true,
        Some("Localhost") => sc["seccompProfile"]["localhostProfile"].as_str().is_some_and(|p| !p.is_empty()),
        _ => false,
    };
    let container_override_ok = each(&|sc| sc["seccompProfile"].is_null() || seccomp_ok(sc));
    if !((seccomp_ok(psc) || each(&seccomp_ok)) && container_override_ok) {
        v.push("restricted: seccompProfile".into());
    }
    // Restricted: capabilities drop ALL, add only NET_BIND_SERVICE.
    if !each(&|sc| list(&sc["capabilities"]["drop"]).iter().any(|c| *c == "ALL")) {
        v.push("restricted: capabilities.drop ALL".into());
    }
    if any(&|sc| list(&sc["capabilities"]["add"]).iter().any(|c| *c != "NET_BIND_SERVICE")) {
        v.push("restricted: capabilities.add".into());
    }
    v
}

/// What the issue asks on top of "restricted": a non-zero group, a read-only root,
/// limits and requests, memory-backed size-limited emptyDirs for tmpfs.
fn hardrun_expectations(spec: &Value) -> Vec<String> {
    let mut v = Vec::new();
    for c in list(&spec["containers"]) {
        let sc = &c["securityContext"];
        if !(sc["runAsGroup"].as_i64().is_some_and(|g| g > 0) && sc["runAsUser"].as_i64().is_some_and(|u| u > 0)) {
            v.push("runAsUser/runAsGroup not non-zero".into());
        }
        if sc["readOnlyRootFilesystem"] != true {
            v.push("readOnlyRootFilesystem".into());
        }
        for k in ["limits", "requests"] {
            if c["resources"][k]["memory"].is_null() || c["resources"][k]["cpu"].is_null() {
                v.push(format!("resources.{k}"));
            }
        }
    }
    for vol in list(&spec["volumes"]) {
        let e = &vol["emptyDir"];
        if e["medium"] == "Memory" && e["sizeLimit"].is_null() {
            v.push(format!("emptyDir {} without sizeLimit", vol["name"]));
        }
    }
    v
}

/// Runs an export; checks the schemas and every rule; returns the documents.
fn export(args: &[&str], dir: &Path) -> (Vec<Value>, String) {
    let out = hardrun(args).current_dir(dir).run().success();
    let text = out.stdout();
    validate(&text);
    let docs = documents(&text);
    for doc in &docs {
        for (at, meta, spec) in pod_specs(doc) {
            let bad = [pss_violations(meta, spec), hardrun_expectations(spec)].concat();
            assert!(bad.is_empty(), "{at} breaks {bad:?}\n{text}");
        }
    }
    assert!(docs.iter().any(|d| !pod_specs(d).is_empty()), "no workload in\n{text}");
    (docs, out.stderr())
}

fn kind<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind}/{name} in {docs:#?}"))
}

fn container(workload: &Value) -> &Value {
    let spec = if workload["kind"] == "Pod" { &workload["spec"] } else { &workload["spec"]["template"]["spec"] };
    &spec["containers"][0]
}

#[test]
fn the_checker_catches_each_rule() {
    // The rule check itself, on pods that break one rule each.
    let good = serde_json::json!({
        "securityContext": {"runAsNonRoot": true, "runAsUser": 1, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "c", "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]
    });
    assert!(pss_violations(&Value::Null, &good).is_empty());
    let breaks: [(&str, &str, Value); 9] = [
        ("/hostNetwork", "hostNetwork", Value::Bool(true)),
        ("/containers/0/securityContext/privileged", "privileged", Value::Bool(true)),
        ("/containers/0/securityContext/capabilities/add", "capabilities", serde_json::json!(["SYS_ADMIN"])),
        ("/volumes", "hostPath", serde_json::json!([{"name": "h", "hostPath": {"path": "/"}}])),
        ("/securityContext/seccompProfile/type", "seccomp", Value::from("Unconfined")),
        ("/securityContext/runAsUser", "runAsUser", Value::from(0)),
        ("/containers/0/securityContext/allowPrivilegeEscalation", "allowPrivilegeEscalation", Value::Bool(true)),
        ("/containers/0/securityContext/capabilities/add", "capabilities.add", serde_json::json!(["CHOWN"])),
        ("/securityContext/sysctls", "sysctl", serde_json::json!([{"name": "kernel.msgmax", "value": "1"}])),
    ];
    for (pointer, rule, value) in breaks {
        let mut bad = good.clone();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let slot = bad.pointer_mut(parent).unwrap_or_else(|| panic!("{parent}"));
        slot.as_object_mut().unwrap().insert(key.to_string(), value);
        let found = pss_violations(&Value::Null, &bad);
        assert!(found.iter().any(|f| f.contains(rule)), "{rule} not caught: {found:?}");
    }
}

#[test]
fn run_flags_round_trip_into_a_restricted_deployment() {
    let dir = tempfile::tempdir().unwrap();
    let (docs, stderr) = export(
        &[
            "export",
            "kube",
            "--name",
            "web",
            "--user",
            "1000:2000",
            "-p",
            "127.0.0.1:8080:80",
            "--tmpfs",
            "/tmp:size=32m",
            "-v",
            "cache:/cache:ro",
            "--cap-add",
            "NET_BIND_SERVICE",
            "--memory",
            "256m",
            "--memory-reservation",
            "128m",
            "--cpus",
            "0.5",
            "--health-cmd",
            "wget -q -O- localhost",
            "--health-interval",
            "15s",
            "-e",
            "MODE=prod",
            "--workdir",
            "/srv",
            "--entrypoint",
            "/bin/server",
            "app:1.2",
            "--port",
            "80",
        ],
        dir.path(),
    );
    let d = kind(&docs, "Deployment", "web");
    let c = container(d);
    let pod = &d["spec"]["template"]["spec"];
    assert_eq!(c["image"], "app:1.2");
    assert_eq!(c["command"], serde_json::json!(["/bin/server"]));
    assert_eq!(c["args"], serde_json::json!(["--port", "80"]));
    assert_eq!(c["workingDir"], "/srv");
    assert_eq!(c["env"], serde_json::json!([{"name": "MODE", "value": "prod"}]));
    assert_eq!(
        (c["securityContext"]["runAsUser"].as_i64(), c["securityContext"]["runAsGroup"].as_i64()),
        (Some(1000), Some(2000))
    );
    assert_eq!(pod["securityContext"]["fsGroup"], 2000);
    assert_eq!(c["securityContext"]["capabilities"]["add"], serde_json::json!(["NET_BIND_SERVICE"]));
    assert_eq!(c["resources"]["limits"], serde_json::json!({"cpu": "500m", "memory": "256Mi"}));
    assert_eq!(c["resources"]["requests"]["memory"], "128Mi");
    assert_eq!(c["readinessProbe"]["exec"]["command"], serde_json::json!(["/bin/sh", "-c", "wget -q -O- localhost"]));
    assert_eq!(c["readinessProbe"]["periodSeconds"], 15);
    let volumes = list(&pod["volumes"]);
    let tmp = volumes.iter().find(|v| v["emptyDir"]["medium"] == "Memory").expect("tmpfs as a memory emptyDir");
    assert_eq!(tmp["emptyDir"]["sizeLimit"], "32Mi");
    let cache = volumes.iter().find(|v| v["persistentVolumeClaim"]["claimName"] == "cache").expect("a claim for cache");
    let mount = list(&c["volumeMounts"]).into_iter().find(|m| m["name"] == cache["name"]).unwrap();
    assert_eq!((mount["mountPath"].as_str(), mount["readOnly"].as_bool()), (Some("/cache"), Some(true)));
    kind(&docs, "PersistentVolumeClaim", "cache");
    let svc = kind(&docs, "Service", "web");
    let ports: Vec<(i64, i64)> = list(&svc["spec"]["ports"])
        .iter()
        .map(|p| (p["port"].as_i64().unwrap(), p["targetPort"].as_i64().unwrap()))
        .collect();
    assert_eq!(ports, [(80, 80), (8080, 80)]);
    let np = kind(&docs, "NetworkPolicy", "web");
    assert_eq!(np["spec"]["policyTypes"], serde_json::json!(["Ingress", "Egress"]));
    assert_eq!(np["spec"]["ingress"], serde_json::json!([{"ports": [{"port": 80, "protocol": "TCP"}]}]));
    // What Kubernetes cannot say is said, on stderr and in the file.
    for gap in ["pids limit 256", "ulimit nofile", "tmpfs /tmp noexec", "swap", "bind rule", "AppArmor"] {
        let said = stderr.lines().any(|l| l.starts_with("hardrun: not carried over: ") && l.contains(gap));
        assert!(said, "{gap}: {stderr}");
    }
}

#[test]
fn pods_seccomp_choices_and_network_none() {
    let dir = tempfile::tempdir().unwrap();
    let (docs, _) = export(
        &["export", "kube", "--kind", "pod", "--restart", "on-failure", "--network", "none", "--name", "job", "app:1"],
        dir.path(),
    );
    let pod = kind(&docs, "Pod", "job");
    assert_eq!(pod["spec"]["restartPolicy"], "OnFailure");
    assert_eq!(pod["spec"]["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
    let np = kind(&docs, "NetworkPolicy", "job");
    assert!(np["spec"]["ingress"].is_null() && np["spec"]["egress"].is_null(), "no network: deny all: {np}");

    let (docs, stderr) = export(&["export", "kube", "--seccomp", "localhost", "app:1"], dir.path());
    let d = kind(&docs, "Deployment", "app");
    assert_eq!(
        d["spec"]["template"]["spec"]["securityContext"]["seccompProfile"],
        serde_json::json!({"type": "Localhost", "localhostProfile": "hardrun/hardrun-default.json"})
    );
    assert!(stderr.contains("hardrun seccomp export hardrun-default"), "{stderr}");

    let (docs, _) = export(&["export", "kube", "--seccomp", "operator", "--namespace", "apps", "app:1"], dir.path());
    let profile = kind(&docs, "SeccompProfile", "hardrun-default");
    assert_eq!(profile["apiVersion"], "security-profiles-operator.x-k8s.io/v1beta1");
    assert_eq!(profile["metadata"]["namespace"], "apps");
    let bundled: Value =
        serde_json::from_str(&hardrun(["seccomp", "export", "hardrun-default"]).run().success().stdout()).unwrap();
    let names = |v: &Value| -> Vec<String> {
        list(&v["syscalls"]).iter().flat_map(|r| list(&r["names"])).map(|n| n.as_str().unwrap().to_string()).collect()
    };
    assert_eq!(names(&profile["spec"]), names(&bundled), "the operator's profile allows what the bundled one does");
    assert_eq!(profile["spec"]["defaultAction"], bundled["defaultAction"]);
    let d = kind(&docs, "Deployment", "app");
    assert_eq!(
        d["spec"]["template"]["spec"]["securityContext"]["seccompProfile"]["localhostProfile"],
        "operator/apps/hardrun-default.json"
    );
}

#[test]
fn what_restricted_forbids_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    for (args, said) in [
        (
            vec!["--cap-add", "CHOWN"],
            "refused capability CHOWN: Pod Security \"restricted\": a container may add NET_BIND_SERVICE and no other capability",
        ),
        (vec!["-v", "./data:/data"], "hostPath volumes are forbidden"),
        (vec!["--user", "app"], "runAsUser and runAsGroup are numbers"),
        (vec!["--user", "1000"], "runAsUser and runAsGroup are numbers"),
        (vec!["--privileged"], "refused --privileged"),
        (vec!["--pid", "host"], "refused --pid=host"),
    ] {
        let mut all = vec!["export", "kube"];
        all.extend(args);
        all.push("app:1");
        hardrun(all).current_dir(dir.path()).run().fails().stderr_has(said).stdout_is("");
    }
}

fn compose_project(dir: &Path) {
    std::fs::write(
        dir.join("compose.yaml"),
        "services:\n  web:\n    image: app:1.2\n    ports: ['8080:8080']\n    depends_on: [db]\n  \
         db:\n    image: db:15.4\n    expose: ['5432']\n    volumes: [pg:/var/lib/pg]\n    networks: [back]\n    \
         tmpfs: [/run]\n  worker:\n    image: app:1.2\n    scale: 3\n    networks: [default, back]\n    \
         healthcheck: {test: [CMD, /bin/check, --quick], interval: 5s, retries: 2}\n\
         networks:\n  back: {internal: true}\nvolumes:\n  pg: {}\n",
    )
    .unwrap();
}

#[test]
fn a_compose_project_exports_with_policies_between_its_services() {
    let dir = tempfile::tempdir().unwrap();
    compose_project(dir.path());
    let (docs, stderr) = export(&["compose", "-p", "shop", "export", "kube"], dir.path());
    for name in ["web", "db", "worker"] {
        let d = kind(&docs, "Deployment", name);
        assert_eq!(d["metadata"]["labels"]["app.kubernetes.io/part-of"], "shop");
    }
    kind(&docs, "Service", "db");
    kind(&docs, "PersistentVolumeClaim", "pg");
    assert!(stderr.contains("services.worker has no ports"), "{stderr}");
    assert_eq!(kind(&docs, "Deployment", "worker")["spec"]["replicas"], 3);
    let worker = container(kind(&docs, "Deployment", "worker"));
    assert_eq!(worker["readinessProbe"]["exec"]["command"], serde_json::json!(["/bin/check", "--quick"]));
    // db is only on the internal network: its peers there, DNS, and nothing outside.
    let db = &kind(&docs, "NetworkPolicy", "db")["spec"];
    let from = &db["ingress"][0]["from"][0]["podSelector"]["matchLabels"];
    assert_eq!(from["hardrun/network.back"], "true");
    assert_eq!(from["app.kubernetes.io/part-of"], "shop");
    assert!(!db.to_string().contains("0.0.0.0/0"), "an internal network reaches out: {db}");
    // web publishes 8080 and may reach out of the cluster, not into private ranges.
    let web = &kind(&docs, "NetworkPolicy", "web")["spec"];
    assert!(web.to_string().contains("\"port\":8080"), "{web}");
    let out = list(&web["egress"]).into_iter().find(|e| e.to_string().contains("0.0.0.0/0")).expect("egress out");
    assert!(out.to_string().contains("10.0.0.0/8") && out.to_string().contains("169.254.0.0/16"), "{out}");
    // The tmpfs is a size-limited memory emptyDir.
    let db_pod = &kind(&docs, "Deployment", "db")["spec"]["template"]["spec"];
    assert!(
        list(&db_pod["volumes"])
            .iter()
            .any(|v| v["emptyDir"]["medium"] == "Memory" && v["emptyDir"]["sizeLimit"] == "64Mi")
    );
}

#[test]
fn a_compose_service_restricted_refuses_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("compose.yaml"),
        "services:\n  web:\n    image: app:1.2\n    cap_add: [CHOWN]\n  ok:\n    image: app:1.2\n",
    )
    .unwrap();
    hardrun(["compose", "export", "kube"])
        .current_dir(dir.path())
        .run()
        .fails()
        .stderr_has("refused services.web: capability CHOWN: Pod Security \"restricted\"")
        .stdout_is("");
}
