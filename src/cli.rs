//! The command line: hardrun's commands and global options. The docker-run flags
//! themselves come from the table in `run_args`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::run_args::{CreateFlags, RunFlags};

#[derive(Debug, Parser)]
#[command(
    name = "hardrun",
    version,
    about = "A hardened drop-in for `docker run`",
    long_about = "A hardened drop-in for `docker run`: the same flags, a hardening profile merged in, and \
                  every route that weakens isolation refused with the reason and the safe alternative.",
    propagate_version = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    /// Less output (before the command: `hardrun -q run ...`)
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// More output, e.g. what was verified (before the command: `hardrun -v run ...`)
    #[arg(short = 'v', action = clap::ArgAction::Count)]
    pub v: u8,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes, before or after the command name.
#[derive(Debug, Clone, Args, Default)]
pub struct Global {
    /// Hardening profile to apply
    #[arg(long, global = true, value_name = "NAME", env = "HARDRUN_PROFILE")]
    pub profile: Option<String>,
    /// Hardening profile file to apply (instead of --profile)
    #[arg(long, global = true, value_name = "PATH")]
    pub profile_file: Option<PathBuf>,
    /// More output (also -v before the command)
    #[arg(long = "verbose", global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Daemon socket to connect to (unix:///path or tcp://host:port)
    #[arg(short = 'H', long = "host", global = true, value_name = "HOST")]
    pub host: Option<String>,
    /// Docker context to use (overrides DOCKER_HOST and the current context)
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// Use TLS; implied by --tlsverify
    #[arg(long, global = true)]
    pub tls: bool,
    /// Use TLS and verify the daemon's certificate
    #[arg(long, global = true)]
    pub tlsverify: bool,
    /// Trust certs signed only by this CA
    #[arg(long, global = true, value_name = "FILE")]
    pub tlscacert: Option<PathBuf>,
    /// TLS certificate file
    #[arg(long, global = true, value_name = "FILE")]
    pub tlscert: Option<PathBuf>,
    /// TLS key file
    #[arg(long, global = true, value_name = "FILE")]
    pub tlskey: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create and run a hardened container (docker run's flags)
    #[command(args_override_self = true)]
    Run(RunCommand),
    /// Create a hardened container without starting it (docker create's flags)
    #[command(args_override_self = true)]
    Create(CreateCommand),
    /// Show what `run` would do: each control, its value and where it came from
    #[command(args_override_self = true)]
    Plan(PlanCommand),
    /// Check images against the profile's image policy
    #[command(subcommand)]
    Image(ImageCommand),
    /// List, show and validate hardening profiles
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// Export, list and check seccomp profiles (JSON)
    #[command(subcommand)]
    Seccomp(ExportCommand),
    /// Export, list and check AppArmor profiles
    #[command(subcommand)]
    Apparmor(ExportCommand),
    /// Print shell completions (bash, zsh, fish...), or install them with --install
    Completions(CompletionsCommand),
    /// Print hardrun's manual page (roff), or install the pages with --install
    Man(ManCommand),
    /// Install hardrun as a docker CLI plugin, so `docker hardrun run ...` works
    InstallPlugin(InstallPluginCommand),
    /// Report how the Docker daemon is set up: what protects the host, what is missing, how to fix it
    Doctor(DoctorCommand),
    /// Remove containers that hardrun runs killed before start left behind (never started,
    /// their hardrun process gone); nothing else is touched
    Prune(PruneCommand),
    /// Check running containers against the profile (CIS Docker Benchmark section 5); exit 1 on findings
    Audit(AuditCommand),
    /// Harden a Compose project: print the hardened file, run Compose with it, export it
    Compose(ComposeCommand),
    /// Turn a `hardrun run` command line into manifests for another orchestrator
    #[command(subcommand)]
    Export(ExportRunCommand),
    /// Run an image under observation and print a profile for what it needed (extends
    /// --profile); with --check, run it under a profile and say whether it works
    #[command(args_override_self = true)]
    Learn(LearnCommand),
}

#[derive(Debug, Args)]
pub struct CompletionsCommand {
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
    /// Write them where the shell loads them from (bash, zsh and fish), instead of printing
    #[arg(long)]
    pub install: bool,
}

#[derive(Debug, Args)]
pub struct ManCommand {
    /// The command whose page to print (`run` prints hardrun-run(1)); the main page without
    #[arg(value_name = "COMMAND")]
    pub command: Option<String>,
    /// Write every page into DIR/man1 (default: ~/.local/share/man), instead of printing
    #[arg(long)]
    pub install: bool,
    /// The manual folder for --install
    #[arg(long, value_name = "DIR", requires = "install")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InstallPluginCommand {
    /// The docker CLI's plugin folder (default: $DOCKER_CONFIG/cli-plugins, else ~/.docker/cli-plugins)
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Copy the binary instead of linking to it
    #[arg(long)]
    pub copy: bool,
    /// Replace a docker-hardrun that is not a link to this binary
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct LearnCommand {
    /// A command run on this machine until it succeeds, to drive the service while it is
    /// observed (e.g. 'curl -fsS http://127.0.0.1:8080/')
    #[arg(long, value_name = "CMD", help_heading = "hardrun")]
    pub probe: Option<String>,
    /// How long the service runs (and the probe is retried)
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_window, help_heading = "hardrun")]
    pub duration: std::time::Duration,
    /// Run the image hardened under this profile file instead, and say whether it works
    /// (exit 0) or not (exit 1, with a diagnosis)
    #[arg(long, value_name = "PROFILE", help_heading = "hardrun")]
    pub check: Option<PathBuf>,
    #[command(flatten)]
    pub docker: RunFlags,
}

#[derive(Debug, Args)]
pub struct RunCommand {
    #[command(flatten)]
    pub verify: VerifyArgs,
    #[command(flatten)]
    pub watch: WatchArgs,
    #[command(flatten)]
    pub docker: RunFlags,
}

#[derive(Debug, Args)]
pub struct CreateCommand {
    #[command(flatten)]
    pub docker: CreateFlags,
}

#[derive(Debug, Args, Clone, Copy)]
pub struct VerifyArgs {
    /// Run the command without hardrun-init checking the kernel first
    #[arg(long = "no-verify", help_heading = "hardrun")]
    pub no_verify: bool,
    /// Have hardrun-init check in the kernel that the hardening is in force before the command runs (the default)
    #[arg(long = "verify", overrides_with = "no_verify", help_heading = "hardrun")]
    pub verify: bool,
}

#[derive(Debug, Args, Clone, Copy)]
pub struct WatchArgs {
    /// Watch the container this long after start (in -d and in the foreground); if it
    /// exits or restarts meanwhile, report its exit code, last output and a diagnosis
    /// (0 turns it off)
    #[arg(long = "watch", value_name = "DURATION", default_value = "2s", value_parser = parse_window, help_heading = "hardrun")]
    pub window: std::time::Duration,
}

fn parse_window(s: &str) -> Result<std::time::Duration, String> {
    match crate::request::duration::parse_nanos(s) {
        Some(n) if n >= 0 => Ok(std::time::Duration::from_nanos(n as u64)),
        _ => Err(format!("--watch {s:?}: expected a duration such as 2s, 500ms or 0")),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum PlanFormat {
    /// For people: control, value, source
    #[default]
    Table,
    /// The Engine API create body, the name, and the decisions
    Json,
    /// The equivalent `docker run` command line
    Docker,
}

#[derive(Debug, Args)]
pub struct PlanCommand {
    /// Output format
    #[arg(long, value_enum, default_value_t = PlanFormat::Table, help_heading = "hardrun")]
    pub format: PlanFormat,
    /// Print the image reference pinned to its digest (asks the daemon), and nothing else
    #[arg(long, help_heading = "hardrun")]
    pub pin: bool,
    /// Decide from the flags and the profile alone, without asking the daemon (the
    /// image's user, its folders, volumes and networks are then not checked)
    #[arg(long, help_heading = "hardrun")]
    pub offline: bool,
    #[command(flatten)]
    pub docker: RunFlags,
}

/// Output format of `doctor`, `audit` and `image check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ReportFormat {
    /// For people: one line per check or finding
    #[default]
    Table,
    /// For programs
    Json,
}

#[derive(Debug, Args)]
pub struct PruneCommand {
    /// List what would be removed, remove nothing
    #[arg(short = 'n', long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct DoctorCommand {
    /// Output format
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
}

#[derive(Debug, Args)]
pub struct AuditCommand {
    /// Containers to audit, by name or ID (default: every running container)
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
}

#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// List the profiles on the search path
    List,
    /// Print a profile
    Show {
        name: String,
        /// With every `extends` applied, each value annotated with the file it came from
        #[arg(long)]
        resolved: bool,
    },
    /// Check profile files: syntax, keys, values, extends
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Trust profile files in the project folder (./.hardrun/profiles), as they are now,
    /// with the seccomp file each names; a file that changes is untrusted again
    Trust {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Stop trusting profile files
    Untrust {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Print the bundled profile NAME
    Export { name: String },
    /// List the bundled profiles
    List,
    /// Check a profile file you wrote (AppArmor: compiled with apparmor_parser, not loaded)
    Check { file: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Run the image gate alone (what `run` checks before creating anything) and report
    /// each check with the profile key that governs it; exits 1 when the image is refused
    Check(ImageCheckCommand),
    /// Verify the image's cosign signature with the profile's keys (image.signatures) and
    /// show the verdict: the digest and the key that signed it; exits 1 when not verified
    Verify(ImageVerifyCommand),
}

#[derive(Debug, Args)]
pub struct ImageVerifyCommand {
    /// Output format
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
    /// The image, as `run` takes it ([REGISTRY/]NAME[:TAG][@DIGEST]); a tag is resolved
    /// through the registry
    pub image: String,
}

#[derive(Debug, Args)]
pub struct ImageCheckCommand {
    /// Output format
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
    /// Pull the image: missing (when not local), always, never
    #[arg(long, value_name = "POLICY", default_value = "missing", value_parser = ["missing", "always", "never"])]
    pub pull: String,
    /// The image, as `run` takes it ([REGISTRY/]NAME[:TAG][@DIGEST])
    pub image: String,
}

#[derive(Debug, Args)]
pub struct ComposeCommand {
    /// Compose file (repeat to merge; default: compose.yaml or docker-compose.yml and its override)
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Project name (default: COMPOSE_PROJECT_NAME, the file's name:, or the directory's name)
    #[arg(short = 'p', long = "project-name", value_name = "NAME")]
    pub project_name: Option<String>,
    /// Project directory (default: the first file's directory)
    #[arg(long, value_name = "DIR")]
    pub project_directory: Option<PathBuf>,
    #[command(subcommand)]
    pub action: ComposeAction,
}

/// Which Compose reads the hardened file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ComposeVersion {
    /// docker-compose 1.27 to 1.29
    #[value(name = "1")]
    V1,
    /// `docker compose` (v2)
    #[value(name = "2")]
    V2,
}

#[derive(Debug, Subcommand)]
pub enum ComposeAction {
    /// Print the hardened Compose file (every service through the same policy as `run`)
    Config {
        /// Write it to FILE instead of standard output
        #[arg(short = 'o', long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Write it for this Compose (default: the one installed)
        #[arg(long = "compose-version", value_enum, value_name = "VERSION")]
        compose_version: Option<ComposeVersion>,
    },
    /// Harden, gate every image, start the project with Compose, and verify each container
    Up {
        /// Leave the services running in the background
        #[arg(short = 'd', long)]
        detach: bool,
        /// Skip reading back what the kernel enforces in each started container
        #[arg(long = "no-verify")]
        no_verify: bool,
        /// Services to start (default: all)
        #[arg(value_name = "SERVICE")]
        services: Vec<String>,
    },
    /// Stop and remove the project's containers and networks (Compose's own `down`)
    Down(PassThrough),
    /// List the project's containers (Compose's own `ps`)
    Ps(PassThrough),
    /// Show the services' output (Compose's own `logs`)
    Logs(PassThrough),
    /// Export the project to another orchestrator
    #[command(subcommand)]
    Export(ComposeExport),
}

/// Arguments handed to Compose as they are.
#[derive(Debug, Args)]
pub struct PassThrough {
    /// Compose's own options and arguments for this command
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "ARGS")]
    pub args: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum ComposeExport {
    /// Kubernetes manifests meeting Pod Security "restricted"
    Kube(KubeArgs),
}

#[derive(Debug, Subcommand)]
pub enum ExportRunCommand {
    /// Kubernetes manifests meeting Pod Security "restricted", from `run`'s flags
    #[command(args_override_self = true)]
    Kube(KubeRunCommand),
}

#[derive(Debug, Args)]
pub struct KubeRunCommand {
    #[command(flatten)]
    pub kube: KubeArgs,
    #[command(flatten)]
    pub docker: RunFlags,
}

/// The workload object that runs the pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum KubeKind {
    #[default]
    Deployment,
    Pod,
}

/// How the pod's seccomp profile is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum KubeSeccomp {
    /// The container runtime's default profile (works on every cluster)
    #[default]
    RuntimeDefault,
    /// hardrun's bundled profile, installed on each node (hardrun seccomp export NAME)
    Localhost,
    /// hardrun's bundled profile as a security-profiles-operator SeccompProfile object
    Operator,
}

#[derive(Debug, Args, Clone)]
pub struct KubeArgs {
    /// Workload kind
    #[arg(long, value_enum, default_value_t = KubeKind::Deployment, help_heading = "hardrun")]
    pub kind: KubeKind,
    /// Seccomp profile of the pods
    #[arg(long, value_enum, default_value_t = KubeSeccomp::RuntimeDefault, help_heading = "hardrun")]
    pub seccomp: KubeSeccomp,
    /// Namespace for the objects (default: none, kubectl's current)
    #[arg(long, value_name = "NAMESPACE", help_heading = "hardrun")]
    pub namespace: Option<String>,
}
