//! hardrun's failures and their exit codes, mapped to stderr in one place (`main`).
//!
//! Work returns `anyhow::Error`; the failures that carry their own exit code travel in it
//! as [`ExitError`], [`Interrupted`] or the policy's refusals, and [`Error::of`] sorts any
//! error into one [`Error`], whose [`Error::code`] is the exit code and whose
//! [`Error::report`] prints it, one line per problem, escaped.

use std::io::ErrorKind;

/// A failure with its own exit code: the container's (a `-d` start that died, a start
/// docker reports as 126 or 127), or a verification's 125 with its own message.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ExitError {
    pub code: i32,
    pub message: String,
}

/// A signal ended hardrun before the container was the user's: what it was doing, and
/// what became of what it had created.
#[derive(Debug, thiserror::Error)]
#[error("{signal} received while {phase}; {outcome}")]
pub struct Interrupted {
    pub signal: &'static str,
    pub number: i32,
    pub phase: &'static str,
    pub outcome: String,
}

/// Every way hardrun ends other than success.
#[derive(Debug)]
pub enum Error {
    /// The policy refused the request before anything was created: 125.
    Refused(Vec<String>),
    /// A code of its own (the container's, a failed start's, a verification's).
    Exit { code: i32, message: String },
    /// A signal: 128 plus its number (130 for SIGINT, 143 for SIGTERM).
    Interrupted { number: i32, message: String },
    /// The daemon or hardrun failed: docker's 125.
    Failed(String),
    /// Whoever read hardrun's output stopped reading (`| head`): quietly, 141, the code a
    /// shell reports for a process that SIGPIPE ended.
    BrokenPipe,
}

/// docker's exit code for its own failures.
pub const EXIT_FAILED: i32 = 125;
/// 128 + SIGPIPE.
pub const EXIT_BROKEN_PIPE: i32 = 141;

impl Error {
    /// Sorts a failure by what it carries.
    pub fn of(e: &anyhow::Error) -> Error {
        if let Some(i) = e.downcast_ref::<Interrupted>() {
            return Error::Interrupted { number: i.number, message: i.to_string() };
        }
        if let Some(x) = e.downcast_ref::<ExitError>() {
            return Error::Exit { code: x.code, message: x.message.clone() };
        }
        if let Some(refused) = e.downcast_ref::<crate::command::plan::Refused>() {
            return Error::Refused(refused.0.iter().map(|r| r.to_string()).collect());
        }
        let broken = |c: &(dyn std::error::Error + 'static)| {
            c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == ErrorKind::BrokenPipe)
                || c.downcast_ref::<serde_json::Error>()
                    .is_some_and(|j| j.io_error_kind() == Some(ErrorKind::BrokenPipe))
        };
        if e.chain().any(broken) && output_closed() {
            return Error::BrokenPipe;
        }
        // One line: the chain joined, no backtrace.
        let mut line = e.to_string();
        for cause in e.chain().skip(1) {
            line.push_str(&format!(": {cause}"));
        }
        Error::Failed(line)
    }

    pub fn code(&self) -> i32 {
        match self {
            Error::Refused(_) | Error::Failed(_) => EXIT_FAILED,
            Error::Exit { code, .. } => *code,
            Error::Interrupted { number, .. } => 128 + number,
            Error::BrokenPipe => EXIT_BROKEN_PIPE,
        }
    }

    /// The lines for stderr. hardrun's own messages quote foreign text already escaped
    /// (a start failure, a container's last output lines); any other failure is escaped
    /// here, so that nothing can drive the terminal or fake a line.
    pub fn lines(&self) -> Vec<String> {
        match self {
            Error::Refused(problems) => problems.iter().cloned().chain(["nothing was created".to_string()]).collect(),
            Error::Exit { message, .. } | Error::Interrupted { message, .. } => vec![message.clone()],
            Error::Failed(message) => vec![crate::sanitize::escape(message)],
            Error::BrokenPipe => Vec::new(),
        }
    }

    /// Prints the failure on stderr and returns the exit code.
    pub fn report(&self) -> i32 {
        use std::io::Write;
        let mut err = std::io::stderr().lock();
        for line in self.lines() {
            // stderr closed too: nothing more can be said.
            if writeln!(err, "hardrun: {line}").is_err() {
                break;
            }
        }
        self.code()
    }
}

/// Whether hardrun's stdout or stderr is a pipe or socket nobody reads any more: the
/// kernel flags its write end with an error (POLLERR) once the reader is gone.
pub fn output_closed() -> bool {
    [1, 2].into_iter().any(|fd| {
        let mut p = libc::pollfd { fd, events: 0, revents: 0 };
        // SAFETY: one valid pollfd, no wait.
        let n = unsafe { libc::poll(&mut p, 1, 0) };
        n == 1 && p.revents & (libc::POLLERR | libc::POLLHUP) != 0
    })
}

/// Writes `bytes` to stdout, whole; a closed stdout is [`Error::BrokenPipe`]'s case.
pub fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()?;
    Ok(())
}

/// Rust's printing macros panic when stdout or stderr is a closed pipe; as `panic =
/// "abort"` would end in SIGABRT and a backtrace, such a panic ends hardrun quietly with
/// [`EXIT_BROKEN_PIPE`] instead (any other panic keeps the default report).
pub fn exit_quietly_on_closed_output() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        let printing = text.starts_with("failed printing to std") || text.contains("Broken pipe");
        if printing && output_closed() {
            std::process::exit(EXIT_BROKEN_PIPE);
        }
        default(info);
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_has_its_exit_code() {
        let interrupted = anyhow::Error::from(Interrupted {
            signal: "SIGTERM",
            number: 15,
            phase: "creating the container",
            outcome: "nothing was left behind".into(),
        });
        let e = Error::of(&interrupted);
        assert_eq!(e.code(), 143);
        assert_eq!(e.lines(), ["SIGTERM received while creating the container; nothing was left behind"]);
        let exit = anyhow::Error::from(ExitError { code: 127, message: "exec: nope: not found".into() });
        assert_eq!(Error::of(&exit).code(), 127);
        let daemon = anyhow::anyhow!("Error response from daemon: \x1b[31mno\nsuch");
        let e = Error::of(&daemon);
        assert_eq!(e.code(), 125);
        assert_eq!(e.lines().len(), 1);
        assert!(!e.lines()[0].contains('\x1b') && !e.lines()[0].contains('\n'), "{:?}", e.lines());
        assert_eq!(Error::BrokenPipe.code(), 141);
        assert!(Error::BrokenPipe.lines().is_empty());
    }

    #[test]
    fn context_is_joined_into_one_line() {
        let e = anyhow::anyhow!("inner").context("outer");
        assert_eq!(Error::of(&e).lines(), ["outer: inner"]);
    }
}
