//! `Refusal`: one request hardrun will not carry out, said in one line: what was asked,
//! why it is dangerous, and how to get what was wanted safely.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The flag or value as asked (`--privileged`, `-v /:/host`).
    pub asked: String,
    pub why: String,
    pub fix: String,
    /// The profile key that would allow it, when a profile can.
    pub profile_key: Option<String>,
}

impl Refusal {
    /// Refused whatever any profile says.
    pub fn never(asked: impl Into<String>, why: impl Into<String>, fix: impl Into<String>) -> Refusal {
        Refusal { asked: asked.into(), why: why.into(), fix: fix.into(), profile_key: None }
    }

    /// Refused by this profile; `key` is what would allow it.
    pub fn unless(asked: impl Into<String>, why: impl Into<String>, fix: impl Into<String>, key: &str) -> Refusal {
        Refusal { asked: asked.into(), why: why.into(), fix: fix.into(), profile_key: Some(key.into()) }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "refused {}: {}; {}", self.asked, self.why, self.fix)?;
        if let Some(key) = &self.profile_key {
            write!(f, " (or allow it with the profile key {key})")?;
        }
        Ok(())
    }
}
