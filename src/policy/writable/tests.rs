//! Who runs an image and where it may write, decided from the image's facts as a look
//! inside reports them, without a daemon.

use std::path::PathBuf;

use super::super::*;
use super::{RunIds, owned, owner_in};
use crate::image::facts::{Contents, Folder, Script};
use crate::profile::load::{Loader, Location};
use crate::run_args::parse_for_test;

fn profile(name: &str) -> Profile {
    Loader { locations: vec![Location::Bundled] }.load(name).unwrap()
}

fn folder(path: &str, uid: u32, gid: u32, mode: u32, empty: bool) -> Folder {
    Folder { path: path.into(), uid, gid, mode, empty }
}

/// An image shaped like the official postgres one: no USER, an entrypoint that drops
/// to postgres with gosu, a VOLUME owned by postgres, a world-writable socket folder.
fn postgres() -> ImageFacts {
    ImageFacts {
        user: String::new(),
        entrypoint: vec!["docker-entrypoint.sh".into()],
        cmd: vec!["postgres".into()],
        volumes: vec!["/var/lib/postgresql/data".into()],
        contents: Some(Contents {
            passwd: Some("root:x:0:0::/root:/bin/bash\npostgres:x:999:999::/var/lib/postgresql:/bin/bash\n".into()),
            group: Some("root:x:0:\npostgres:x:999:\n".into()),
            folders: vec![
                folder("/run/postgresql", 999, 999, 0o3777, true),
                folder("/var/lib/postgresql", 999, 999, 0o755, false),
                folder("/var/lib/postgresql/data", 999, 999, 0o1777, true),
                folder("/var/tmp", 0, 0, 0o1777, true),
                folder("/tmp", 0, 0, 0o1777, true),
                folder("/proc/x", 999, 999, 0o755, true),
                folder("/srv/odd,name", 999, 999, 0o755, true),
                folder("/var/lib/other", 1000, 1000, 0o755, true),
            ],
            folders_complete: true,
            entrypoint: Some(Script {
                path: "/usr/local/bin/docker-entrypoint.sh".into(),
                text: "#!/bin/bash\nif [ \"$(id -u)\" = 0 ]; then exec gosu postgres \"$0\" \"$@\"; fi\nexec \"$@\"\n"
                    .into(),
            }),
            ..Contents::default()
        }),
        ..ImageFacts::default()
    }
}

fn host(image: ImageFacts, euid: u32) -> Host {
    Host {
        cwd: "/home/dev/project".into(),
        apparmor: Some(false),
        daemon_asked: true,
        image: Some(image),
        euid: Some(euid),
        ..Host::default()
    }
}

fn harden_with(args: &[&str], profile: &Profile, host: &Host) -> Result<Plan, Vec<Refusal>> {
    let plan = harden(&parse_for_test(args).unwrap(), profile, host)?;
    crate::plan::round_trip::assert_round_trips(&plan, profile, host);
    Ok(plan)
}

fn plan(args: &[&str], host: &Host) -> Plan {
    harden_with(args, &profile("default"), host)
        .unwrap_or_else(|r| panic!("{args:?}: {}", r.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(" | ")))
}

fn tmpfs(p: &Plan) -> std::collections::HashMap<String, String> {
    p.create.host_config.as_ref().unwrap().tmpfs.clone().unwrap_or_default()
}

fn decision<'p>(p: &'p Plan, control: &str) -> &'p Decision {
    p.decisions.iter().find(|d| d.control == control).unwrap_or_else(|| panic!("no {control} in {:?}", p.decisions))
}

#[test]
fn an_image_that_starts_as_root_runs_as_its_service_user() {
    let p = plan(&["pg:15"], &host(postgres(), 0));
    assert_eq!(p.create.user.as_deref(), Some("999:999"));
    let user = decision(&p, "user");
    assert!(user.source.to_string().contains("the entrypoint switches to postgres (gosu)"), "{user:?}");
    assert!(user.source.to_string().contains("owner of VOLUME /var/lib/postgresql/data"), "{user:?}");
    // --user and the image's own non-root USER come first; a profile may turn it off.
    let p = plan(&["--user", "1234:1234", "pg:15"], &host(postgres(), 0));
    assert_eq!(p.create.user.as_deref(), Some("1234:1234"));
    let with_user = ImageFacts { user: "10001:10001".into(), ..postgres() };
    assert_eq!(plan(&["pg:15"], &host(with_user, 0)).create.user.as_deref(), Some("10001:10001"));
    let mut fixed = profile("default");
    fixed.user.from_image = false;
    let p = harden_with(&["pg:15"], &fixed, &host(postgres(), 0)).unwrap();
    assert_eq!(p.create.user.as_deref(), Some("65532:65532"));
}

#[test]
fn nothing_in_the_image_says_who_then_the_profiles_default() {
    let bare = ImageFacts { contents: Some(Contents::default()), ..ImageFacts::default() };
    assert_eq!(plan(&["app:1"], &host(bare.clone(), 0)).create.user.as_deref(), Some("65532:65532"));
    let root_user = ImageFacts { user: "root".into(), ..bare };
    assert_eq!(plan(&["app:1"], &host(root_user, 0)).create.user.as_deref(), Some("65532:65532"));
}

#[test]
fn empty_folders_the_image_made_writable_for_its_user_get_a_tmpfs() {
    let p = plan(&["pg:15"], &host(postgres(), 0));
    let t = tmpfs(&p);
    assert_eq!(t["/run/postgresql"], "size=16m,uid=999,gid=999");
    assert_eq!(t["/var/tmp"], "size=16m,uid=999,gid=999", "world-writable");
    assert_eq!(t["/tmp"], "size=64m,uid=999,gid=999", "the profile's /tmp, owned by the run user");
    for absent in ["/var/lib/postgresql", "/var/lib/postgresql/data", "/proc/x", "/srv/odd,name", "/var/lib/other"] {
        assert!(!t.contains_key(absent), "{absent}: {t:?}");
    }
    let holds = p.writable.iter().find(|w| w.path == "/var/lib/postgresql").unwrap();
    assert_eq!((holds.kind.as_str(), holds.writable), ("image folder", Some(false)));
    assert!(holds.note.contains("holds files"), "{holds:?}");
    let volume = p.writable.iter().find(|w| w.path == "/var/lib/postgresql/data").unwrap();
    assert_eq!((volume.kind.as_str(), volume.writable), ("image volume", Some(true)));
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);

    // A cap on how many, from the profile; the rest stay read-only and are named.
    let mut one = profile("default");
    one.filesystem.image_tmpfs.max = 1;
    let p = harden_with(&["pg:15"], &one, &host(postgres(), 0)).unwrap();
    assert!(tmpfs(&p).contains_key("/run/postgresql") && !tmpfs(&p).contains_key("/var/tmp"));
    assert!(p.notices.iter().any(|n| n.contains("/var/tmp get")), "{:?}", p.notices);
    // The user's own mount at a path wins.
    let p = plan(&["--tmpfs", "/run/postgresql:size=1m", "pg:15"], &host(postgres(), 0));
    assert_eq!(tmpfs(&p)["/run/postgresql"], "size=1m,uid=999,gid=999");
}

#[test]
fn a_missing_bind_source_is_made_for_the_run_user_or_refused_with_the_command() {
    let data = PathBuf::from("/home/dev/project/pgdata");
    let with_missing = |euid| Host {
        real_paths: [(data.clone(), data.clone())].into(),
        bind_sources: [(data.clone(), PathState::Missing)].into(),
        ..host(postgres(), euid)
    };
    let args = ["-v", "./pgdata:/var/lib/postgresql/data", "pg:15"];
    let req = parse_for_test(&args).unwrap();
    let p = harden(&req, &profile("default"), &with_missing(0)).unwrap();
    assert_eq!(p.prepare, [crate::plan::Prepare { path: data.display().to_string(), owner: Some((999, 999)) }]);
    let p = harden(&req, &profile("default"), &with_missing(999)).unwrap();
    assert_eq!(p.prepare[0].owner, None, "hardrun runs as the run user: its own folder");
    let r = harden(&req, &profile("default"), &with_missing(1000)).unwrap_err();
    let r = r[0].to_string();
    assert!(r.contains("docker would create it owned by root"), "{r}");
    assert!(r.contains("mkdir -p /home/dev/project/pgdata && sudo chown 999:999 /home/dev/project/pgdata"), "{r}");
}

#[test]
fn owners_the_run_user_cannot_write_are_reported_before_start() {
    let data = PathBuf::from("/home/dev/project/data");
    let root_owned = Host {
        real_paths: [(data.clone(), data.clone())].into(),
        bind_sources: [(data.clone(), PathState::Dir(Owner { uid: 0, gid: 0, mode: 0o755 }))].into(),
        ..host(postgres(), 0)
    };
    let req = |args: &[&str]| parse_for_test(args).unwrap();
    let p = harden(&req(&["-v", "./data:/data", "pg:15"]), &profile("default"), &root_owned).unwrap();
    assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
    assert!(p.warnings[0].contains("belongs to 0:0 (mode 755), so the container's user 999:999 cannot write it"));
    assert!(p.warnings[0].contains("sudo chown -R 999:999 /home/dev/project/data"), "{}", p.warnings[0]);
    let p = harden(&req(&["-v", "./data:/data:ro", "pg:15"]), &profile("default"), &root_owned).unwrap();
    assert!(p.warnings.is_empty(), "read-only: {:?}", p.warnings);

    // The image's VOLUME, when --user picks someone else (Prometheus' case); the
    // official postgres image makes its VOLUME world-writable for this very reason.
    assert!(plan(&["--user", "65532:65532", "pg:15"], &host(postgres(), 0)).warnings.is_empty());
    let mut private = postgres();
    private.contents.as_mut().unwrap().folders[2].mode = 0o755;
    let p = plan(&["--user", "65532:65532", "pg:15"], &host(private, 0));
    assert!(
        p.warnings.iter().any(|w| w.contains("VOLUME /var/lib/postgresql/data belongs to 999:999")),
        "{:?}",
        p.warnings
    );
    // A new named volume over a folder the image does not have is root's.
    let p = plan(&["-v", "cache:/var/cache/app", "pg:15"], &host(postgres(), 0));
    assert!(
        p.warnings.iter().any(|w| w.contains("-v cache:/var/cache/app: the volume belongs to 0:0")),
        "{:?}",
        p.warnings
    );
    let existing = Host {
        volumes: [(
            "db".into(),
            VolumeFacts {
                driver: "local".into(),
                owner: Some(Owner { uid: 999, gid: 999, mode: 0o700 }),
                ..Default::default()
            },
        )]
        .into(),
        ..host(postgres(), 0)
    };
    assert!(plan(&["-v", "db:/var/lib/postgresql/data", "pg:15"], &existing).warnings.is_empty());
}

#[test]
fn every_tmpfs_belongs_to_the_run_user() {
    let p = plan(
        &["--mount", "type=tmpfs,target=/cache,tmpfs-size=1048576", "--tmpfs", "/x:uid=0", "pg:15"],
        &host(postgres(), 0),
    );
    let t = tmpfs(&p);
    assert_eq!(t["/cache"], "size=1048576,uid=999,gid=999", "--mount type=tmpfs becomes an owned tmpfs");
    assert_eq!(t["/x"], "uid=0", "an owner the user names is kept");
    assert!(p.create.host_config.as_ref().unwrap().mounts.is_none());
    assert_eq!(owned("", Some(RunIds { uid: 1, gid: Some(2) })), "uid=1,gid=2");
    assert_eq!(owned("size=1m", Some(RunIds { uid: 5, gid: None })), "size=1m,uid=5");
    assert_eq!(owned("size=1m", None), "size=1m");
    assert_eq!(owner_in("size=1m,uid=7,gid=8"), Some("7:8".into()));
}

#[test]
fn an_image_group_the_host_gives_rights_to_is_swapped_for_nogroup() {
    // Official images use 999; on some hosts gid 999 is systemd-journal.
    let journal = Host { groups: vec![("systemd-journal".into(), 999)], ..host(postgres(), 0) };
    let p = plan(&["pg:15"], &journal);
    assert_eq!(p.create.user.as_deref(), Some("999:65534"));
    let user = decision(&p, "user");
    assert!(user.source.to_string().contains("group 999 is the host's systemd-journal group"), "{user:?}");
    assert_eq!(tmpfs(&p)["/run/postgresql"], "size=16m,uid=999,gid=65534");
    // A USER line the image wrote is judged as written: refused, with the reason.
    let written = ImageFacts { user: "999:999".into(), ..postgres() };
    let r = harden_with(&["pg:15"], &profile("default"), &Host { image: Some(written), ..journal }).unwrap_err();
    assert!(r[0].to_string().contains("systemd-journal"), "{r:?}");
}
