//! Image references: hardrun's parser against distribution/reference's grammar, written a
//! second time here as the regular expressions docker uses, with docker's normalisation
//! (ParseNormalizedNamed). Properties, for any text:
//! - the parse ends (in linear time; libFuzzer's timeout catches a loop);
//! - hardrun accepts exactly what docker accepts, less the two readings hardrun refuses
//!   on purpose (an image ID; a first part docker splits off as a registry that is not a
//!   valid host), and reads the same registry, path, tag and digest;
//! - what it accepts prints back (`familiar`) to text that parses to the same reference;
//! - an error is one line, with no control character.

#![no_main]

use std::sync::LazyLock;

use hardrun_fuzz::image::ImageRef;
use libfuzzer_sys::fuzz_target;
use regex::Regex;

/// The grammar, as regular expressions (ASCII classes: docker's `\w` is ASCII).
struct Grammar {
    reference: Regex,
    name: Regex,
    domain: Regex,
    identifier: Regex,
}

static GRAMMAR: LazyLock<Grammar> = LazyLock::new(|| {
    let alnum = "[a-z0-9]+";
    let separator = "(?:[._]|__|[-]+)";
    let component = format!("{alnum}(?:{separator}{alnum})*");
    let path = format!("{component}(?:/{component})*");
    let domain_component = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
    let host = format!(r"(?:{domain_component}(?:\.{domain_component})*|\[[a-fA-F0-9:]+\])");
    let domain = format!("{host}(?::[0-9]+)?");
    let tag = "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}";
    let digest = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
    let name = format!("(?:{domain}/)?{path}");
    Grammar {
        reference: Regex::new(&format!("^({name})(?::({tag}))?(?:@({digest}))?$")).unwrap(),
        name: Regex::new(&format!("^(?:({domain})/)?({path})$")).unwrap(),
        domain: Regex::new(&format!("^{domain}$")).unwrap(),
        identifier: Regex::new("^[a-f0-9]{64}$").unwrap(),
    }
});

/// What docker reads in `s`: (domain, path, tag, digest), or `None` when it refuses.
fn docker(s: &str) -> Option<(String, String, Option<String>, Option<String>)> {
    let g = &*GRAMMAR;
    if g.identifier.is_match(s) {
        return None;
    }
    // splitDockerDomain
    let (domain, mut remainder) = match s.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" || first.to_lowercase() != first => {
            (first.to_string(), rest.to_string())
        }
        _ => ("docker.io".to_string(), s.to_string()),
    };
    let domain = if domain == "index.docker.io" { "docker.io".to_string() } else { domain };
    if domain == "docker.io" && !remainder.contains('/') {
        remainder = format!("library/{remainder}");
    }
    let remote = remainder.split(':').next().unwrap_or_default();
    if remote.to_lowercase() != remote {
        return None;
    }
    let full = format!("{domain}/{remainder}");
    let caps = g.reference.captures(&full)?;
    let name = caps.get(1)?.as_str();
    if name.len() > 255 {
        return None;
    }
    let digest = caps.get(3).map(|m| m.as_str().to_string());
    if let Some(d) = &digest {
        // go-digest: a registered algorithm and its exact length of lowercase hex.
        let (algorithm, hex) = d.split_once(':')?;
        let len = match algorithm {
            "sha256" => 64,
            "sha384" => 96,
            "sha512" => 128,
            _ => return None,
        };
        if hex.len() != len || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
    }
    let parts = g.name.captures(name)?;
    let (read_domain, read_path) = (parts.get(1).map_or("", |m| m.as_str()), parts.get(2)?.as_str());
    Some((read_domain.to_string(), read_path.to_string(), caps.get(2).map(|m| m.as_str().to_string()), digest))
}

/// The readings hardrun refuses on purpose.
fn refused_on_purpose(s: &str) -> bool {
    let split_domain = s
        .split_once('/')
        .map(|(first, _)| first)
        .filter(|first| first.contains(['.', ':']) || *first == "localhost" || first.to_lowercase() != *first);
    let id = s.strip_prefix("sha256:").is_some_and(|hex| GRAMMAR.identifier.is_match(hex));
    id || split_domain.is_some_and(|d| d != "index.docker.io" && !GRAMMAR.domain.is_match(d))
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    match ImageRef::parse(s) {
        Ok(r) => {
            let seen = docker(s).unwrap_or_else(|| panic!("hardrun accepts {s:?}, docker does not"));
            assert!(!refused_on_purpose(s), "{s:?} should be refused");
            assert_eq!((r.domain.clone(), r.path.clone(), r.tag.clone(), r.digest.clone()), seen, "{s:?}");
            let again = ImageRef::parse(&r.familiar()).unwrap_or_else(|e| panic!("{s:?} prints as {}: {e}", r));
            assert_eq!(again, r, "{s:?} does not survive print and parse");
        }
        Err(e) => {
            assert!(!e.chars().any(char::is_control), "{e:?}");
            if let Some(seen) = docker(s) {
                assert!(refused_on_purpose(s), "docker reads {s:?} as {seen:?}, hardrun refuses it: {e}");
            }
        }
    }
});
