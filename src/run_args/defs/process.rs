//! The container's process: command environment, user, identity, restart and logging.

use std::path::Path;

use super::value::{int, nonempty};
use crate::request::{MapFlag, RestartPolicy, UserSpec, env_file, key_value};
use crate::run_args::flag::{Flag, Section::Process};

pub const FLAGS: &[Flag] = &[
    // Files come before their flags: docker reads --env-file and --label-file first and
    // lets -e and -l override them.
    Flag::many("env-file", "FILE", "Read environment variables from a file", Process, |r, v, c| {
        r.env.extend(env_file::read_env_file(&c.cwd.join(v), c.env)?);
        Ok(())
    }),
    Flag::many("env", "KEY[=VALUE]", "Set an environment variable (KEY alone copies hardrun's)", Process, |r, v, c| {
        if v.is_empty() || v.starts_with('=') {
            return Err(format!("invalid environment variable {v:?}"));
        }
        r.env.push(env_file::resolve_env(v, c.env));
        Ok(())
    })
    .short('e'),
    Flag::many("label-file", "FILE", "Read labels from a file", Process, |r, v, c| {
        for line in env_file::read_label_file(&c.cwd.join(Path::new(v)))? {
            add_label(r, &line);
        }
        Ok(())
    }),
    Flag::many("label", "KEY[=VALUE]", "Set a label on the container", Process, |r, v, _| {
        add_label(r, v);
        Ok(())
    })
    .short('l'),
    Flag::one("entrypoint", "CMD", "Override the image's entrypoint (\"\" clears it)", Process, |r, v, _| {
        r.entrypoint = Some(v.to_string());
        Ok(())
    }),
    Flag::one("workdir", "DIR", "Working directory inside the container", Process, |r, v, _| {
        if !v.starts_with('/') {
            return Err(format!("invalid --workdir {v:?}: the path must be absolute"));
        }
        r.workdir = Some(v.to_string());
        Ok(())
    })
    .short('w'),
    Flag::one("user", "USER[:GROUP]", "User and group to run as (name or id)", Process, |r, v, _| {
        r.user = Some(UserSpec::parse(v)?);
        Ok(())
    })
    .short('u'),
    Flag::many("group-add", "GROUP", "Add a supplementary group", Process, |r, v, _| {
        r.group_add.push(nonempty("group-add", v)?);
        Ok(())
    }),
    Flag::one("hostname", "NAME", "Container host name", Process, |r, v, _| {
        r.hostname = Some(v.to_string());
        Ok(())
    })
    .short('h'),
    Flag::one("domainname", "NAME", "Container NIS domain name", Process, |r, v, _| {
        r.domainname = Some(v.to_string());
        Ok(())
    }),
    Flag::switch(
        "init",
        "Run an init inside the container that reaps zombies and forwards signals",
        Process,
        |r, b| r.init = Some(b),
    ),
    Flag::one("stop-signal", "SIGNAL", "Signal that stops the container", Process, |r, v, _| {
        r.stop_signal = Some(nonempty("stop-signal", v)?);
        Ok(())
    }),
    Flag::one("stop-timeout", "SECONDS", "Seconds to wait before killing a stopping container", Process, |r, v, _| {
        r.stop_timeout = Some(int("stop-timeout", v)?);
        Ok(())
    }),
    Flag::one("restart", "POLICY", "Restart policy: no, always, unless-stopped, on-failure[:N]", Process, |r, v, _| {
        r.restart = Some(RestartPolicy::parse(v)?);
        Ok(())
    }),
    Flag::one("log-driver", "DRIVER", "Logging driver", Process, |r, v, _| {
        r.log_driver = Some(nonempty("log-driver", v)?);
        Ok(())
    }),
    Flag::many("log-opt", "KEY=VALUE", "Logging driver option", Process, |r, v, _| {
        let (k, val) = key_value("--log-opt", v)?;
        r.insert_keyed("--log-opt", k, val, MapFlag::LogOpt);
        Ok(())
    }),
    Flag::many("annotation", "KEY=VALUE", "Add an OCI annotation", Process, |r, v, _| {
        let (k, val) = key_value("--annotation", v)?;
        r.insert_keyed("--annotation", k, val, MapFlag::Annotation);
        Ok(())
    }),
];

fn add_label(r: &mut crate::request::RunRequest, v: &str) {
    let (k, value) = v.split_once('=').unwrap_or((v, ""));
    r.labels.insert(k.to_string(), value.to_string());
}

#[cfg(test)]
mod tests {
    use super::super::testing::{err, ok};
    use std::io::Write;

    #[test]
    fn env_keeps_order_and_resolves_bare_names() {
        let r = ok(&["-e", "A=1", "--env", "HARDRUN_TEST_HOME", "-e", "UNSET_VAR", "img:1"]);
        assert_eq!(r.env, ["A=1", "HARDRUN_TEST_HOME=/home/dev", "UNSET_VAR"]);
        assert!(err(&["-e", "=x", "img:1"]).contains("environment"));
    }

    #[test]
    fn env_file_entries_come_first() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(f, "FROM_FILE=1").unwrap();
        let path = f.path().to_str().unwrap();
        let r = ok(&["-e", "A=1", "--env-file", path, "img:1"]);
        assert_eq!(r.env, ["FROM_FILE=1", "A=1"]);
        assert!(err(&["--env-file", "/nonexistent/file", "img:1"]).contains("--env-file /nonexistent/file"));
    }

    #[test]
    fn labels_flags_win_over_files() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(f, "team=ops\nfrom=file").unwrap();
        let r = ok(&["-l", "team=dev", "--label-file", f.path().to_str().unwrap(), "-l", "bare", "img:1"]);
        assert_eq!(r.labels["team"], "dev");
        assert_eq!(r.labels["from"], "file");
        assert_eq!(r.labels["bare"], "");
    }

    #[test]
    fn user_workdir_entrypoint() {
        let r = ok(&["-u0", "-w", "/app", "--entrypoint", "", "img:1"]);
        assert!(r.user.unwrap().is_root());
        assert_eq!(r.workdir.as_deref(), Some("/app"));
        assert_eq!(r.entrypoint.as_deref(), Some(""));
        assert!(err(&["-w", "rel", "img:1"]).contains("absolute"));
        assert_eq!(ok(&["--group-add", "audio", "img:1"]).group_add, ["audio"]);
    }

    #[test]
    fn identity_and_lifecycle_of_the_process() {
        let r = ok(&[
            "-h",
            "box",
            "--domainname",
            "example.org",
            "--init",
            "--stop-signal",
            "SIGINT",
            "--stop-timeout",
            "5",
            "--restart",
            "on-failure:3",
            "img:1",
        ]);
        assert_eq!((r.hostname.as_deref(), r.domainname.as_deref()), (Some("box"), Some("example.org")));
        assert_eq!((r.init, r.stop_signal.as_deref(), r.stop_timeout), (Some(true), Some("SIGINT"), Some(5)));
        assert_eq!(r.restart.unwrap().to_string(), "on-failure:3");
        assert!(err(&["--stop-timeout", "soon", "img:1"]).contains("--stop-timeout"));
    }

    #[test]
    fn logging_and_annotations() {
        let r = ok(&["--log-driver", "json-file", "--log-opt", "max-size=10m", "--annotation", "a=b", "img:1"]);
        assert_eq!(r.log_driver.as_deref(), Some("json-file"));
        assert_eq!(r.log_opts["max-size"], "10m");
        assert_eq!(r.annotations["a"], "b");
        assert!(err(&["--log-opt", "novalue", "img:1"]).contains("KEY=VALUE"));
        let r = ok(&["--log-opt", "max-size=1m", "--log-opt", "max-size=-1", "img:1"]);
        assert_eq!(r.log_opts["max-size"], "-1", "the last value is the one docker sends");
        assert_eq!((r.repeated_keys[0].flag, r.repeated_keys[0].key.as_str()), ("--log-opt", "max-size"));
    }
}
