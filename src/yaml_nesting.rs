//! YAML from files hardrun does not control (profiles, Compose files), parsed with a bound
//! on its nesting. libyaml (under serde_yaml) spends time proportional to the open flow
//! collections on every token, so `[[[[...` 40,000 deep took seconds and 100,000 over a
//! minute. The nesting is measured first with the same scanner, which stops as soon as it
//! passes [`NESTING_MAX`], so a hostile file costs linear time.

use std::mem::MaybeUninit;

use serde::de::DeserializeOwned;
use unsafe_libyaml as unsafe_yaml;

/// The deepest nesting a file may have: a profile needs five levels, a Compose file
/// about eight.
pub const NESTING_MAX: usize = 32;

/// Why a text was not parsed.
#[derive(Debug)]
pub enum YamlError {
    /// Nested deeper than [`NESTING_MAX`]; the line where it went past.
    TooDeep {
        line: usize,
    },
    Parse(serde_yaml::Error),
}

impl std::fmt::Display for YamlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            YamlError::TooDeep { line } => {
                write!(f, "nested more than {NESTING_MAX} levels deep at line {line}; hardrun stops reading there")
            }
            YamlError::Parse(e) => write!(f, "{e}"),
        }
    }
}

impl YamlError {
    /// The 1-based line of the problem, when known.
    pub fn line(&self) -> Option<usize> {
        match self {
            YamlError::TooDeep { line } => Some(*line),
            YamlError::Parse(e) => e.location().map(|l| l.line()),
        }
    }
}

/// `text` as `T`, once its nesting is known to be within bounds.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    check_nesting(text)?;
    serde_yaml::from_str(text).map_err(YamlError::Parse)
}

/// Scans `text` with libyaml's own scanner, counting open block and flow collections,
/// and stops at the first that goes past [`NESTING_MAX`]. A text the scanner rejects is
/// left to serde_yaml, which reports the error with its line.
pub fn check_nesting(text: &str) -> Result<(), YamlError> {
    use unsafe_yaml::yaml_token_type_t::*;
    let mut parser = MaybeUninit::<unsafe_yaml::yaml_parser_t>::uninit();
    let parser = parser.as_mut_ptr();
    // SAFETY: the parser is initialised before use and deleted once; the input outlives
    // it (both end in this function); each token is deleted after it is read, and a
    // failed scan leaves a zeroed token, which is safe to delete.
    unsafe {
        if unsafe_yaml::yaml_parser_initialize(parser).fail {
            return Ok(());
        }
        unsafe_yaml::yaml_parser_set_input_string(parser, text.as_ptr(), text.len() as _);
        let mut depth = 0usize;
        let mut outcome = Ok(());
        loop {
            let mut token = MaybeUninit::<unsafe_yaml::yaml_token_t>::uninit();
            let token = token.as_mut_ptr();
            if unsafe_yaml::yaml_parser_scan(parser, token).fail {
                unsafe_yaml::yaml_token_delete(token);
                break;
            }
            let kind = (*token).type_;
            let line = (*token).start_mark.line as usize + 1;
            unsafe_yaml::yaml_token_delete(token);
            match kind {
                YAML_BLOCK_SEQUENCE_START_TOKEN
                | YAML_BLOCK_MAPPING_START_TOKEN
                | YAML_FLOW_SEQUENCE_START_TOKEN
                | YAML_FLOW_MAPPING_START_TOKEN => {
                    depth += 1;
                    if depth > NESTING_MAX {
                        outcome = Err(YamlError::TooDeep { line });
                        break;
                    }
                }
                YAML_BLOCK_END_TOKEN | YAML_FLOW_SEQUENCE_END_TOKEN | YAML_FLOW_MAPPING_END_TOKEN => {
                    depth = depth.saturating_sub(1)
                }
                YAML_STREAM_END_TOKEN => break,
                _ => {}
            }
        }
        unsafe_yaml::yaml_parser_delete(parser);
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// Texts nested `n` deep, each in its own way (the indented one is O(n²) long).
    fn deep(n: usize) -> Vec<String> {
        let mut texts = vec![
            format!("description: {}{}\n", "[".repeat(n), "]".repeat(n)),
            format!("description: {}1{}\n", "{a: ".repeat(n), "}".repeat(n)),
            format!("description: {}\n", "[".repeat(n)),
            format!("description:\n{}x\n", "- ".repeat(n)),
        ];
        if n < 1000 {
            texts.push((0..n).map(|i| format!("{}k{i}:\n", "  ".repeat(i))).collect());
        }
        texts
    }

    #[test]
    fn profiles_nest_a_few_levels() {
        for text in deep(NESTING_MAX - 1) {
            check_nesting(&text).unwrap_or_else(|e| panic!("{e}: {}", &text[..40.min(text.len())]));
        }
        let nested =
            "image:\n  scan: {scanner: trivy, fail_on: [HIGH]}\nresources:\n  ulimits:\n    nofile: {soft: 1}\n";
        let v: serde_yaml::Value = from_str(nested).unwrap();
        assert_eq!(v["image"]["scan"]["scanner"], "trivy");
    }

    #[test]
    fn deeper_nesting_is_refused_in_linear_time() {
        for text in deep(NESTING_MAX + 1) {
            assert!(matches!(check_nesting(&text), Err(YamlError::TooDeep { .. })), "{}", &text[..40]);
        }
        let start = Instant::now();
        for text in deep(100_000) {
            let e = from_str::<serde_yaml::Value>(&text).unwrap_err();
            assert!(e.to_string().contains("nested more than 32 levels"), "{e}");
        }
        assert!(start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());
    }

    #[test]
    fn brackets_in_strings_and_comments_do_not_count() {
        let text = format!(
            "description: \"{}\" # {}\nuser: {{default: '{}'}}\nx: |\n  {}\n",
            "[".repeat(100),
            "{".repeat(100),
            "[".repeat(100),
            "[".repeat(100)
        );
        check_nesting(&text).unwrap();
    }

    #[test]
    fn syntax_errors_are_left_to_serde_yaml_with_their_line() {
        let e = from_str::<serde_yaml::Value>("a: 1\nb: [\n").unwrap_err();
        assert!(matches!(e, YamlError::Parse(_)));
        assert!(e.line().is_some());
    }
}
