//! The docker-run flag table, one file per help section. Each flag is one small unit:
//! its names, its help and its parsing together, with tests beside it.

mod health;
mod lifecycle;
mod network;
mod process;
mod resources;
mod security;
mod storage;

use super::flag::Flag;

/// Every docker-run flag hardrun understands, in help order.
pub fn all() -> impl Iterator<Item = &'static Flag> {
    [lifecycle::FLAGS, process::FLAGS, security::FLAGS, network::FLAGS, storage::FLAGS, resources::FLAGS, health::FLAGS]
        .into_iter()
        .flatten()
}

/// Value helpers shared by the sections: each names the flag in its error.
pub(super) mod value {
    use crate::request::size;

    pub fn int(flag: &str, v: &str) -> Result<i64, String> {
        v.parse::<i64>().map_err(|_| format!("invalid argument {v:?} for --{flag}: expected a whole number"))
    }

    pub fn bytes(flag: &str, v: &str) -> Result<i64, String> {
        size::parse_bytes(v)
            .ok_or_else(|| format!("invalid argument {v:?} for --{flag}: expected a size such as 512m, 1g or 1048576"))
    }

    pub fn nonempty(flag: &str, v: &str) -> Result<String, String> {
        if v.is_empty() { Err(format!("--{flag} needs a value")) } else { Ok(v.to_string()) }
    }
}

#[cfg(test)]
pub(super) mod testing {
    use crate::request::RunRequest;

    /// Parses `hardrun run ARGS...` the whole way (clap, table, request), from a fixed
    /// working directory and environment so tests do not depend on the machine.
    pub fn parse(args: &[&str]) -> Result<RunRequest, String> {
        super::super::parse_for_test(args)
    }

    pub fn ok(args: &[&str]) -> RunRequest {
        parse(args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    pub fn err(args: &[&str]) -> String {
        match parse(args) {
            Ok(r) => panic!("{args:?} parsed: {r:?}"),
            Err(e) => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    #[test]
    fn names_are_unique() {
        let mut seen = HashSet::new();
        for f in super::all() {
            for name in std::iter::once(f.long).chain(f.aliases.iter().copied()) {
                assert!(seen.insert(name.to_string()), "--{name} twice");
            }
            if let Some(c) = f.short {
                assert!(seen.insert(c.to_string()), "-{c} twice");
            }
            assert!(!f.help.is_empty() && !f.help.ends_with('.'), "--{}: help should be a short phrase", f.long);
        }
    }
}
