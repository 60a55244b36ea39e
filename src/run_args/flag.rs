//! One docker-run flag: its names, its help and how its value lands in a `RunRequest`.
//! The table of them (in `defs/`) is the single source for parsing, `--help`, the
//! generated docs/flags.md and shell completions.

use std::path::Path;

use crate::request::RunRequest;

/// How a flag takes values, following docker's pflag definitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    /// A boolean: `--rm`, `--rm=false`, `--rm=1`; never takes the next argument.
    Switch,
    /// One value; the last occurrence wins.
    One,
    /// Repeatable; every occurrence counts, in order.
    Many,
}

/// Help headings, so `hardrun run --help` reads like a map of what a container is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    Lifecycle,
    Process,
    Security,
    Network,
    Storage,
    Resources,
    Health,
}

impl Section {
    pub fn heading(self) -> &'static str {
        match self {
            Section::Lifecycle => "Lifecycle",
            Section::Process => "Process",
            Section::Security => "Security",
            Section::Network => "Network",
            Section::Storage => "Storage",
            Section::Resources => "Resources",
            Section::Health => "Health check",
        }
    }
}

/// What a flag's parser can read besides its value.
pub struct Context<'a> {
    /// The working directory relative bind sources resolve against.
    pub cwd: &'a Path,
    /// hardrun's environment, for `-e KEY` without a value.
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

/// Puts a flag's value into the request: a switch gets its final boolean; a `One` flag
/// its last value; a `Many` flag is called once per occurrence, in order.
#[derive(Clone, Copy)]
pub enum Apply {
    Switch(fn(&mut RunRequest, bool)),
    Value(fn(&mut RunRequest, &str, &Context) -> Result<(), String>),
}

type ValueFn = fn(&mut RunRequest, &str, &Context) -> Result<(), String>;

pub struct Flag {
    pub long: &'static str,
    pub short: Option<char>,
    /// Other spellings docker accepts and hides (`--net`, `--dns-opt`, `--net-alias`).
    pub aliases: &'static [&'static str],
    pub arity: Arity,
    pub value_name: &'static str,
    pub help: &'static str,
    pub section: Section,
    /// Only `docker run` has it (`-d`, `--sig-proxy`, `--detach-keys`), not `docker create`.
    pub run_only: bool,
    pub apply: Apply,
}

impl Flag {
    pub const fn switch(
        long: &'static str,
        help: &'static str,
        section: Section,
        apply: fn(&mut RunRequest, bool),
    ) -> Flag {
        let apply = Apply::Switch(apply);
        Flag {
            long,
            short: None,
            aliases: &[],
            arity: Arity::Switch,
            value_name: "",
            help,
            section,
            run_only: false,
            apply,
        }
    }

    pub const fn one(
        long: &'static str,
        value_name: &'static str,
        help: &'static str,
        section: Section,
        apply: ValueFn,
    ) -> Flag {
        let apply = Apply::Value(apply);
        Flag { long, short: None, aliases: &[], arity: Arity::One, value_name, help, section, run_only: false, apply }
    }

    pub const fn many(
        long: &'static str,
        value_name: &'static str,
        help: &'static str,
        section: Section,
        apply: ValueFn,
    ) -> Flag {
        let apply = Apply::Value(apply);
        Flag { long, short: None, aliases: &[], arity: Arity::Many, value_name, help, section, run_only: false, apply }
    }

    pub const fn short(mut self, c: char) -> Flag {
        self.short = Some(c);
        self
    }

    pub const fn aliases(mut self, aliases: &'static [&'static str]) -> Flag {
        self.aliases = aliases;
        self
    }

    pub const fn run_only(mut self) -> Flag {
        self.run_only = true;
        self
    }

    /// `--memory` or `-m/--memory`, for the docs.
    #[cfg(test)]
    pub fn display_name(&self) -> String {
        match self.short {
            Some(c) => format!("-{c}/--{}", self.long),
            None => format!("--{}", self.long),
        }
    }
}

/// Parses a switch value with Go's boolean grammar, naming the flag on error.
pub fn switch_value(flag: &str, value: &str) -> Result<bool, String> {
    crate::request::gobool::parse(value)
        .ok_or_else(|| format!("invalid argument {value:?} for --{flag}: expected true or false"))
}

impl std::fmt::Debug for Flag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "--{}", self.long)
    }
}
