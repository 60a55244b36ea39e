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

/// One line, whatever the fields hold: what was asked and why it is refused often quote
/// an image's metadata or a file's content, so control characters are escaped.
impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::sanitize::escape;
        write!(f, "refused {}: {}; {}", escape(&self.asked), escape(&self.why), escape(&self.fix))?;
        if let Some(key) = &self.profile_key {
            write!(f, " (or allow it with the profile key {})", escape(key))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_one_line_that_cannot_drive_the_terminal() {
        let r =
            Refusal::unless("image app:1 (label a\x1b]0;pwned\x07\nb)", "it \x1b[2Jleaks", "rebuild", "image.secrets");
        let shown = r.to_string();
        assert_eq!(
            shown,
            "refused image app:1 (label a\\x1b]0;pwned\\x07\\nb): it \\x1b[2Jleaks; rebuild (or allow it with the \
             profile key image.secrets)"
        );
    }
}
