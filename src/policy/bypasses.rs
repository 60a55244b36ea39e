//! The bypass classes of issue 8, one test per class, without a daemon: each trick is
//! judged as its consumer reads it (the daemon's map, runc's lookup, Go's path cleaning,
//! the daemon's network lookup) and refused, or sent as what was judged.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::tests::{BACKEND_ID, hc, host, plan, plan_with, profile, refusals};
use super::*;
use crate::image::facts::Contents;

fn refused(args: &[&str], needle: &str) {
    let r = refusals(args);
    assert!(r.iter().any(|r| r.contains(needle)), "{args:?}: {r:?} lacks {needle:?}");
}

fn refused_on(args: &[&str], host: &Host, needle: &str) {
    match plan_with(args, &profile("default"), host) {
        Ok(_) => panic!("{args:?} was not refused"),
        Err(r) => {
            let r: Vec<String> = r.iter().map(|r| r.to_string()).collect();
            assert!(r.iter().any(|r| r.contains(needle)), "{args:?}: {r:?} lacks {needle:?}");
        }
    }
}

#[test]
fn repeated_keys_of_map_valued_flags_are_refused() {
    for (args, needle) in [
        (&["--log-opt", "max-size=1m", "--log-opt", "max-size=-1", "img:1"][..], "--log-opt max-size given twice"),
        (&["--storage-opt", "size=1g", "--storage-opt", "size=0", "img:1"], "--storage-opt size given twice"),
        (&["--sysctl", "a.b=1", "--sysctl", "a.b=2", "img:1"], "--sysctl a.b given twice"),
        (&["--annotation", "a=1", "--annotation", "a=2", "img:1"], "--annotation a given twice"),
        (&["--ulimit", "nofile=10", "--ulimit", "nofile=20", "img:1"], "--ulimit nofile given twice"),
        (&["--network", "name=backend,driver-opt=a=1,driver-opt=a=2", "img:1"], "driver-opt a given twice"),
        (&["--mount", "type=tmpfs,dst=/a,target=/b", "img:1"], "target given twice"),
        (
            &["--mount", "type=volume,src=vv,dst=/a,volume-opt=type=tmpfs,volume-opt=type=tmpfs", "img:1"],
            "volume-opt type",
        ),
    ] {
        refused(args, needle);
    }
}

#[test]
fn volume_options_are_judged_as_the_map_the_daemon_gets() {
    // The first `type`/`device` say nfs; the daemon gets the last: a bind of the host's root.
    let trick = "type=volume,src=vv,dst=/h,volume-opt=type=nfs,volume-opt=device=:/x,volume-opt=type=none,\
                 volume-opt=o=bind,volume-opt=device=/";
    refused(&["--mount", trick, "img:1"], "the host's whole filesystem");
    refused(&["--mount", "type=volume,src=vv,dst=/h,volume-opt=type=proc,volume-opt=device=proc", "img:1"], "proc");
    for (opts, needle) in [
        ("volume-opt=type=sysfs,volume-opt=device=sysfs", "sysfs"),
        ("volume-opt=type=ext4,volume-opt=device=/dev/sda1", "/dev/sda1"),
        ("volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-opt=o=rshared", "o=rshared"),
        ("volume-opt=type=tmpfs,volume-opt=device=x,volume-opt=o=bind", "absolute device"),
        ("volume-opt=type=tmpfs,volume-opt=device=/etc,volume-opt=o=rbind", "/etc"),
        ("volume-opt=type=none,volume-opt=device=/srv", "type=none"),
        ("volume-opt=Type=tmpfs", "knows no option"),
    ] {
        refused(&["--mount", &format!("type=volume,src=vv,dst=/h,{opts}"), "img:1"], needle);
    }
    let p = plan(&["--mount", "type=volume,src=vv,dst=/h,volume-opt=type=tmpfs,volume-opt=device=tmpfs", "img:1"]);
    assert_eq!(hc(&p).mounts.as_ref().unwrap().len(), 1, "a tmpfs volume is fine");
    let strict = profile("strict");
    let nfs = "type=volume,src=vv,dst=/h,volume-opt=type=nfs,volume-opt=device=:/x,volume-opt=o=addr=10.0.0.1";
    assert!(plan_with(&["--mount", nfs, "img:1.2"], &profile("default"), &host()).is_ok());
    let r = plan_with(&["--mount", nfs, "img:1.2"], &strict, &host()).unwrap_err();
    assert!(r.iter().any(|r| r.profile_key.as_deref() == Some("filesystem.volume_types")), "{r:?}");
    // An existing volume is judged by the options the daemon stored for it.
    let mut h = host();
    let options: BTreeMap<String, String> = [("type", "none"), ("o", "bind"), ("device", "/")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    h.volumes.insert("old".into(), VolumeFacts { driver: "local".into(), options, ..VolumeFacts::default() });
    refused_on(&["-v", "old:/x", "img:1"], &h, "the host's whole filesystem");
}

#[test]
fn binds_send_the_real_path_they_were_judged_as() {
    let mut h = host();
    let typed = PathBuf::from("/home/dev/project/data");
    h.real_paths.insert(typed.clone(), "/home/dev/project/real-data".into());
    let p = plan_with(
        &["-v", "./data:/data:ro", "--mount", "type=bind,src=./data,dst=/m", "img:1"],
        &profile("default"),
        &h,
    )
    .unwrap();
    assert_eq!(hc(&p).binds.as_deref(), Some(&["/home/dev/project/real-data:/data:ro".to_string()][..]));
    assert_eq!(hc(&p).mounts.as_ref().unwrap()[0].source.as_deref(), Some("/home/dev/project/real-data"));
    let bind_volume =
        "type=volume,src=vv,dst=/v,volume-opt=type=none,volume-opt=o=bind,volume-opt=device=/home/dev/project/data";
    let p = plan_with(&["--mount", bind_volume, "img:1"], &profile("default"), &h).unwrap();
    let opts =
        hc(&p).mounts.as_ref().unwrap()[0].volume_options.clone().unwrap().driver_config.unwrap().options.unwrap();
    assert_eq!(opts["device"], "/home/dev/project/real-data");
}

#[test]
fn container_paths_are_judged_cleaned_and_sent_cleaned() {
    for args in [
        &["-w", "//proc/self/fd/7", "img:1"][..],
        &["-w", "/bin/../proc/self/fd/7", "img:1"],
        &["-w", "/./proc/self", "img:1"],
        &["--entrypoint", "//proc/self/exe", "img:1"],
        &["-w", "/bin", "--entrypoint", "../proc/self/exe", "img:1"],
        &["img:1", "/./proc/self/exe"],
        &["-e", "PATH=/bin:/proc/self/fd", "img:1"],
        &["--tmpfs", "//proc/sys", "img:1"],
        &["--mount", "type=tmpfs,dst=/proc/./sys", "img:1"],
    ] {
        refused(args, "/proc");
    }
    refused(&["-v", "vol:/sys/x", "img:1"], "/sys");
    refused(&["-v", "./x:/sys/fs/cgroup/../../sys/kernel", "img:1"], "covers the kernel's /sys");
    let p =
        plan(&["-w", "//app/./x/..", "--entrypoint", "/bin//sh", "--tmpfs", "/cache/", "-v", "./d:/data/", "img:1"]);
    assert_eq!(p.create.working_dir.as_deref(), Some("/app"));
    assert_eq!(p.create.entrypoint.as_deref(), Some(&["/bin/sh".to_string()][..]));
    assert!(hc(&p).tmpfs.as_ref().unwrap().contains_key("/cache"));
    assert_eq!(hc(&p).binds.as_deref(), Some(&["/home/dev/project/d:/data".to_string()][..]));
    let p = plan(&["--entrypoint", "./run.sh", "img:1"]);
    assert_eq!(p.create.entrypoint.as_deref(), Some(&["./run.sh".to_string()][..]), "relative: sent as typed");
    refused(&["--tmpfs", "/c", "--tmpfs", "/c/", "img:1"], "given twice");
    // The image's own metadata is hostile input too.
    let mut h = host();
    h.image = Some(ImageFacts { working_dir: "/proc/self/fd/8\u{1b}]0;owned\u{7}".into(), ..ImageFacts::default() });
    refused_on(&["img:1"], &h, "WORKDIR");
    let r = plan_with(&["img:1"], &profile("default"), &h).unwrap_err();
    assert!(r.iter().all(|r| !r.to_string().contains('\u{1b}')), "image text is printed escaped: {r:?}");
    h.image = Some(ImageFacts { entrypoint: vec!["//proc/self/exe".into()], ..ImageFacts::default() });
    refused_on(&["img:1"], &h, "ENTRYPOINT");
    h.image = Some(ImageFacts { env: vec!["PATH=/proc/self/fd".into()], ..ImageFacts::default() });
    refused_on(&["img:1", "sh"], &h, "ENV PATH");
    h.image =
        Some(ImageFacts { entrypoint: vec!["cat".into()], cmd: vec!["/proc/cpuinfo".into()], ..ImageFacts::default() });
    assert!(plan_with(&["img:1"], &profile("default"), &h).is_ok(), "an argument is not a program");
}

fn image_with(passwd: &str, group: &str) -> ImageFacts {
    ImageFacts {
        contents: Some(Contents { passwd: Some(passwd.into()), group: Some(group.into()), ..Contents::default() }),
        ..ImageFacts::default()
    }
}

#[test]
fn names_are_resolved_as_runc_does_and_sent_as_numbers() {
    let mut h = host();
    let passwd = "root:x:0:0::/:/bin/sh\napp:x:10001:10001::/:/bin/sh\n";
    h.image = Some(image_with(passwd, "root:x:0:\napp:x:10001:\nextra:x:2000:app\ntools:x:3000:\n"));
    let p = plan_with(&["--user", "app", "--group-add", "tools", "img:1"], &profile("default"), &h).unwrap();
    assert_eq!(p.create.user.as_deref(), Some("10001:10001"));
    assert_eq!(hc(&p).group_add.as_deref(), Some(&["2000".to_string(), "3000".to_string()][..]));
    assert_eq!(p.expect.user.as_deref(), Some("10001:10001"));
    let p = plan_with(&["--user", "4242", "img:1"], &profile("default"), &h).unwrap();
    assert_eq!(p.create.user.as_deref(), Some("4242:0"), "runc's default group, said explicitly");
    for (passwd, group, args) in [
        ("\tapp:x:0:0::/:/bin/sh\napp:x:10001:10001::/:/bin/sh\n", "", &["--user", "app", "img:1"][..]),
        ("app:x:zero:zero::/:/bin/sh\napp:x:10001:10001::/:/bin/sh\n", "", &["--user", "app", "img:1"]),
        ("app:x:10001:10001::/:/bin/sh\n", "staff:x:zero:\n", &["--user", "10001:staff", "img:1"]),
        ("app:x:10001:10001::/:/bin/sh\n", "staff:x:zero:\n", &["--group-add", "staff", "img:1"]),
        ("app:x:10001:10001::/:/bin/sh\n", "root:x:0:app\n", &["--user", "app", "img:1"]),
        ("app:x:10001:10001::/:/bin/sh\n", "wheel:x:0:\n", &["--group-add", "wheel", "img:1"]),
        ("app:x:10001:10001::/:/bin/sh\n", "2000:x:0:\n", &["--group-add", "2000", "img:1"]),
        ("toor:x:0:0::/:/bin/sh\n", "", &["--user", "toor", "img:1"]),
    ] {
        h.image = Some(image_with(passwd, group));
        assert!(plan_with(args, &profile("default"), &h).is_err(), "{args:?} with {passwd:?} {group:?}");
    }
}

#[test]
fn groups_that_open_host_resources_are_refused_by_number() {
    let mut h = host();
    h.socket_groups = vec![("/var/run/docker.sock".into(), 998)];
    h.groups = vec![("disk".into(), 6), ("audio".into(), 29), ("docker".into(), 998)];
    refused_on(&["--user", "10001:998", "img:1"], &h, "owns the daemon's socket");
    refused_on(&["--user", "10001:10001", "--group-add", "6", "img:1"], &h, "the host's disk group");
    h.image = Some(image_with("app:x:10001:10001::/:/bin/sh\n", "web:x:998:\n"));
    refused_on(&["--user", "10001:10001", "--group-add", "web", "img:1"], &h, "gid 998");
    h.image = Some(image_with("app:x:10001:6::/:/bin/sh\n", ""));
    refused_on(&["--user", "app", "img:1"], &h, "disk");
    assert!(plan_with(&["--user", "10001:10001", "--group-add", "29", "img:1"], &profile("default"), &h).is_ok());
}

#[test]
fn the_working_directory_is_a_project_only_when_it_is_one() {
    for (cwd, needle) in
        [("/", "root folder"), ("/home/dev", "home folder"), ("/var", "system folder"), ("/tmp", "shared")]
    {
        let h = Host { cwd: cwd.into(), ..host() };
        let src = format!("{}/secrets:/d", cwd.trim_end_matches('/'));
        refused_on(&["-v", &src, "img:1"], &h, needle);
    }
    let h = Host { cwd: "/".into(), ..host() };
    refused_on(&["-v", "/srv/secrets:/d", "img:1"], &h, "project");
    let mut allowing = profile("default");
    allowing.filesystem.binds_allow = vec!["/srv/secrets".into()];
    assert!(plan_with(&["-v", "/srv/secrets:/d", "img:1"], &allowing, &h).is_ok(), "the allow-list still applies");
    assert!(plan_with(&["-v", "./data:/d", "img:1"], &profile("default"), &host()).is_ok());
}

#[test]
fn side_channels_need_the_profile() {
    refused(&["--log-driver", "syslog", "--log-opt", "syslog-address=tcp://127.0.0.1:1", "img:1"], "logging.drivers");
    refused(&["--log-opt", "syslog-address=tcp://127.0.0.1:1", "img:1"], "logging.options");
    refused(&["--log-opt", "max-size=1g", "img:1"], "logging.max_size");
    refused(&["--log-opt", "max-size=-1", "img:1"], "logging.max_size");
    refused(&["--log-opt", "max-file=100", "img:1"], "logging.max_file");
    let p = plan(&["--log-driver", "local", "--log-opt", "max-size=10m", "--log-opt", "max-file=3", "img:1"]);
    assert_eq!(hc(&p).log_config.as_ref().unwrap().typ.as_deref(), Some("local"));
    refused(&["--link", "db:db", "img:1"], "--link");
    refused(&["--annotation", "run.oci.handler=krun", "img:1"], "annotations.allow");
    refused(&["--ulimit", "rtprio=99", "img:1"], "resources.ulimits.rtprio.max");
    refused(&["--ulimit", "core=1000", "img:1"], "resources.ulimits.core.max");
    refused(&["--ulimit", "nproc=-1", "img:1"], "nproc");
    refused(&["--sysctl", "net..x=1", "img:1"], "not a kernel parameter");
    refused(&["-l", "org.hardrun.profile=strict", "img:1"], "hardrun's own");
    refused(&["--network", "name=backend,driver-opt=com.docker.network.endpoint.sysctls=x", "img:1"], "--sysctl");
    let p = plan(&["--ulimit", "nofile=2048", "--ulimit", "nproc=512", "img:1"]);
    let names: Vec<_> = hc(&p).ulimits.iter().flatten().map(|u| u.name.clone().unwrap()).collect();
    assert_eq!(names, ["nofile", "nproc"], "listed ulimits within their ceiling, and no default for nproc");
}

#[test]
fn published_ports_are_counted_on_ranges_against_the_ceiling() {
    refused(&["-p", "127.0.0.1:41000-41299:41000-41299", "img:1"], "network.max_ports");
    refused(&["-p", "1-65535:1-65535", "img:1"], "65535 host ports");
    refused(&["-P", "--expose", "20000-20100", "img:1"], "101 host ports");
    let mut h = host();
    h.image = Some(ImageFacts {
        exposed_ports: (30000..30100).map(|p| format!("{p}/tcp")).collect(),
        ..ImageFacts::default()
    });
    refused_on(&["-P", "img:1"], &h, "100 host ports");
    // Ports both published and exposed count once.
    let p = plan(&["-P", "--expose", "8000-8031", "-p", "8000-8031:8000-8031", "img:1"]);
    assert_eq!(hc(&p).port_bindings.as_ref().unwrap().len(), 32);
    let p = plan(&["-p", "127.0.0.1:8000-8063:80-143", "img:1"]);
    let bindings = hc(&p).port_bindings.as_ref().unwrap();
    assert_eq!(bindings["143/tcp"].as_ref().unwrap()[0].host_port.as_deref(), Some("8063"));
    let mut open = profile("default");
    open.network.max_ports = None;
    let p = plan_with(&["-p", "1-65535:1-65535", "img:1"], &open, &host()).unwrap();
    assert_eq!(hc(&p).port_bindings.as_ref().unwrap().len(), 65535, "no ceiling: every port, as docker sends it");
}

#[test]
fn networks_are_judged_by_what_the_daemon_resolved() {
    let mut h = host();
    let facts = |id: &str, name: &str, driver: &str| NetworkFacts {
        id: id.into(),
        name: name.into(),
        driver: driver.into(),
        icc: true,
    };
    h.networks.insert("c6da57ad44c1".into(), facts("c6da57ad44c1aaaa", "host", "host"));
    h.networks.insert("1779f68e".into(), facts("1779f68eaaaa", "none", "null"));
    h.networks.insert("c680".into(), facts("c680aaaa", "bridge", "bridge"));
    h.networks.insert("lan".into(), facts("5e5e5e", "lan", "macvlan"));
    h.networks.insert("b4c4".into(), facts(BACKEND_ID, "backend", "bridge"));
    refused_on(&["--network", "c6da57ad44c1", "img:1"], &h, "the host's network");
    refused_on(&["--network", "lan", "img:1"], &h, "host's own link");
    refused_on(&["--network", "nowhere", "img:1"], &h, "has no network");
    refused_on(&["--network", "backend", "--network", "b4c4", "img:1"], &h, "given twice");
    let p = plan_with(&["--network", "1779f68e", "img:1"], &profile("default"), &h).unwrap();
    assert_eq!(hc(&p).network_mode.as_deref(), Some("none"), "the null driver is no network");
    let p = plan_with(&["--network", "c680", "img:1"], &profile("default"), &h).unwrap();
    assert_eq!(hc(&p).network_mode.as_deref(), Some("bridge"));
    let mut lan = profile("default");
    lan.network.allow.push("lan".into());
    let p = plan_with(&["--network", "lan", "img:1"], &lan, &h).unwrap();
    assert_eq!(hc(&p).network_mode.as_deref(), Some("5e5e5e"), "allowed by name, sent by ID");
    let strict = profile("strict");
    let r = plan_with(&["--network", "1779f68e", "img:1.2"], &strict, &h);
    assert!(r.is_ok(), "none by ID is none: {r:?}");
    let r = plan_with(&["--network", "c680", "img:1.2"], &strict, &h).unwrap_err();
    assert!(r.iter().any(|r| r.why.contains("default bridge")), "{r:?}");
    // A profile's default network is the profile's choice, but judged by what it is.
    let mut backend_default = profile("strict");
    backend_default.network.default = "backend".into();
    let p = plan_with(&["img:1.2"], &backend_default, &h).unwrap();
    assert_eq!(hc(&p).network_mode.as_deref(), Some(BACKEND_ID));
    backend_default.network.default = "c6da57ad44c1".into();
    let r = plan_with(&["img:1.2"], &backend_default, &h).unwrap_err();
    assert!(r[0].to_string().contains("the host's network"), "{r:?}");
}
