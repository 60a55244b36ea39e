//! Secrets baked into an image: values under secret-like names, and strings in
//! well-known key formats, in `Config.Env`, `Config.Labels` and each layer's history.
//! Anyone who can pull the image can read all three, so a secret there is leaked.
//! Values are never shown: a finding carries a masked form only.

use std::collections::BTreeMap;
use std::fmt;

/// Where a secret was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    Env(String),
    Label(String),
    /// A history entry, counted from 1 at the base (the order a Dockerfile reads).
    Layer(usize),
}

/// The longest env name or label key a message repeats.
const NAME_SHOWN: usize = 120;

/// An env name or label key from the image, safe to print: escaped, bounded.
fn shown(name: &str) -> String {
    crate::sanitize::line(name, NAME_SHOWN)
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Env(name) => write!(f, "env {}", shown(name)),
            Place::Label(key) => write!(f, "label {}", shown(key)),
            Place::Layer(n) => write!(f, "layer {n}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    pub place: Place,
    /// What it looks like: `an AWS access key ID`, or `a value under the secret-like name DB_PASSWORD`.
    pub kind: String,
    /// The value with everything but a format's public prefix hidden.
    pub masked: String,
}

/// Every secret in the image's environment, labels and history (`created_by`, oldest first).
pub fn find(env: &[String], labels: &BTreeMap<String, String>, history: &[String]) -> Vec<Secret> {
    let mut out = Vec::new();
    for entry in env {
        let (name, value) = entry.split_once('=').unwrap_or((entry, ""));
        if let Some((kind, masked)) = judge_pair(name, value) {
            out.push(Secret { place: Place::Env(name.to_string()), kind, masked });
        }
    }
    for (key, value) in labels {
        if let Some((kind, masked)) = judge_pair(key, value) {
            out.push(Secret { place: Place::Label(key.clone()), kind, masked });
        }
    }
    for (i, created_by) in history.iter().enumerate() {
        let place = Place::Layer(i + 1);
        let mut found: Vec<(String, String)> = Vec::new();
        for (name, value) in assignments(created_by) {
            if secret_like_name(name) && !value.is_empty() && formats(value).is_empty() {
                found.push((format!("a value under the secret-like name {}", shown(name)), mask(value, "")));
            }
        }
        for (kind, prefix, text) in formats(created_by) {
            found.push((kind.to_string(), mask(text, prefix)));
        }
        let mut seen = std::collections::HashSet::new();
        for (kind, masked) in found {
            if seen.len() < MAX_PER_LAYER && seen.insert((kind.clone(), masked.clone())) {
                out.push(Secret { place: place.clone(), kind, masked });
            }
        }
    }
    out
}

/// A `NAME=value` pair (env, label): a known format in the value, else a secret-like name
/// with a value.
fn judge_pair(name: &str, value: &str) -> Option<(String, String)> {
    if let Some((kind, prefix, text)) = formats(value).into_iter().next() {
        return Some((kind.to_string(), mask(text, prefix)));
    }
    (secret_like_name(name) && !value.trim().is_empty())
        .then(|| (format!("a value under the secret-like name {}", shown(name)), mask(value, "")))
}

/// The value hidden: the format's public prefix (`AKIA`, `ghp_`) and the length.
pub fn mask(value: &str, prefix: &str) -> String {
    format!("{prefix}****** ({} chars)", value.chars().count())
}

/// Name parts, upper-cased: `dbPassword` → DB PASSWORD; `com.example.api-key` → COM EXAMPLE API KEY.
fn tokens(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        cur.push(c.to_ascii_uppercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Name parts that make a name secret-like on their own.
const SECRET_WORDS: [&str; 11] = [
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "SECRET",
    "SECRETS",
    "TOKEN",
    "TOKENS",
    "APIKEY",
    "CREDENTIAL",
    "CREDENTIALS",
    "PRIVATEKEY",
];

/// Pairs of adjacent parts that do (`API_KEY`, `PRIVATE_KEY`, `ACCESS_KEY`).
const SECRET_PAIRS: [(&str, &str); 4] = [("API", "KEY"), ("PRIVATE", "KEY"), ("ACCESS", "KEY"), ("AUTH", "KEY")];

/// A last part that makes the name point at a secret rather than hold one
/// (`POSTGRES_PASSWORD_FILE=/run/secrets/db` is the safe pattern).
const REFERENCE_WORDS: [&str; 5] = ["FILE", "FILES", "PATH", "DIR", "NAME"];

/// `AWS_*` settings that are configuration, not credentials.
const AWS_SETTINGS: [&str; 14] = [
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_DEFAULT_OUTPUT",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CA_BUNDLE",
    "AWS_ENDPOINT_URL",
    "AWS_RETRY_MODE",
    "AWS_MAX_ATTEMPTS",
    "AWS_PAGER",
    "AWS_SDK_LOAD_CONFIG",
    "AWS_ROLE_SESSION_NAME",
];

pub fn secret_like_name(name: &str) -> bool {
    let t = tokens(name);
    if t.last().is_some_and(|last| REFERENCE_WORDS.contains(&last.as_str())) {
        return false;
    }
    if t.first().is_some_and(|first| first == "AWS") {
        return !AWS_SETTINGS.iter().any(|s| s.eq_ignore_ascii_case(name));
    }
    t.iter().any(|w| SECRET_WORDS.contains(&w.as_str()))
        || t.windows(2).any(|w| SECRET_PAIRS.iter().any(|(a, b)| w[0] == *a && w[1] == *b))
}

/// `NAME=value` assignments in a history line: `ENV`/`ARG` instructions, build arguments
/// (`|2 NPM_TOKEN=abc /bin/sh -c ...`), `export X=y` in a RUN. Quotes around the value go.
fn assignments(line: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    for word in line.split_whitespace() {
        let Some((name, value)) = word.split_once('=') else { continue };
        let name = name.trim_start_matches(['-', '"', '\'', '(', ';', '&', '|']);
        let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-');
        if valid {
            out.push((name, value.trim_matches(['"', '\'', ';'])));
        }
    }
    out
}

/// Findings reported per history entry: enough to act on, few enough to read.
const MAX_PER_LAYER: usize = 10;

/// How far a match may reach, so a long hostile string costs linear time.
const MAX_TOKEN: usize = 256;
const MAX_PEM: usize = 16 * 1024;

/// Strings in a well-known key format: (what it is, its public prefix, the match).
pub fn formats(text: &str) -> Vec<(&'static str, &str, &str)> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let boundary = |i: usize| i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
    let run = |from: usize, cap: usize, ok: &dyn Fn(u8) -> bool| {
        bytes.get(from..).unwrap_or_default().iter().take(cap).take_while(|b| ok(**b)).count()
    };
    let upper_digit = |b: u8| b.is_ascii_uppercase() || b.is_ascii_digit();
    for i in 0..bytes.len() {
        if !text.is_char_boundary(i) || !boundary(i) {
            continue;
        }
        let rest = &text[i..];
        // AWS access key IDs: AKIA (long-term) or ASIA (temporary) and 16 more.
        for prefix in ["AKIA", "ASIA"] {
            if rest.starts_with(prefix) && run(i + 4, 17, &upper_digit) == 16 {
                out.push(("an AWS access key ID", &text[i..i + 4], &text[i..i + 20]));
            }
        }
        for prefix in ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"] {
            if rest.starts_with(prefix) {
                let n = run(i + 4, MAX_TOKEN, &|b: u8| b.is_ascii_alphanumeric());
                if n >= 36 {
                    out.push(("a GitHub token", &text[i..i + 4], &text[i..i + 4 + n]));
                }
            }
        }
        if rest.starts_with("github_pat_") {
            let n = run(i + 11, MAX_TOKEN, &|b: u8| b.is_ascii_alphanumeric() || b == b'_');
            if n >= 22 {
                out.push(("a GitHub token", &text[i..i + 11], &text[i..i + 11 + n]));
            }
        }
        if rest.len() > 5 && rest.starts_with("xox") && b"bpars".contains(&bytes[i + 3]) && bytes[i + 4] == b'-' {
            let n = run(i + 5, MAX_TOKEN, &|b: u8| b.is_ascii_alphanumeric() || b == b'-');
            if n >= 10 {
                out.push(("a Slack token", &text[i..i + 5], &text[i..i + 5 + n]));
            }
        }
        if let Some((header, key)) = pem_private_key(rest) {
            out.push(("a PEM private key", &rest[..header], &rest[..key]));
        }
        if let Some((user_end, end)) = url_password(rest) {
            out.push(("a URL with a password", &rest[..user_end], &rest[..end]));
        }
    }
    out
}

/// Where `needle` starts within the first `cap` bytes of `haystack`, if it does.
fn find_within(haystack: &str, needle: &str, cap: usize) -> Option<usize> {
    let mut end = haystack.len().min(cap);
    while !haystack.is_char_boundary(end) {
        end -= 1;
    }
    haystack[..end].find(needle)
}

/// `-----BEGIN ... PRIVATE KEY-----` at the start of `s`: where the header ends (it
/// names the kind and is shown) and where the key ends.
fn pem_private_key(s: &str) -> Option<(usize, usize)> {
    let label = s.strip_prefix("-----BEGIN ")?;
    let end = find_within(label, "-----", 64)?;
    if !label[..end].ends_with("PRIVATE KEY") {
        return None;
    }
    let header = "-----BEGIN ".len() + end + 5;
    let mut key = find_within(s, "-----END ", MAX_PEM).unwrap_or(s.len().min(MAX_PEM)).max(header);
    while !s.is_char_boundary(key) {
        key -= 1;
    }
    Some((header, key))
}

/// `scheme://user:password@host` at the start of `s`: where `scheme://user:` ends, and
/// where the authority (up to the host and port) ends.
fn url_password(s: &str) -> Option<(usize, usize)> {
    let scheme_len = s.bytes().take(33).take_while(|b| b.is_ascii_alphanumeric() || b"+.-".contains(b)).count();
    if scheme_len == 0 || scheme_len > 32 || !s[scheme_len..].starts_with("://") {
        return None;
    }
    let after = &s[scheme_len + 3..];
    let authority_end = after
        .bytes()
        .take(MAX_TOKEN)
        .position(|b| b == b'/' || b.is_ascii_whitespace() || b == b'"' || b == b'\'')
        .unwrap_or(after.len().min(MAX_TOKEN));
    let authority = after.get(..authority_end)?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (user, password) = userinfo.split_once(':')?;
    (!password.is_empty()).then_some((scheme_len + 3 + user.len() + 1, scheme_len + 3 + authority_end))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Test values are put together at run time, so no scanner mistakes this file for a leak.
    fn aws() -> String {
        format!("AKIA{}", "IOSFODNN7EXAMPLE")
    }

    fn ghp() -> String {
        format!("ghp_{}", "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8")
    }

    #[test]
    fn names() {
        for n in [
            "PASSWORD",
            "DB_PASSWORD",
            "MYSQL_ROOT_PASSWORD",
            "GITHUB_TOKEN",
            "api_key",
            "ApiKey",
            "STRIPE_API_KEY",
            "SECRET_KEY_BASE",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_ACCESS_KEY_ID",
            "AWS_SESSION_TOKEN",
            "PRIVATE_KEY",
            "com.example.deploy-token",
            "dbPassword",
            "GOOGLE_APPLICATION_CREDENTIALS_JSON",
        ] {
            assert!(secret_like_name(n), "{n}");
        }
        for n in [
            "PATH",
            "PWD",
            "GPG_KEY",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "POSTGRES_PASSWORD_FILE",
            "TOKEN_PATH",
            "NGINX_VERSION",
            "PASSENGER",
            "org.opencontainers.image.source",
            "KEYCLOAK_ADMIN",
        ] {
            assert!(!secret_like_name(n), "{n}");
        }
    }

    #[test]
    fn formats_are_found_anywhere_and_only_whole() {
        let text = format!("x {} y", aws());
        assert_eq!(formats(&text), vec![("an AWS access key ID", "AKIA", aws().as_str())]);
        assert!(formats(&format!("X{}", aws())).is_empty(), "inside a longer word");
        assert!(formats(&format!("{}Z", aws())).is_empty(), "longer than a key ID");
        assert_eq!(formats(&ghp())[0].0, "a GitHub token");
        let pat = format!("github_pat_{}", "11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz");
        assert_eq!(formats(&pat)[0].1, "github_pat_");
        let slack = format!("xoxb-{}", "1234567890-0987654321-AbCdEfGh");
        assert_eq!(formats(&slack)[0], ("a Slack token", "xoxb-", slack.as_str()));
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----";
        assert_eq!(formats(pem)[0].0, "a PEM private key");
        assert!(formats("-----BEGIN CERTIFICATE-----").is_empty(), "certificates are public");
        assert_eq!(formats("postgres://app:hunter2@db:5432/app")[0].2, "postgres://app:hunter2@db:5432");
        for clean in ["http://example.com/a:b@c", "https://user@host/", "AKIA", "ghp_short", "xoxb-1"] {
            assert!(formats(clean).is_empty(), "{clean}");
        }
    }

    #[test]
    fn hostile_strings_cost_linear_time() {
        let start = std::time::Instant::now();
        for unit in ["xoxb-", "a://", "-----BEGIN PRIVATE KEY-----", "a.", "ghp_", "é"] {
            let text = unit.repeat(200_000 / unit.len());
            formats(&text);
            let found = find(&[format!("TOKEN={text}")], &BTreeMap::new(), std::slice::from_ref(&text));
            assert!(found.len() <= 1 + MAX_PER_LAYER, "{unit}: {}", found.len());
        }
        // Quadratic work on 200 kB would take minutes; linear takes about a second in debug.
        assert!(start.elapsed() < std::time::Duration::from_secs(30), "{:?}", start.elapsed());
    }

    #[test]
    fn finds_and_masks_in_every_place() {
        let env = vec![
            "PATH=/usr/bin:/bin".to_string(),
            format!("AWS_ACCESS_KEY_ID={}", aws()),
            "DB_PASSWORD=hunter2".to_string(),
            "EMPTY_TOKEN=".to_string(),
            "POSTGRES_PASSWORD_FILE=/run/secrets/db".to_string(),
        ];
        let labels = BTreeMap::from([
            ("com.example.deploy-token".to_string(), ghp()),
            ("maintainer".to_string(), "ops@example.com".to_string()),
        ]);
        let history = vec![
            "/bin/sh -c #(nop) ADD file:abc in / ".to_string(),
            "|1 NPM_TOKEN=npm_s3cr3tvalue /bin/sh -c npm ci".to_string(),
            format!("/bin/sh -c echo {} > /root/.aws/credentials", aws()),
        ];
        let found = find(&env, &labels, &history);
        let shown: Vec<String> = found.iter().map(|s| format!("{}: {} = {}", s.place, s.kind, s.masked)).collect();
        assert_eq!(
            shown,
            [
                "env AWS_ACCESS_KEY_ID: an AWS access key ID = AKIA****** (20 chars)",
                "env DB_PASSWORD: a value under the secret-like name DB_PASSWORD = ****** (7 chars)",
                "label com.example.deploy-token: a GitHub token = ghp_****** (40 chars)",
                "layer 2: a value under the secret-like name NPM_TOKEN = ****** (15 chars)",
                "layer 3: an AWS access key ID = AKIA****** (20 chars)",
            ]
        );
        for s in &found {
            assert!(!s.masked.contains("hunter2") && !s.masked.contains("IOSFODNN7EXAMPLE"), "{s:?}");
        }
    }

    #[test]
    fn history_instructions() {
        let key = format!("wJalrXUtnFEMI/{}", "K7MDENG/bPxRfiCYEXAMPLEKEY");
        let buildkit = vec![format!("ENV AWS_SECRET_ACCESS_KEY=\"{key}\"")];
        let found = find(&[], &BTreeMap::new(), &buildkit);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].place, Place::Layer(1));
        assert_eq!(found[0].masked, "****** (40 chars)");
        let clean = vec!["ENV PYTHON_VERSION=3.12.2".to_string(), "ARG TOKEN_PATH=/run/token".to_string()];
        assert!(find(&[], &BTreeMap::new(), &clean).is_empty());
    }
}
