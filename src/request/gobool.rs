//! Go's `strconv.ParseBool`, the grammar every docker boolean flag and option uses.

/// Parses a boolean exactly as Go's `strconv.ParseBool` does.
pub fn parse(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn accepts_go_spellings_only() {
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(parse(t), Some(true), "{t}");
        }
        for f in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse(f), Some(false), "{f}");
        }
        for bad in ["", "yes", "on", "tRUE", "2", " true"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
