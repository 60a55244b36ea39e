//! `hardrun seccomp` and `hardrun apparmor`: the bundled profiles listed and exported, and
//! a profile file checked as the run would judge it.

use anyhow::{Result, anyhow};

use crate::cli::ExportCommand;
use crate::{apparmor, bounded_file, seccomp};

pub fn seccomp(cmd: &ExportCommand) -> Result<i32> {
    export(cmd, seccomp::BUNDLED, "seccomp", bounded_file::SECCOMP_MAX, &|text| {
        let profile = seccomp::parse(text).map_err(|e| e.to_string())?;
        profile.validate().map_err(|e| e.to_string())?;
        for name in seccomp::ESCAPE_ROUTES {
            if profile.allows(name) == seccomp::Allowance::Unconditional {
                eprintln!(
                    "hardrun: warning: the profile allows {name} unconditionally, a common way out of a container"
                );
            }
        }
        Ok(())
    })
}

pub fn apparmor(cmd: &ExportCommand) -> Result<i32> {
    let check = |text: &str| apparmor::check_syntax(text).map_err(|e| e.to_string());
    export(cmd, apparmor::BUNDLED, "AppArmor", bounded_file::TEXT_MAX, &check)
}

/// `hardrun seccomp|apparmor export|list|check`.
fn export(
    cmd: &ExportCommand,
    bundled: &[(&str, &str)],
    what: &str,
    max: u64,
    check: &dyn Fn(&str) -> Result<(), String>,
) -> Result<i32> {
    match cmd {
        ExportCommand::Check { file } => {
            let text =
                bounded_file::read_text(file, max).map_err(|e| anyhow!("cannot read {}: {e}", file.display()))?;
            check(&text).map_err(|e| anyhow!("{}: {e}", file.display()))?;
            eprintln!("ok: {}", file.display());
        }
        ExportCommand::List => {
            for (name, _) in bundled {
                println!("{name}");
            }
        }
        ExportCommand::Export { name } => {
            let text = bundled.iter().find(|(n, _)| n == name).map(|(_, t)| *t).ok_or_else(|| {
                let names: Vec<&str> = bundled.iter().map(|(n, _)| *n).collect();
                anyhow!("no bundled {what} profile {name:?} (bundled: {})", names.join(", "))
            })?;
            print!("{text}");
        }
    }
    Ok(0)
}
