//! The docker-run flag set as clap arguments, and its parsing into a `RunRequest`.
//!
//! clap does the command-line grammar (bundled short flags, `--flag=value`, `--`, stop at
//! the image); the flag table in `defs/` gives each flag's meaning. Parsing follows the
//! docker CLI (pflag): switches take Go booleans and never the next argument, scalar
//! flags are last-wins, values may start with `-`, and everything after IMAGE belongs to
//! the container's command.

pub mod defs;
pub mod flag;

use std::path::Path;

use clap::{Arg, ArgAction, ArgMatches, Command};

use crate::request::RunRequest;
use flag::{Apply, Arity, Context, Flag};

const POSITIONAL: &str = "IMAGE_AND_COMMAND";

/// The docker flags as typed, before they mean anything. `RUN` is false for
/// `hardrun create`, which, like `docker create`, lacks `-d`, `--sig-proxy` and
/// `--detach-keys`.
#[derive(Debug, Clone, Default)]
pub struct DockerFlags<const RUN: bool> {
    /// (flag, its values in order) for every flag given.
    given: Vec<(&'static Flag, Vec<String>)>,
    /// IMAGE followed by the container's command.
    positional: Vec<String>,
}

pub type RunFlags = DockerFlags<true>;
pub type CreateFlags = DockerFlags<false>;

fn flags_for(run: bool) -> impl Iterator<Item = &'static Flag> {
    defs::all().filter(move |f| run || !f.run_only)
}

/// The clap argument for one table entry.
fn clap_arg(f: &'static Flag) -> Arg {
    let mut arg = Arg::new(f.long).long(f.long).help(f.help).help_heading(f.section.heading());
    if let Some(c) = f.short {
        arg = arg.short(c);
    }
    if !f.aliases.is_empty() {
        arg = arg.aliases(f.aliases.iter().copied());
    }
    match f.arity {
        // `--rm`, `--rm=false`; `--rm false` leaves `false` for the next positional, like pflag.
        Arity::Switch => arg
            .num_args(0..=1)
            .require_equals(true)
            .default_missing_value("true")
            .action(ArgAction::Set)
            .value_name("BOOL")
            .hide_possible_values(true),
        Arity::One => arg.action(ArgAction::Set).allow_hyphen_values(true).value_name(f.value_name),
        Arity::Many => arg.action(ArgAction::Append).allow_hyphen_values(true).value_name(f.value_name),
    }
}

impl<const RUN: bool> clap::Args for DockerFlags<RUN> {
    fn augment_args(cmd: Command) -> Command {
        let cmd = cmd
            .args_override_self(true)
            .disable_help_flag(true)
            .arg(Arg::new("help").long("help").action(ArgAction::Help).help("Print help"))
            .args(flags_for(RUN).map(clap_arg));
        cmd.arg(
            Arg::new(POSITIONAL)
                .value_name("IMAGE [COMMAND] [ARG...]")
                .required(true)
                .num_args(1..)
                .trailing_var_arg(true),
        )
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl<const RUN: bool> clap::FromArgMatches for DockerFlags<RUN> {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut out = DockerFlags::default();
        for f in flags_for(RUN) {
            if let Some(values) = m.get_many::<String>(f.long) {
                out.given.push((f, values.cloned().collect()));
            }
        }
        out.positional = m.get_many::<String>(POSITIONAL).map(|v| v.cloned().collect()).unwrap_or_default();
        Ok(out)
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl<const RUN: bool> DockerFlags<RUN> {
    /// Turns the typed flags into a request. `cwd` resolves relative paths; `env` answers
    /// `-e KEY` and env-file lookups.
    pub fn to_request(&self, cwd: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<RunRequest, String> {
        let ctx = Context { cwd, env };
        let mut req = RunRequest::default();
        let (image, command) = self.positional.split_first().ok_or("an IMAGE is required")?;
        if image.is_empty() {
            return Err("the image name is empty".into());
        }
        // A reference docker could not parse is a parse error, like a bad flag value.
        crate::image::ImageRef::parse(image)?;
        req.image = image.clone();
        req.command = command.to_vec();
        for (f, values) in &self.given {
            match f.apply {
                Apply::Switch(set) => {
                    let last = values.last().map(String::as_str).unwrap_or("true");
                    set(&mut req, flag::switch_value(f.long, last)?);
                }
                Apply::Value(set) if f.arity == Arity::One => {
                    if let Some(last) = values.last() {
                        set(&mut req, last, &ctx)?;
                    }
                }
                Apply::Value(set) => {
                    for v in values {
                        set(&mut req, v, &ctx)?;
                    }
                }
            }
        }
        check_combinations(&req)?;
        Ok(req)
    }
}

/// Applies one docker-run flag by its long name, as if typed once (`--memory 512m`), to
/// a request being built from something other than a command line (a Compose service).
/// A switch takes `true`/`false`.
pub fn apply(req: &mut RunRequest, long: &str, value: &str, ctx: &Context) -> Result<(), String> {
    let f = defs::all().find(|f| f.long == long).ok_or_else(|| format!("hardrun has no --{long} flag"))?;
    match f.apply {
        Apply::Switch(set) => set(req, flag::switch_value(f.long, value)?),
        Apply::Value(set) => set(req, value, ctx)?,
    }
    Ok(())
}

/// Checks a request built flag by flag (see [`apply`]) as a command line is checked.
pub fn check(req: &RunRequest) -> Result<(), String> {
    check_combinations(req)
}

/// Combinations the docker CLI or daemon reject, caught here with a clearer message.
fn check_combinations(r: &RunRequest) -> Result<(), String> {
    if r.health.disabled && r.health.is_set() {
        return Err("--no-healthcheck conflicts with --health-* options".into());
    }
    if r.health.retries.is_some_and(|n| n < 0) {
        return Err("--health-retries cannot be negative".into());
    }
    if r.detach && !r.attach.is_empty() {
        return Err(
            "conflicting options: -a/--attach and -d/--detach (a detached container has nothing attached)".into()
        );
    }
    if r.auto_remove && r.restart.as_ref().is_some_and(|p| !p.is_no()) {
        return Err("conflicting options: --restart and --rm (a restarted container cannot be removed on exit)".into());
    }
    if r.nano_cpus.is_some() && (r.cpu_period.is_some() || r.cpu_quota.is_some()) {
        return Err("conflicting options: --cpus and --cpu-period/--cpu-quota (use one way to limit CPU)".into());
    }
    if let (Some(mem), Some(swap)) = (r.memory, r.memory_swap)
        && swap != -1
        && mem > 0
        && swap < mem
    {
        return Err("--memory-swap must be at least --memory (it counts memory plus swap)".into());
    }
    // The per-container network flags apply to the first network; the docker CLI will
    // not take one together with the same setting in that network's long form.
    if let Some(first) = r.networks.first() {
        for (flag, legacy, long) in [
            ("--network-alias", !r.network_aliases.is_empty(), !first.aliases.is_empty()),
            ("--ip", r.ip.is_some(), first.ipv4.is_some()),
            ("--ip6", r.ip6.is_some(), first.ipv6.is_some()),
            ("--link-local-ip", !r.link_local_ips.is_empty(), !first.link_local_ips.is_empty()),
            ("--mac-address", r.mac_address.is_some(), first.mac_address.is_some()),
        ] {
            if legacy && long {
                return Err(format!(
                    "conflicting options: {flag} and the same setting in --network {}'s long form (give it once)",
                    first.name
                ));
            }
        }
    }
    if let (Some(mem), Some(res)) = (r.memory, r.memory_reservation)
        && mem > 0
        && res > mem
    {
        return Err("--memory-reservation must be below --memory".into());
    }
    Ok(())
}

/// Parses `hardrun run ARGS` from a fixed directory and environment (for unit tests).
#[cfg(test)]
pub fn parse_for_test(args: &[&str]) -> Result<RunRequest, String> {
    use clap::{Args, FromArgMatches};
    let cmd = RunFlags::augment_args(Command::new("run").no_binary_name(true));
    let m = cmd.try_get_matches_from(args).map_err(|e| e.to_string())?;
    let flags = RunFlags::from_arg_matches(&m).map_err(|e| e.to_string())?;
    let env = |k: &str| (k == "HARDRUN_TEST_HOME").then(|| "/home/dev".to_string());
    flags.to_request(Path::new("/home/dev/project"), &env)
}

#[cfg(test)]
mod tests {
    use super::defs::testing::{err, ok};

    #[test]
    fn everything_after_the_image_is_the_command() {
        let r = ok(&["-it", "img:1.2", "sh", "-c", "echo --net=host"]);
        assert_eq!(r.image, "img:1.2");
        assert_eq!(r.command, ["sh", "-c", "echo --net=host"]);
        assert!(r.networks.is_empty());
        let r = ok(&["img:1", "--privileged", "--rm"]);
        assert_eq!((r.privileged, r.auto_remove), (None, false));
        assert_eq!(r.command, ["--privileged", "--rm"]);
    }

    #[test]
    fn double_dash_ends_options() {
        let r = ok(&["--rm", "--", "img:1", "-v", "x"]);
        assert!(r.auto_remove);
        assert_eq!(r.command, ["-v", "x"]);
    }

    #[test]
    fn values_may_start_with_a_dash() {
        assert_eq!(ok(&["--pids-limit", "-1", "img:1"]).pids_limit, Some(-1));
        assert_eq!(ok(&["--entrypoint", "-x", "img:1"]).entrypoint.as_deref(), Some("-x"));
    }

    #[test]
    fn short_attached_values_and_equals() {
        assert!(ok(&["-u0", "img:1"]).user.unwrap().is_root());
        assert!(ok(&["-u=0", "img:1"]).user.unwrap().is_root());
        assert_eq!(ok(&["-m512m", "img:1"]).memory, Some(512 << 20));
        assert!(!ok(&["-i=false", "img:1"]).interactive);
    }

    #[test]
    fn scalar_flags_are_last_wins() {
        assert_eq!(ok(&["-u", "1000", "-u", "0", "img:1"]).user.unwrap().to_string(), "0");
        assert_eq!(ok(&["-m", "1g", "--memory=128m", "img:1"]).memory, Some(128 << 20));
    }

    #[test]
    fn unknown_flags_and_missing_image_are_errors() {
        assert!(err(&["--bogus", "img:1"]).contains("--bogus"));
        assert!(err(&["-Z", "img:1"]).contains("-Z"));
        assert!(err(&["--rm"]).contains("IMAGE"));
        assert!(err(&["--memory"]).contains("--memory"));
    }

    #[test]
    fn docker_conflicts() {
        assert!(err(&["-d", "-a", "stdout", "img:1"]).contains("conflicting"));
        assert!(err(&["--rm", "--restart", "always", "img:1"]).contains("--restart and --rm"));
        assert!(ok(&["--rm", "--restart", "no", "img:1"]).auto_remove);
        assert!(err(&["--cpus", "1", "--cpu-quota", "50000", "img:1"]).contains("conflicting"));
        assert!(err(&["-m", "1g", "--memory-swap", "512m", "img:1"]).contains("--memory-swap"));
        assert!(err(&["-m", "1g", "--memory-reservation", "2g", "img:1"]).contains("--memory-reservation"));
        let both = err(&["--network", "name=n,alias=a", "--network-alias", "b", "img:1"]);
        assert!(both.contains("conflicting options: --network-alias"), "{both}");
        assert!(err(&["--network", "name=n,ip=10.0.0.2", "--ip", "10.0.0.3", "img:1"]).contains("--ip "));
        // On another network than the first, the long form is that network's own.
        assert_eq!(
            ok(&["--network", "m", "--network", "name=n,alias=a", "--network-alias", "b", "img:1"]).networks.len(),
            2
        );
    }

    #[test]
    fn create_lacks_run_only_flags() {
        use clap::Args;
        let cmd = super::CreateFlags::augment_args(clap::Command::new("create").no_binary_name(true));
        assert!(cmd.clone().try_get_matches_from(["-d", "img:1"]).is_err());
        assert!(cmd.try_get_matches_from(["--rm", "img:1"]).is_ok());
    }
}

/// docs/flags.md, generated from the flag table (a test keeps the file in step).
#[cfg(test)]
pub fn flags_markdown() -> String {
    let mut out = String::from(
        "# docker-run flags in hardrun\n\n\
         Generated from the flag table in `src/run_args/defs/` (`HARDRUN_UPDATE_DOCS=1 cargo test flags_doc` \
         rewrites it). hardrun parses each flag as the docker CLI does; whether a value is allowed is the \
         hardening profile's decision (docs/profiles.md). A flag not listed here is an error, never passed on.\n",
    );
    let mut section = None;
    for f in defs::all() {
        if section != Some(f.section) {
            section = Some(f.section);
            out += &format!("\n## {}\n\n| flag | value | meaning |\n|---|---|---|\n", f.section.heading());
        }
        let mut names = f.display_name();
        for a in f.aliases {
            names += &format!(", --{a}");
        }
        let value = match f.arity {
            Arity::Switch => "`[=BOOL]`".to_string(),
            Arity::One => format!("`{}`", f.value_name),
            Arity::Many => format!("`{}` (repeatable)", f.value_name),
        };
        let run_only = if f.run_only { " (run only)" } else { "" };
        out += &format!("| `{names}` | {} | {}{run_only} |\n", value.replace('|', "\\|"), f.help.replace('|', "\\|"));
    }
    out
}

#[cfg(test)]
mod flags_doc {
    #[test]
    fn flags_doc_is_in_step_with_the_table() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/flags.md");
        let want = super::flags_markdown();
        if std::env::var("HARDRUN_UPDATE_DOCS").is_ok() {
            std::fs::write(path, &want).unwrap();
        }
        let have = std::fs::read_to_string(path).unwrap_or_default();
        assert!(have == want, "docs/flags.md is stale: run HARDRUN_UPDATE_DOCS=1 cargo test flags_doc");
    }
}
