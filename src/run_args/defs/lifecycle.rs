//! How the container is driven: foreground or detached, streams, naming, pulling.

use super::value::nonempty;
use crate::request::PullPolicy;
use crate::run_args::flag::{Flag, Section::Lifecycle};

pub const FLAGS: &[Flag] = &[
    Flag::switch("detach", "Run in the background and print the container ID", Lifecycle, |r, b| r.detach = b)
        .short('d')
        .run_only(),
    Flag::switch("interactive", "Keep STDIN open and forward it", Lifecycle, |r, b| r.interactive = b).short('i'),
    Flag::switch("tty", "Allocate a pseudo-TTY", Lifecycle, |r, b| r.tty = b).short('t'),
    Flag::switch("rm", "Remove the container when it exits", Lifecycle, |r, b| r.auto_remove = b),
    Flag::one("name", "NAME", "Name the container", Lifecycle, |r, v, _| {
        let valid = v.strip_prefix('/').unwrap_or(v);
        let mut chars = valid.chars();
        let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
            && valid.len() >= 2
            && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !ok {
            return Err(format!("invalid container name {v:?}: use [a-zA-Z0-9][a-zA-Z0-9_.-]+"));
        }
        r.name = Some(valid.to_string());
        Ok(())
    }),
    Flag::many("attach", "STREAM", "Attach to STDIN, STDOUT or STDERR", Lifecycle, |r, v, _| {
        let stream = v.to_ascii_lowercase();
        if !["stdin", "stdout", "stderr"].contains(&stream.as_str()) {
            return Err(format!("invalid argument {v:?} for --attach: valid streams are STDIN, STDOUT and STDERR"));
        }
        r.attach.push(stream);
        Ok(())
    })
    .short('a'),
    Flag::one("detach-keys", "KEYS", "Key sequence that detaches from the container", Lifecycle, |r, v, _| {
        r.detach_keys = Some(v.to_string());
        Ok(())
    })
    .run_only(),
    Flag::switch("sig-proxy", "Forward received signals to the container (default true)", Lifecycle, |r, b| {
        r.sig_proxy = Some(b)
    })
    .run_only(),
    Flag::one("pull", "POLICY", "Pull the image: missing (default), always or never", Lifecycle, |r, v, _| {
        r.pull = PullPolicy::parse(v)?;
        Ok(())
    }),
    Flag::switch("quiet", "Suppress the pull output", Lifecycle, |r, b| r.quiet = b).short('q'),
    Flag::one("platform", "PLATFORM", "Platform of the image (os[/arch[/variant]])", Lifecycle, |r, v, _| {
        r.platform = Some(nonempty("platform", v)?);
        Ok(())
    }),
    Flag::one("cidfile", "FILE", "Write the container ID to the file", Lifecycle, |r, v, _| {
        r.cidfile = Some(nonempty("cidfile", v)?.into());
        Ok(())
    }),
    Flag::switch(
        "disable-content-trust",
        "Skip image verification (default true); false asks for a cosign signature checked with the profile's image.signatures keys",
        Lifecycle,
        |r, b| r.disable_content_trust = Some(b),
    ),
];

#[cfg(test)]
mod tests {
    use super::super::testing::{err, ok};
    use crate::request::PullPolicy;

    #[test]
    fn switches_follow_go_booleans_and_last_wins() {
        assert!(ok(&["-d", "img:1"]).detach);
        assert!(ok(&["--rm=1", "img:1"]).auto_remove);
        assert!(!ok(&["--rm=false", "img:1"]).auto_remove);
        assert!(ok(&["--rm=false", "--rm", "img:1"]).auto_remove);
        assert!(!ok(&["--rm", "--rm=F", "img:1"]).auto_remove);
        let r = ok(&["-itd", "img:1"]);
        assert!(r.interactive && r.tty && r.detach);
        assert!(err(&["--rm=yes", "img:1"]).contains("--rm"));
        // A switch never takes the next argument: `false` is the image here.
        assert_eq!(ok(&["--rm", "false"]).image, "false");
    }

    #[test]
    fn name() {
        assert_eq!(ok(&["--name", "web", "img:1"]).name.as_deref(), Some("web"));
        assert_eq!(ok(&["--name=/web", "img:1"]).name.as_deref(), Some("web"));
        assert!(err(&["--name", "bad name", "img:1"]).contains("invalid container name"));
    }

    #[test]
    fn attach_and_sig_proxy() {
        let r = ok(&["-a", "STDOUT", "-a", "stderr", "--sig-proxy=false", "img:1"]);
        assert_eq!(r.attach, ["stdout", "stderr"]);
        assert_eq!(r.sig_proxy, Some(false));
        assert!(err(&["-a", "stdlog", "img:1"]).contains("valid streams"));
    }

    #[test]
    fn pull_quiet_platform_cidfile() {
        let r = ok(&["--pull=never", "-q", "--platform", "linux/amd64", "--cidfile", "/tmp/id", "img:1"]);
        assert_eq!(r.pull, PullPolicy::Never);
        assert!(r.quiet);
        assert_eq!(r.platform.as_deref(), Some("linux/amd64"));
        assert_eq!(r.cidfile.as_deref(), Some(std::path::Path::new("/tmp/id")));
        assert!(err(&["--pull", "sometimes", "img:1"]).contains("pull policy"));
        assert_eq!(ok(&["--detach-keys", "ctrl-x", "img:1"]).detach_keys.as_deref(), Some("ctrl-x"));
        assert_eq!(ok(&["--disable-content-trust=false", "img:1"]).disable_content_trust, Some(false));
    }
}
