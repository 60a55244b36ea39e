//! Resource flags: memory, CPU, pids, block I/O and ulimits.

use super::value::{bytes, int};
use crate::request::{RepeatedKey, Throttle, Ulimit, parse_nano_cpus};
use crate::run_args::flag::{Flag, Section::Resources};

fn throttle(flag: &str, v: &str, rate: fn(&str) -> Option<i64>) -> Result<Throttle, String> {
    let (path, value) =
        v.rsplit_once(':').ok_or_else(|| format!("invalid argument {v:?} for --{flag}: expected DEVICE:RATE"))?;
    if !path.starts_with("/dev/") {
        return Err(format!("invalid argument {v:?} for --{flag}: {path:?} is not a device path"));
    }
    let rate = rate(value).ok_or_else(|| format!("invalid argument {v:?} for --{flag}: bad rate {value:?}"))?;
    Ok(Throttle { path: path.to_string(), rate })
}

fn bps(v: &str) -> Option<i64> {
    crate::request::size::parse_bytes(v)
}

fn iops(v: &str) -> Option<i64> {
    v.parse::<u32>().ok().map(i64::from)
}

fn weight(flag: &str, v: &str) -> Result<u16, String> {
    v.parse::<u16>()
        .ok()
        .filter(|w| *w == 0 || (10..=1000).contains(w))
        .ok_or_else(|| format!("invalid argument {v:?} for --{flag}: expected 10 to 1000 (or 0)"))
}

pub const FLAGS: &[Flag] = &[
    Flag::one("memory", "BYTES", "Memory limit", Resources, |r, v, _| {
        r.memory = Some(bytes("memory", v)?);
        Ok(())
    })
    .short('m'),
    Flag::one("memory-swap", "BYTES", "Memory plus swap limit (-1 is unlimited)", Resources, |r, v, _| {
        r.memory_swap = Some(if v == "-1" { -1 } else { bytes("memory-swap", v)? });
        Ok(())
    }),
    Flag::one("memory-reservation", "BYTES", "Memory soft limit", Resources, |r, v, _| {
        r.memory_reservation = Some(bytes("memory-reservation", v)?);
        Ok(())
    }),
    Flag::one("kernel-memory", "BYTES", "Kernel memory limit (deprecated; not supported)", Resources, |_, _, _| {
        Err("--kernel-memory is not supported: the Engine API dropped kernel memory limits; --memory covers it".into())
    }),
    Flag::one("memory-swappiness", "0-100", "Memory swappiness", Resources, |r, v, _| {
        let n = int("memory-swappiness", v)?;
        if !(-1..=100).contains(&n) {
            return Err(format!("invalid argument {v:?} for --memory-swappiness: expected 0 to 100"));
        }
        r.memory_swappiness = Some(n);
        Ok(())
    }),
    Flag::switch("oom-kill-disable", "Disable the OOM killer", Resources, |r, b| r.oom_kill_disable = Some(b)),
    Flag::one("oom-score-adj", "-1000..1000", "OOM score adjustment", Resources, |r, v, _| {
        let n = int("oom-score-adj", v)?;
        if !(-1000..=1000).contains(&n) {
            return Err(format!("invalid argument {v:?} for --oom-score-adj: expected -1000 to 1000"));
        }
        r.oom_score_adj = Some(n);
        Ok(())
    }),
    Flag::one("cpus", "NUMBER", "Number of CPUs (1.5 is one and a half)", Resources, |r, v, _| {
        r.nano_cpus = Some(parse_nano_cpus(v)?);
        Ok(())
    }),
    Flag::one("cpu-shares", "WEIGHT", "Relative CPU weight", Resources, |r, v, _| {
        r.cpu_shares = Some(int("cpu-shares", v)?);
        Ok(())
    })
    .short('c'),
    Flag::one("cpu-period", "MICROSECONDS", "CFS period", Resources, |r, v, _| {
        r.cpu_period = Some(int("cpu-period", v)?);
        Ok(())
    }),
    Flag::one("cpu-quota", "MICROSECONDS", "CFS quota per period (-1 is unlimited)", Resources, |r, v, _| {
        r.cpu_quota = Some(int("cpu-quota", v)?);
        Ok(())
    }),
    Flag::one("cpu-rt-period", "MICROSECONDS", "Realtime scheduling period", Resources, |r, v, _| {
        r.cpu_rt_period = Some(int("cpu-rt-period", v)?);
        Ok(())
    }),
    Flag::one("cpu-rt-runtime", "MICROSECONDS", "Realtime scheduling runtime", Resources, |r, v, _| {
        r.cpu_rt_runtime = Some(int("cpu-rt-runtime", v)?);
        Ok(())
    }),
    Flag::one("cpuset-cpus", "LIST", "CPUs the container may use (0-3, 0,1)", Resources, |r, v, _| {
        r.cpuset_cpus = Some(v.to_string());
        Ok(())
    }),
    Flag::one("cpuset-mems", "LIST", "Memory nodes the container may use", Resources, |r, v, _| {
        r.cpuset_mems = Some(v.to_string());
        Ok(())
    }),
    Flag::one("cpu-count", "N", "CPU count (Windows)", Resources, |r, v, _| {
        r.cpu_count = Some(int("cpu-count", v)?);
        Ok(())
    }),
    Flag::one("cpu-percent", "N", "CPU percent (Windows)", Resources, |r, v, _| {
        r.cpu_percent = Some(int("cpu-percent", v)?);
        Ok(())
    }),
    Flag::one("pids-limit", "N", "Process limit (-1 or 0 is unlimited)", Resources, |r, v, _| {
        r.pids_limit = Some(int("pids-limit", v)?);
        Ok(())
    }),
    Flag::one("blkio-weight", "10-1000", "Relative block I/O weight", Resources, |r, v, _| {
        r.blkio_weight = Some(weight("blkio-weight", v)?);
        Ok(())
    }),
    Flag::many("blkio-weight-device", "DEVICE:WEIGHT", "Block I/O weight for one device", Resources, |r, v, _| {
        let (path, w) = v
            .rsplit_once(':')
            .ok_or_else(|| format!("invalid argument {v:?} for --blkio-weight-device: expected DEVICE:WEIGHT"))?;
        r.blkio_weight_devices.push((path.to_string(), weight("blkio-weight-device", w)?));
        Ok(())
    }),
    Flag::many(
        "device-read-bps",
        "DEVICE:RATE",
        "Read rate limit for a device (bytes per second)",
        Resources,
        |r, v, _| {
            r.device_read_bps.push(throttle("device-read-bps", v, bps)?);
            Ok(())
        },
    ),
    Flag::many(
        "device-write-bps",
        "DEVICE:RATE",
        "Write rate limit for a device (bytes per second)",
        Resources,
        |r, v, _| {
            r.device_write_bps.push(throttle("device-write-bps", v, bps)?);
            Ok(())
        },
    ),
    Flag::many(
        "device-read-iops",
        "DEVICE:RATE",
        "Read rate limit for a device (IO per second)",
        Resources,
        |r, v, _| {
            r.device_read_iops.push(throttle("device-read-iops", v, iops)?);
            Ok(())
        },
    ),
    Flag::many(
        "device-write-iops",
        "DEVICE:RATE",
        "Write rate limit for a device (IO per second)",
        Resources,
        |r, v, _| {
            r.device_write_iops.push(throttle("device-write-iops", v, iops)?);
            Ok(())
        },
    ),
    Flag::one("io-maxbandwidth", "BYTES", "Maximum IO bandwidth (Windows)", Resources, |r, v, _| {
        r.io_max_bandwidth = Some(bytes("io-maxbandwidth", v)?);
        Ok(())
    }),
    Flag::one("io-maxiops", "N", "Maximum IOps (Windows)", Resources, |r, v, _| {
        r.io_max_iops = Some(int("io-maxiops", v)?);
        Ok(())
    }),
    Flag::many("ulimit", "NAME=SOFT[:HARD]", "Set a ulimit", Resources, |r, v, _| {
        let u = Ulimit::parse(v)?;
        // A later --ulimit for the same resource replaces the earlier one, as in the
        // docker CLI's map; policy refuses the repetition.
        if r.ulimits.iter().any(|old| old.name == u.name) {
            r.repeated_keys.push(RepeatedKey { flag: "--ulimit", key: u.name.to_string() });
        }
        r.ulimits.retain(|old| old.name != u.name);
        r.ulimits.push(u);
        Ok(())
    }),
];

#[cfg(test)]
mod tests {
    use super::super::testing::{err, ok};

    #[test]
    fn memory() {
        let r = ok(&["-m", "512m", "--memory-swap", "-1", "--memory-reservation", "256m", "img:1"]);
        assert_eq!((r.memory, r.memory_swap, r.memory_reservation), (Some(512 << 20), Some(-1), Some(256 << 20)));
        assert_eq!(ok(&["--memory=0", "img:1"]).memory, Some(0));
        assert!(err(&["-m", "lots", "img:1"]).contains("--memory"));
        assert!(err(&["-m", "-1", "img:1"]).contains("--memory"));
        assert!(err(&["--memory-swappiness", "101", "img:1"]).contains("0 to 100"));
        let r = ok(&["--oom-kill-disable", "--oom-score-adj", "-500", "img:1"]);
        assert_eq!((r.oom_kill_disable, r.oom_score_adj), (Some(true), Some(-500)));
        assert!(err(&["--kernel-memory", "1g", "img:1"]).contains("not supported"));
    }

    #[test]
    fn cpu() {
        let r = ok(&["--cpus", "0.5", "-c", "512", "img:1"]);
        assert_eq!((r.nano_cpus, r.cpu_shares), (Some(500_000_000), Some(512)));
        let r = ok(&["--cpu-period", "100000", "--cpu-quota", "-1", "img:1"]);
        assert_eq!((r.cpu_period, r.cpu_quota), (Some(100000), Some(-1)));
        let r = ok(&["--cpuset-cpus", "0-1", "--cpuset-mems", "0", "--cpu-rt-runtime", "950000", "img:1"]);
        assert_eq!((r.cpuset_cpus.as_deref(), r.cpu_rt_runtime), (Some("0-1"), Some(950000)));
        assert!(err(&["--cpus", "fast", "img:1"]).contains("--cpus"));
    }

    #[test]
    fn pids_and_ulimits() {
        assert_eq!(ok(&["--pids-limit", "-1", "img:1"]).pids_limit, Some(-1));
        let r = ok(&["--ulimit", "nofile=1024:2048", "--ulimit", "nofile=10", "--ulimit", "nproc=5", "img:1"]);
        assert_eq!(r.ulimits.len(), 2);
        assert_eq!((r.ulimits[0].name, r.ulimits[0].soft), ("nofile", 10));
        assert!(err(&["--ulimit", "nofile", "img:1"]).contains("ulimit"));
    }

    #[test]
    fn block_io() {
        let r = ok(&[
            "--blkio-weight",
            "300",
            "--blkio-weight-device",
            "/dev/sda:200",
            "--device-read-bps",
            "/dev/sda:1mb",
            "--device-write-iops",
            "/dev/sda:100",
            "img:1",
        ]);
        assert_eq!(r.blkio_weight, Some(300));
        assert_eq!(r.blkio_weight_devices, [("/dev/sda".to_string(), 200)]);
        assert_eq!(r.device_read_bps[0].rate, 1 << 20);
        assert_eq!(r.device_write_iops[0].rate, 100);
        assert!(err(&["--blkio-weight", "5", "img:1"]).contains("10 to 1000"));
        assert!(err(&["--device-read-bps", "sda:1mb", "img:1"]).contains("device path"));
    }
}
