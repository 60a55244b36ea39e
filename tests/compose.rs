//! `hardrun compose` against the real daemon and the real Compose: a three-service
//! project comes up hardened, its services reach each other and another project's
//! containers cannot reach them, the kernel shows the hardening in each, refusals name
//! the service and key and create nothing, and `down` leaves nothing behind.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Daemon, Scope, daemon, docker, hardrun};

/// A project folder with its Compose file; its containers, networks and volumes carry
/// the scope's label, so the scope removes them whatever happens.
struct Project {
    dir: tempfile::TempDir,
    name: String,
}

impl Project {
    fn new(scope: &Scope, base: &str, compose: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("docker-compose.yml"), compose).unwrap();
        // Compose project names are lowercase letters, digits, - and _.
        let name = scope.name(base).to_lowercase().chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
        Project { dir, name }
    }

    fn compose(&self, args: &[&str]) -> common::Test {
        let mut all = vec!["compose", "-p", &self.name];
        all.extend_from_slice(args);
        hardrun(all).current_dir(self.dir.path()).timeout(std::time::Duration::from_secs(180))
    }

    /// The ID of the project's container for `service`.
    fn container(&self, service: &str) -> String {
        let out = docker([
            "ps",
            "-q",
            "--filter",
            &format!("label=com.docker.compose.project={}", self.name),
            "--filter",
            &format!("label=com.docker.compose.service={service}"),
        ]);
        out.lines().next().unwrap_or_else(|| panic!("no running container for {service}")).to_string()
    }

    /// Whatever of the project is left on the daemon.
    fn leftovers(&self) -> Vec<String> {
        let filter = format!("label=com.docker.compose.project={}", self.name);
        let mut left = Vec::new();
        for args in [
            vec!["ps", "-aq", "--filter", &filter],
            vec!["network", "ls", "-q", "--filter", &filter],
            vec!["volume", "ls", "-q", "--filter", &filter],
        ] {
            let kind = args[0];
            left.extend(docker(args).lines().map(|l| format!("{kind}: {l}")));
        }
        left
    }
}

impl Drop for Project {
    /// Compose's own clean-up, should a test fail before its `down`.
    fn drop(&mut self) {
        if !self.leftovers().is_empty() {
            let _ = Command::new("docker-compose")
                .args(["-p", &self.name, "-f", "/dev/null", "down", "-v", "-t", "1", "--remove-orphans"])
                .output();
        }
    }
}

/// The daemon, and a Compose to run projects with (docker-compose, or the v2 plugin).
fn daemon_and_compose() -> Option<Daemon> {
    let d = daemon()?;
    let v1 = Command::new("docker-compose").arg("version").output().is_ok_and(|o| o.status.success());
    let v2 = Command::new("docker").args(["compose", "version"]).output().is_ok_and(|o| o.status.success());
    if !v1 && !v2 {
        let required = std::env::var("HARDRUN_REQUIRE_DOCKER").is_ok_and(|v| v == "1");
        assert!(!required, "HARDRUN_REQUIRE_DOCKER=1 but no Compose is installed (apt-get install docker-compose)");
        eprintln!("SKIPPED (no Compose installed)");
        return None;
    }
    Some(d)
}

fn exec(id: &str, script: &str) -> std::process::Output {
    Command::new("docker").args(["exec", id, "sh", "-c", script]).output().unwrap()
}

fn label(scope: &Scope) -> String {
    scope.label.replacen('=', ": ", 1)
}

/// A web server, a database and a worker that talks to both.
fn three_services(d: &Daemon, scope: &Scope) -> String {
    let l = label(scope);
    format!(
        r#"services:
  web:
    image: {img}
    command: httpd -f -p 8080 -h /etc
    labels: {{{l}}}
    stop_grace_period: 1s
  db:
    image: {img}
    command: ["nc", "-ll", "-p", "5432", "-e", "echo", "pong"]
    labels: {{{l}}}
    stop_grace_period: 1s
    networks: [back]
  worker:
    image: {img}
    command: sh -c 'while true; do sleep 1; done'
    depends_on: [web, db]
    tmpfs: [/tmp]
    volumes: ["jobs:/jobs"]
    labels: {{{l}}}
    stop_grace_period: 1s
    networks: [default, back]
networks:
  default: {{labels: {{{l}}}}}
  back: {{labels: {{{l}}}}}
volumes:
  jobs: {{labels: {{{l}}}}}
"#,
        img = d.image
    )
}

#[test]
fn a_project_comes_up_hardened_isolated_and_goes_down_without_a_trace() {
    let Some(d) = daemon_and_compose() else { return };
    let scope = Scope::new();
    let p = Project::new(&scope, "cmp", &three_services(&d, &scope));
    p.compose(&["up", "-d"]).run().success().stderr_has("hardrun: verified in the kernel: db, web, worker");
    let (web, db, worker) = (p.container("web"), p.container("db"), p.container("worker"));

    // The services reach each other as Compose intends.
    // busybox's nc, not its wget: static glibc's resolver crashes wget on some hosts.
    let got = exec(&worker, "printf 'GET /passwd HTTP/1.0\\r\\n\\r\\n' | nc -w 5 web 8080");
    assert!(String::from_utf8_lossy(&got.stdout).contains("app:x:10001"), "worker -> web: {got:?}");
    let got = exec(&worker, "echo | nc -w 5 db 5432");
    assert_eq!(String::from_utf8_lossy(&got.stdout).trim(), "pong", "worker -> db: {got:?}");

    // The kernel shows the hardening in each container's first process.
    for id in [&web, &db, &worker] {
        let status = String::from_utf8_lossy(&exec(id, "cat /proc/1/status").stdout).into_owned();
        for want in ["CapEff:\t0000000000000000", "CapBnd:\t0000000000000000", "NoNewPrivs:\t1", "Seccomp:\t2"] {
            assert!(status.contains(want), "{id} lacks {want}: {status}");
        }
        assert!(status.lines().any(|l| l.starts_with("Uid:") && l.contains("65532")), "{status}");
        let mounts = String::from_utf8_lossy(&exec(id, "cat /proc/1/mountinfo").stdout).into_owned();
        let root = mounts.lines().find(|l| l.split_whitespace().nth(4) == Some("/")).unwrap();
        assert!(root.split_whitespace().nth(5).unwrap().split(',').any(|o| o == "ro"), "root not read-only: {root}");
        let limit = exec(id, "cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null | head -1");
        assert_eq!(String::from_utf8_lossy(&limit.stdout).trim(), "256", "{id}: pids limit");
    }
    // The tmpfs belongs to the service's user, so it can write there.
    let got = exec(&worker, "touch /tmp/x && stat -c %u:%g /tmp && grep ' /tmp ' /proc/self/mountinfo");
    let out = String::from_utf8_lossy(&got.stdout).into_owned();
    assert!(out.starts_with("65532:65532"), "{got:?}");
    assert!(out.contains("nosuid") && out.contains("nodev") && out.contains("noexec"), "{out}");

    // Another project's container reaches neither the names nor the addresses.
    let other = Project::new(
        &scope,
        "oth",
        &format!(
            "services:\n  probe:\n    image: {}\n    command: sh -c 'while true; do sleep 1; done'\n    labels: {{{l}}}\n    \
             stop_grace_period: 1s\nnetworks:\n  default: {{labels: {{{l}}}}}\n",
            d.image,
            l = label(&scope)
        ),
    );
    other.compose(&["up", "-d"]).run().success();
    let probe = other.container("probe");
    let ip = docker(["inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", &web]);
    let ip = ip.split_whitespace().next().expect("web has an address").to_string();
    let http = |target: &str| format!("printf 'GET /passwd HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {target} 8080");
    // The same request by address works from inside the project...
    let got = exec(&worker, &http(&ip));
    assert!(String::from_utf8_lossy(&got.stdout).contains("app:x:10001"), "worker -> {ip}: {got:?}");
    // ...and not from another project, by address or by name.
    for target in [ip.as_str(), "web"] {
        let got = exec(&probe, &http(target));
        let out = String::from_utf8_lossy(&got.stdout);
        assert!(!out.contains("app:x:10001"), "another project reached web at {target}: {got:?}");
    }
    other.compose(&["down", "-t", "1"]).run().success();
    assert!(other.leftovers().is_empty(), "{:?}", other.leftovers());

    p.compose(&["ps"]).run().success().stdout_has("worker");
    p.compose(&["down", "-v", "-t", "1"]).run().success();
    assert!(p.leftovers().is_empty(), "left after down: {:?}", p.leftovers());
}

#[test]
fn refusals_name_each_service_and_key_and_create_nothing() {
    let Some(d) = daemon_and_compose() else { return };
    let scope = Scope::new();
    let file = format!(
        "services:\n  db:\n    image: {img}\n    privileged: true\n  web:\n    image: {img}\n    network_mode: host\n  \
         ci:\n    image: {img}\n    volumes: [/var/run/docker.sock:/var/run/docker.sock]\n  app:\n    image: {img}\n    \
         user: root\n  joins:\n    image: {img}\n    networks: [outside]\n  ok:\n    image: {img}\n\
         networks:\n  outside: {{external: true, name: host}}\n",
        img = d.image
    );
    let p = Project::new(&scope, "bad", &file);
    let mut out = p.compose(&["up", "-d"]).run().fails();
    for key in [
        "refused services.db.privileged (--privileged)",
        "refused services.web.network_mode (--network host)",
        "refused services.ci.volumes[0] (-v /var/run/docker.sock:/var/run/docker.sock)",
        "refused services.app.user (--user root)",
        // A network merely declared in the file is judged as the daemon's: this one is the host's.
        "refused services.joins.networks.outside (--network host)",
    ] {
        out = out.stderr_has(key);
    }
    let out = out.stderr_has("nothing was created");
    assert!(!out.stderr().contains("services.ok"), "{}", out.stderr());
    assert!(p.leftovers().is_empty(), "{:?}", p.leftovers());
    // The image gate runs for every service: a root image without a user is judged by
    // the profile's default user, and an untagged reference is refused.
    let p = Project::new(
        &scope,
        "img",
        &format!("services:\n  a:\n    image: {}\n", d.image_root.split(':').next().unwrap()),
    );
    p.compose(&["up", "-d"]).run().fails().stderr_has("refused services.a.image");
    assert!(p.leftovers().is_empty(), "{:?}", p.leftovers());
}

#[test]
fn config_is_what_compose_reads() {
    let scope = Scope::new();
    let p = Project::new(
        &scope,
        "cfg",
        "services:\n  web:\n    image: app:1.2\n    ports: ['127.0.0.1:8080:80']\n    environment: {PW: 'a$$b'}\n",
    );
    let out = p.compose(&["config"]).run().success();
    let text = out.stdout();
    for want in
        ["cap_drop:\n      - \"ALL\"", "read_only: true", "\"no-new-privileges\"", "pids_limit: 256", "PW: \"a$$b\""]
    {
        assert!(text.contains(want), "lacks {want}: {text}");
    }
    if !Path::new("/usr/bin/docker-compose").exists() {
        eprintln!("SKIPPED: docker-compose is not installed");
        return;
    }
    let file = p.dir.path().join("hardened.yml");
    std::fs::write(&file, &text).unwrap();
    let read = Command::new("docker-compose")
        .args(["-p", &p.name, "-f"])
        .arg(&file)
        .args(["config"])
        .env_remove("PW")
        .output()
        .unwrap();
    let read_text = String::from_utf8_lossy(&read.stdout);
    assert!(read.status.success(), "docker-compose rejects it: {}", String::from_utf8_lossy(&read.stderr));
    assert!(read_text.contains("PW: a$$b"), "{read_text}");
    assert!(read_text.contains("127.0.0.1:8080:80/tcp"), "{read_text}");
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn every_problem_in_the_file_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "compose.yaml",
        "services:\n  web:\n    image: app:1.2\n    bogus: 1\n    mem_limit: lots\n    volumes: ['data:/d']\n  \
         db:\n    image: db:15.4\n    privileged: 'on'\n",
    );
    let out = hardrun(["compose", "config"]).current_dir(dir.path()).run().fails().stdout_is("");
    for said in [
        "refused services.web.bogus: hardrun does not know this Compose key",
        "refused services.web.mem_limit: invalid argument \"lots\" for --memory",
        "refused services.web.volumes[0]: volume \"data\" is not declared",
    ] {
        assert!(out.stderr().contains(said), "lacks {said}: {}", out.stderr());
    }
    // Problems in reading come first; policy runs once the file is understood.
    write(dir.path(), "compose.yaml", "services:\n  db:\n    image: db:15.4\n    privileged: 'on'\n");
    hardrun(["compose", "config"]).current_dir(dir.path()).run().fails().stderr_has("refused services.db.privileged");
    let empty = tempfile::tempdir().unwrap();
    hardrun(["compose", "config"]).current_dir(empty.path()).run().fails().stderr_has("no Compose file in");
    write(dir.path(), "compose.yaml", "services: [\n");
    hardrun(["compose", "config"]).current_dir(dir.path()).run().fails().stderr_has("not valid YAML");
}

#[test]
fn files_merge_and_extend_as_compose_does() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "common.yml",
        "services:\n  base:\n    image: app:1.2\n    environment: {A: '1'}\n    mem_limit: 128m\n",
    );
    write(
        dir.path(),
        "a.yml",
        "services:\n  web:\n    extends: {file: common.yml, service: base}\n    environment: {B: '2'}\n    \
         command: [serve]\n",
    );
    write(dir.path(), "b.yml", "services:\n  web:\n    command: [serve, --fast]\n    environment: {A: '3'}\n");
    let out = hardrun(["compose", "-f", "a.yml", "-f", "b.yml", "config"]).current_dir(dir.path()).run().success();
    let text = out.stdout();
    for want in ["A: \"3\"", "B: \"2\"", "mem_limit: \"128m\"", "- \"serve\"\n      - \"--fast\""] {
        assert!(text.contains(want), "lacks {want}: {text}");
    }
}

#[test]
fn each_service_may_name_its_profile() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "compose.yaml",
        "services:\n  web:\n    image: app:1.2\n    x-hardrun: {profile: web}\n  job:\n    image: app:1.2\n",
    );
    let out = hardrun(["compose", "config"])
        .current_dir(dir.path())
        .run()
        .success()
        .stderr_has("hardrun: services.web: profile web (from x-hardrun)");
    let text = out.stdout();
    let web = &text[text.find("  web:").unwrap()..text.find("  job:").unwrap()];
    assert!(web.contains("mem_limit: \"1g\"") && web.contains("pids_limit: 1024"), "{web}");
    assert!(web.contains("/tmp:size=64m,uid=65532,gid=65532"), "{web}");
    assert!(!web.contains("x-hardrun"), "{web}");
    let job = &text[text.find("  job:").unwrap()..];
    assert!(job.contains("pids_limit: 256") && !job.contains("/tmp:size=64m"), "{job}");
    // A profile on the command line is for every service.
    let out = hardrun(["compose", "--profile", "default", "config"])
        .current_dir(dir.path())
        .run()
        .success()
        .stderr_has("services.web: x-hardrun asks for profile web; the command line's default applies");
    assert!(!out.stdout().contains("pids_limit: 1024"), "{}", out.stdout());
}

#[test]
fn up_attached_runs_each_container_once_and_verifies_it_as_it_starts() {
    let Some(d) = daemon_and_compose() else { return };
    let scope = Scope::new();
    let l = label(&scope);
    let p = Project::new(
        &scope,
        "fg",
        &format!(
            "services:\n  hello:\n    image: {}\n    command: sh -c 'sleep 1; echo hello from $$(id -u)'\n    \
             labels: {{{l}}}\nnetworks:\n  default: {{labels: {{{l}}}}}\n",
            d.image
        ),
    );
    let out = p.compose(&["up"]).run().success().stderr_has("hardrun: verified in the kernel: hello");
    assert!(out.stdout().matches("hello from 65532").count() == 1, "{}", out.stdout());
    p.compose(&["down"]).run().success();
    assert!(p.leftovers().is_empty(), "{:?}", p.leftovers());
}
