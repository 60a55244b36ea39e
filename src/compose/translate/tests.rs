//! Compose keys land in the same request fields the docker-run flags fill, and refusals
//! come back named by the Compose key.

use std::path::Path;

use super::*;
use crate::compose::Project;
use crate::policy::{self, Host};
use crate::profile::Loader;

fn project(services: &str) -> Project {
    let doc: Mapping = serde_yaml::from_str(services).unwrap();
    let mut p = Project {
        name: "proj".into(),
        dir: "/home/dev/project".into(),
        services: doc
            .get("services")
            .and_then(Value::as_mapping)
            .unwrap()
            .iter()
            .map(|(k, v)| (scalar_text(k), v.as_mapping().cloned().unwrap_or_default()))
            .collect(),
        ..Project::default()
    };
    for (section, target) in [("volumes", &mut p.volumes), ("networks", &mut p.networks), ("secrets", &mut p.secrets)] {
        if let Some(Value::Mapping(m)) = doc.get(section) {
            *target = m.clone();
        }
    }
    p
}

fn one(text: &str) -> Result<Service, Vec<Problem>> {
    let p = project(text);
    let (name, def) = p.services[0].clone();
    service(&p, &name, &def, &|k| (k == "FROM_ENV").then(|| "yes".into()))
}

fn ok(text: &str) -> Service {
    one(text).unwrap_or_else(|e| panic!("{e:?}"))
}

fn problems(text: &str) -> Vec<String> {
    one(text).map(|s| panic!("translated: {:?}", s.req)).unwrap_err().into_iter().map(|p| p.to_string()).collect()
}

#[test]
fn keys_fill_the_fields_their_flags_fill() {
    let s = ok("services:\n  web:\n    image: app:1\n    user: '1000:1000'\n    read_only: 'yes'\n    \
                privileged: false\n    cap_add: [net_bind_service]\n    mem_limit: 256m\n    cpus: 0.5\n    \
                pids_limit: 100\n    ulimits: {nofile: 2048, nproc: {soft: 10, hard: 20}}\n    \
                tmpfs: /run\n    restart: on-failure:3\n    stop_grace_period: 1m30s\n    \
                environment: {A: '1', FROM_ENV: null}\n    command: echo \"a b\"\n    ports: ['127.0.0.1:8080:80']\n");
    let r = &s.req;
    assert_eq!(r.image, "app:1");
    assert_eq!(r.user.as_ref().unwrap().to_string(), "1000:1000");
    assert_eq!((r.read_only, r.privileged), (Some(true), Some(false)));
    assert_eq!(r.cap_add.len(), 1);
    assert_eq!((r.memory, r.nano_cpus, r.pids_limit), (Some(256 << 20), Some(500_000_000), Some(100)));
    assert_eq!(r.ulimits.len(), 2);
    assert_eq!(r.tmpfs, [("/run".to_string(), String::new())]);
    assert_eq!(r.stop_timeout, Some(90));
    assert_eq!(r.env, ["A=1", "FROM_ENV=yes"]);
    assert_eq!(r.command, ["echo", "a b"]);
    assert_eq!(r.publish[0].to_string(), "127.0.0.1:8080:80/tcp");
    assert_eq!(r.networks[0].name, "proj_default");
    assert_eq!(s.networks, ["default"]);
}

#[test]
fn entrypoint_lists_keep_their_argv() {
    let s = ok("services:\n  w:\n    image: app:1\n    entrypoint: [/bin/sh, -c]\n    command: [sleep 1]\n");
    assert_eq!(s.req.entrypoint.as_deref(), Some("/bin/sh"));
    assert_eq!(s.req.command, ["-c", "sleep 1"]);
}

#[test]
fn networks_are_the_projects_own() {
    let s = ok("services:\n  w:\n    image: app:1\n    networks: {host: {aliases: [x]}}\nnetworks:\n  host: {}\n");
    // A network merely called host is the project's proj_host, not the host's.
    assert_eq!(s.req.networks[0].name, "proj_host");
    assert_eq!(s.req.networks[0].aliases, ["x"]);
    // As Compose sends them: names and aliases keep their case (the docker CLI's long
    // --network form would lowercase them), and driver options may hold commas.
    let s = ok("services:\n  w:\n    image: app:1\n    networks:\n      Back:\n        aliases: [Api]\n        \
                driver_opts: {k: \"a,b\"}\n        gw_priority: 5\nnetworks:\n  Back: {}\n");
    let n = &s.req.networks[0];
    assert_eq!((n.name.as_str(), &n.aliases[..], n.gw_priority), ("proj_Back", &["Api".to_string()][..], Some(5)));
    assert_eq!(n.driver_opts, [("k".to_string(), "a,b".to_string())]);
    let s = ok("services:\n  w:\n    image: app:1\n    network_mode: service:db\n");
    assert_eq!(s.req.networks[0].name, "container:db");
    assert!(s.networks.is_empty());
}

#[test]
fn secrets_are_read_only_binds() {
    let s =
        ok("services:\n  w:\n    image: app:1\n    secrets: [pw]\nsecrets:\n  pw: {file: /home/dev/project/pw.txt}\n");
    assert_eq!(s.req.volumes[0].bind_string().unwrap(), "/home/dev/project/pw.txt:/run/secrets/pw:ro");
}

#[test]
fn unknown_and_malformed_keys_are_problems_not_dropped() {
    let p = problems("services:\n  w:\n    image: app:1\n    bogus: 1\n    privileged: maybe\n    mem_limit: lots\n");
    assert!(p.iter().any(|p| p.starts_with("services.w.bogus:")), "{p:?}");
    assert!(p.iter().any(|p| p.starts_with("services.w.privileged:")), "{p:?}");
    assert!(p.iter().any(|p| p.starts_with("services.w.mem_limit:")), "{p:?}");
    let p = problems("services:\n  w:\n    build: .\n");
    assert!(p[0].contains("image: NAME:TAG"), "{p:?}");
    let p = problems("services:\n  w:\n    image: app:1\n    volumes: ['data:/d']\n");
    assert!(p[0].contains("not declared"), "{p:?}");
}

fn harden(text: &str) -> Vec<String> {
    let s = ok(text);
    let profile = Loader::standard(Path::new("/nonexistent"), &|_| None).load("default").unwrap();
    let host = Host { cwd: "/home/dev/project".into(), apparmor: Some(false), ..Host::default() };
    match policy::harden(&s.req, &profile, &host) {
        Ok(_) => Vec::new(),
        Err(rs) => rs.into_iter().map(|r| relabel(&s, r).to_string()).collect(),
    }
}

#[test]
fn refusals_name_the_service_and_key() {
    let r = harden("services:\n  db:\n    image: app:1\n    privileged: true\n");
    assert!(r[0].starts_with("refused services.db.privileged (--privileged)"), "{r:?}");
    let r = harden("services:\n  web:\n    image: app:1\n    network_mode: host\n");
    assert!(r[0].starts_with("refused services.web.network_mode (--network host)"), "{r:?}");
    let r = harden(
        "services:\n  ci:\n    image: app:1\n    volumes: ['/home/dev/project/x:/x', '/var/run/docker.sock:/var/run/docker.sock']\n",
    );
    assert!(r[0].starts_with("refused services.ci.volumes[1] (-v /var/run/docker.sock"), "{r:?}");
    let r = harden("services:\n  app:\n    image: app:1\n    user: root\n");
    assert!(r[0].starts_with("refused services.app.user (--user root)"), "{r:?}");
    let r = harden("services:\n  app:\n    image: app\n    cap_add: [SYS_ADMIN]\n");
    assert!(r.iter().any(|r| r.starts_with("refused services.app.image")), "{r:?}");
    assert!(r.iter().any(|r| r.starts_with("refused services.app.cap_add[0] (--cap-add SYS_ADMIN)")), "{r:?}");
}

#[test]
fn a_build_cannot_reach_around_the_policy() {
    let s = ok("services:\n  w:\n    image: app:1\n    build: {context: /home/dev/project, args: {A: '1'}}\n");
    assert!(s.kept.contains_key("build"));
    for (key, value) in [("network", "host"), ("privileged", "true"), ("ssh", "[default]"), ("secrets", "[key]")] {
        let p = problems(&format!("services:\n  w:\n    image: app:1\n    build: {{context: ., {key}: {value}}}\n"));
        assert!(p.iter().any(|p| p.starts_with(&format!("services.w.build.{key}:"))), "{key}: {p:?}");
    }
}

#[test]
fn booleans_in_any_spelling_a_compose_reads() {
    for spelling in ["true", "'yes'", "'on'", "'1'", "'TRUE'", "'y'"] {
        let s = ok(&format!("services:\n  w:\n    image: app:1\n    privileged: {spelling}\n"));
        assert_eq!(s.req.privileged, Some(true), "{spelling}");
    }
    let s = ok("services:\n  w:\n    image: app:1\n    read_only: 'off'\n");
    assert_eq!(s.req.read_only, Some(false));
}

#[test]
fn a_service_is_the_request_its_docker_run_line_is() {
    let mut from_compose =
        ok("services:\n  web:\n    image: app:1.2\n    user: '1000:1000'\n    read_only: true\n    \
         cap_add: [NET_BIND_SERVICE]\n    cap_drop: [ALL]\n    security_opt: ['no-new-privileges:true']\n    \
         mem_limit: 256m\n    memswap_limit: 256m\n    cpus: 0.5\n    pids_limit: 100\n    \
         ulimits: {nofile: {soft: 1024, hard: 2048}}\n    tmpfs: ['/run:size=16m']\n    \
         volumes: ['/home/dev/project/data:/data:ro']\n    ports: ['127.0.0.1:8080:80/tcp']\n    \
         environment: [A=1]\n    labels: {a: b}\n    restart: on-failure:3\n    \
         healthcheck: {test: curl -f localhost, interval: 30s, retries: 3}\n    working_dir: /srv\n    \
         hostname: web\n    command: [serve, --port, '80']\n")
        .req;
    let mut from_flags = crate::run_args::parse_for_test(&[
        "--user",
        "1000:1000",
        "--read-only",
        "--cap-add",
        "NET_BIND_SERVICE",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges:true",
        "--memory",
        "256m",
        "--memory-swap",
        "256m",
        "--cpus",
        "0.5",
        "--pids-limit",
        "100",
        "--ulimit",
        "nofile=1024:2048",
        "--tmpfs",
        "/run:size=16m",
        "-v",
        "/home/dev/project/data:/data:ro",
        "-p",
        "127.0.0.1:8080:80/tcp",
        "-e",
        "A=1",
        "--label",
        "a=b",
        "--restart",
        "on-failure:3",
        "--health-cmd",
        "curl -f localhost",
        "--health-interval",
        "30s",
        "--health-retries",
        "3",
        "--workdir",
        "/srv",
        "--hostname",
        "web",
        "app:1.2",
        "serve",
        "--port",
        "80",
    ])
    .unwrap();
    // The one difference: Compose puts the service on its project's network.
    assert_eq!(from_compose.networks[0].name, "proj_default");
    from_compose.networks.clear();
    from_flags.networks.clear();
    assert_eq!(from_compose, from_flags);
}

#[test]
fn deploy_limits_are_limits_and_may_not_repeat_the_services_own() {
    let s = ok(
        "services:\n  w:\n    image: app:1\n    deploy: {replicas: 2, resources: {limits: {memory: 128m, pids: 50}}}\n",
    );
    assert_eq!((s.req.memory, s.req.pids_limit), (Some(128 << 20), Some(50)));
    assert_eq!(s.kept["deploy"]["replicas"], Value::from(2));
    assert!(s.kept["deploy"].get("resources").is_none());
    let p = problems(
        "services:\n  w:\n    deploy: {resources: {limits: {memory: 1g}}}\n    image: app:1\n    mem_limit: 128m\n",
    );
    assert!(p.iter().any(|p| p.starts_with("services.w.deploy.resources.limits.memory: set twice")), "{p:?}");
    let p =
        problems("services:\n  w:\n    image: app:1\n    network_mode: none\n    networks: [x]\nnetworks: {x: {}}\n");
    assert!(p[0].starts_with("services.w.network_mode: network_mode and networks"), "{p:?}");
}
