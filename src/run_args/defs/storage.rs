//! Storage flags: volumes, bind mounts, tmpfs and the storage driver.

use super::value::{bytes, nonempty};
use crate::request::{MapFlag, key_value, mount};
use crate::run_args::flag::{Flag, Section::Storage};

pub const FLAGS: &[Flag] = &[
    Flag::many(
        "volume",
        "SRC:DST[:MODE]",
        "Bind a host path (./ for relative) or a named volume",
        Storage,
        |r, v, c| {
            r.volumes.push(mount::parse_volume(v, c.cwd)?);
            Ok(())
        },
    )
    .short('v'),
    Flag::many("mount", "type=..,src=..,dst=..", "Attach a mount (bind, volume, tmpfs, image)", Storage, |r, v, c| {
        r.mounts.push(mount::parse_mount(v, c.cwd)?);
        Ok(())
    }),
    Flag::many("tmpfs", "PATH[:OPTIONS]", "Mount a tmpfs directory", Storage, |r, v, _| {
        r.tmpfs.push(mount::parse_tmpfs(v)?);
        Ok(())
    }),
    Flag::many("volumes-from", "CONTAINER[:ro|rw]", "Mount the volumes of another container", Storage, |r, v, _| {
        r.volumes_from.push(nonempty("volumes-from", v)?);
        Ok(())
    }),
    Flag::one("volume-driver", "DRIVER", "Volume driver for the container's volumes", Storage, |r, v, _| {
        r.volume_driver = Some(v.to_string());
        Ok(())
    }),
    Flag::many("storage-opt", "KEY=VALUE", "Storage driver option", Storage, |r, v, _| {
        let (k, val) = key_value("--storage-opt", v)?;
        r.insert_keyed("--storage-opt", k, val, MapFlag::StorageOpt);
        Ok(())
    }),
    Flag::one("shm-size", "BYTES", "Size of /dev/shm", Storage, |r, v, _| {
        r.shm_size = Some(bytes("shm-size", v)?);
        Ok(())
    }),
];

#[cfg(test)]
mod tests {
    use super::super::testing::{err, ok};
    use crate::request::VolumeSource;

    #[test]
    fn bundled_short_flags_take_attached_values() {
        let r = ok(&["-itv/:/h", "img:1"]);
        assert!(r.interactive && r.tty);
        assert_eq!(r.volumes[0].source, VolumeSource::Host("/".into()));
    }

    #[test]
    fn relative_sources_resolve_against_the_working_directory() {
        let r = ok(&["-v", "./data:/data", "--mount", "type=bind,src=../x,dst=/x", "img:1"]);
        assert_eq!(r.volumes[0].source, VolumeSource::Host("/home/dev/project/data".into()));
        assert_eq!(r.mounts[0].source.as_deref(), Some("/home/dev/x"));
    }

    #[test]
    fn other_storage_flags() {
        let r = ok(&[
            "--tmpfs",
            "/cache:rw,size=64m",
            "--volumes-from",
            "db:ro",
            "--volume-driver",
            "local",
            "--storage-opt",
            "size=1g",
            "--shm-size",
            "128m",
            "img:1",
        ]);
        assert_eq!(r.tmpfs, [("/cache".to_string(), "rw,size=64m".to_string())]);
        assert_eq!(r.volumes_from, ["db:ro"]);
        assert_eq!(r.volume_driver.as_deref(), Some("local"));
        assert_eq!(r.storage_opts["size"], "1g");
        assert_eq!(r.shm_size, Some(128 << 20));
        assert!(err(&["--shm-size", "lots", "img:1"]).contains("--shm-size"));
        assert!(err(&["-v", "/x:relative", "img:1"]).contains("absolute"));
    }
}
