//! hardrun: a hardened drop-in for `docker run`.
//!
//! Entry point: parse the command line, dispatch, and map every failure to its lines on
//! stderr and its exit code, in one place (`error::Error`).

mod apparmor;
mod bounded_file;
mod capability;
mod cli;
mod command;
mod compose;
mod diagnosis;
mod engine;
mod error;
mod host;
mod image;
mod kube;
mod learn;
mod plan;
mod plugin;
mod policy;
mod profile;
mod request;
mod run_args;
mod sanitize;
mod seccomp;
mod timing;
mod verify;
mod yaml;
mod yaml_nesting;

use std::io::Write;

use clap::{CommandFactory, FromArgMatches};

use cli::{Cli, Command};
use engine::interrupt::guarded;

/// hardrun's own failures exit like `docker run`'s: 125.
const EXIT_HARDRUN: i32 = error::EXIT_FAILED;

fn main() {
    error::exit_quietly_on_closed_output();
    timing::init();
    let code = match parse() {
        Ok(cli) => match dispatch(&cli) {
            Ok(code) => code,
            Err(e) => error::Error::of(&e).report(),
        },
        Err(code) => code,
    };
    if std::io::stdout().flush().is_err() && error::output_closed() {
        std::process::exit(error::EXIT_BROKEN_PIPE);
    }
    std::process::exit(code);
}

fn parse() -> Result<Cli, i32> {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // Asked by the docker CLI, whatever the file is called: the answer is all it reads.
    if args.get(1).is_some_and(|a| a == plugin::METADATA) {
        println!("{}", plugin::metadata());
        return Err(0);
    }
    let mut cli = Cli::command();
    if let Some((hardrun_args, config)) = plugin::as_hardrun(&args) {
        args = hardrun_args;
        cli = cli.bin_name("docker hardrun");
        if let Some(dir) = config {
            // SAFETY: no other thread exists yet; everything after reads DOCKER_CONFIG.
            unsafe { std::env::set_var("DOCKER_CONFIG", dir) };
        }
    }
    let matches = cli.try_get_matches_from(args).map_err(clap_failure)?;
    Cli::from_arg_matches(&matches).map_err(clap_failure)
}

/// Help and version go to stdout with code 0; every other clap error is one line.
fn clap_failure(e: clap::Error) -> i32 {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand { EXIT_HARDRUN } else { 0 };
        }
        _ => {}
    }
    let context = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) => Some(v.join(", ")),
        _ => None,
    };
    let line = match e.kind() {
        ErrorKind::UnknownArgument => {
            let arg = context(ContextKind::InvalidArg).unwrap_or_default();
            let hint = context(ContextKind::SuggestedArg).map(|s| format!(" (did you mean {s}?)")).unwrap_or_default();
            format!(
                "unknown flag: {arg}{hint}; hardrun passes no flag it does not know to docker (see `hardrun run --help`)"
            )
        }
        ErrorKind::MissingRequiredArgument => {
            let missing = context(ContextKind::InvalidArg).unwrap_or_default();
            if missing.contains("IMAGE") {
                "an IMAGE is required: hardrun run [FLAGS] IMAGE [COMMAND] [ARG...]".to_string()
            } else {
                format!("missing {missing} (see --help)")
            }
        }
        _ => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or_default().trim_start_matches("error: ").to_string();
            format!("{first} (see --help)")
        }
    };
    eprintln!("hardrun: {line}");
    EXIT_HARDRUN
}

fn dispatch(cli: &Cli) -> anyhow::Result<i32> {
    let cwd = command::cwd()?;
    match &cli.command {
        Command::Plan(cmd) if cmd.pin => block_on(guarded(command::image::pin(cmd, &cli.global))),
        Command::Image(cli::ImageCommand::Check(cmd)) => {
            block_on(guarded(command::image::check(cmd, &cli.global, cli.quiet)))
        }
        Command::Image(cli::ImageCommand::Verify(cmd)) => {
            block_on(guarded(command::signature::verify(cmd, &cli.global)))
        }
        Command::Plan(cmd) => block_on(guarded(command::plan::run(cmd, &cli.global))),
        Command::Profile(cmd) => command::profile::run(cmd, &profile::Loader::standard(&cwd, &command::env)),
        Command::Seccomp(cmd) => command::bundled::seccomp(cmd),
        Command::Apparmor(cmd) => command::bundled::apparmor(cmd),
        Command::Completions(cmd) => command::completions::run(cmd, &command::env),
        Command::Man(cmd) => command::man::run(cmd, &command::env),
        Command::InstallPlugin(cmd) => command::install_plugin::run(cmd, &command::env),
        Command::Run(cmd) => {
            let mut inv = command::run::Invocation::new(
                |cwd| cmd.docker.to_request(cwd, &command::env),
                &cli.global,
                cli.quiet,
                verbosity(cli),
                false,
            )?;
            inv.verify = !cmd.verify.no_verify;
            inv.watch = cmd.watch.window;
            block_on(guarded(inv.execute()))
        }
        Command::Create(cmd) => {
            let inv = command::run::Invocation::new(
                |cwd| cmd.docker.to_request(cwd, &command::env),
                &cli.global,
                cli.quiet,
                verbosity(cli),
                true,
            )?;
            block_on(guarded(inv.execute()))
        }
        Command::Doctor(cmd) => block_on(command::doctor::run(cmd, &cli.global)),
        Command::Prune(cmd) => block_on(guarded(command::prune::run(cmd, &cli.global, cli.quiet))),
        Command::Audit(cmd) => block_on(command::audit::run(cmd, &cli.global)),
        Command::Compose(cmd) => block_on(command::compose::run(cmd, &cli.global, cli.quiet, verbosity(cli))),
        Command::Export(cli::ExportRunCommand::Kube(cmd)) => command::export::kube_run(cmd, &cli.global, cli.quiet),
        Command::Learn(cmd) => block_on(command::learn::run(cmd, &cli.global, cli.quiet)),
    }
}

fn verbosity(cli: &Cli) -> u8 {
    cli.v + cli.global.verbose
}

/// Runs engine work on a single-threaded runtime: hardrun does little at once, and a
/// small runtime starts fast.
fn block_on<T>(fut: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let out = rt.block_on(fut);
    // A blocking stdin read may still be pending; do not wait for it.
    rt.shutdown_background();
    out
}
