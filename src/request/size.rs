//! Byte sizes as docker parses them (go-units `RAMInBytes`): `512m`, `1.5g`, `64MiB`, `100`.

/// Parses a size with binary multipliers (k = 1024). Returns `None` for anything docker
/// would reject, including negative numbers and values that overflow an i64.
pub fn parse_bytes(value: &str) -> Option<i64> {
    // Grammar: number, optional space, optional unit letter, optional `i`, optional `b`.
    let s = value.strip_suffix(['b', 'B']).unwrap_or(value);
    let s = s.strip_suffix(['i', 'I']).unwrap_or(s);
    let (number, multiplier) = match s.chars().last()?.to_ascii_lowercase() {
        'k' => (&s[..s.len() - 1], 1i64 << 10),
        'm' => (&s[..s.len() - 1], 1 << 20),
        'g' => (&s[..s.len() - 1], 1 << 30),
        't' => (&s[..s.len() - 1], 1 << 40),
        'p' => (&s[..s.len() - 1], 1 << 50),
        _ => (s, 1),
    };
    let number = number.strip_suffix(' ').unwrap_or(number);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, "0"));
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(fraction) {
        return None;
    }
    let bytes = number.parse::<f64>().ok()? * multiplier as f64;
    (bytes < i64::MAX as f64).then_some(bytes as i64)
}

/// Formats bytes the way people write them in flags (`512m`, `1g`), exact when possible.
pub fn format_bytes(bytes: i64) -> String {
    const UNITS: [(i64, &str); 4] = [(1 << 40, "t"), (1 << 30, "g"), (1 << 20, "m"), (1 << 10, "k")];
    for (size, unit) in UNITS {
        if bytes >= size && bytes % size == 0 {
            return format!("{}{unit}", bytes / size);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_spellings() {
        assert_eq!(parse_bytes("512m"), Some(512 << 20));
        assert_eq!(parse_bytes("512M"), Some(512 << 20));
        assert_eq!(parse_bytes("512mb"), Some(512 << 20));
        assert_eq!(parse_bytes("512MiB"), Some(512 << 20));
        assert_eq!(parse_bytes("1.5g"), Some(3 << 29));
        assert_eq!(parse_bytes("100"), Some(100));
        assert_eq!(parse_bytes("100b"), Some(100));
        assert_eq!(parse_bytes("64 k"), Some(64 << 10));
        assert_eq!(parse_bytes("0"), Some(0));
        assert_eq!(parse_bytes("5ib"), Some(5));
    }

    #[test]
    fn rejects_what_docker_rejects() {
        for bad in ["", "-1", "m", "1x", "1.2.3m", "one", "1e9", "99999999999999999999p", ".5g", "5.g"] {
            assert_eq!(parse_bytes(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_round_numbers() {
        assert_eq!(format_bytes(512 << 20), "512m");
        assert_eq!(format_bytes(1 << 30), "1g");
        assert_eq!(format_bytes(1000), "1000");
        assert_eq!(format_bytes(1536 << 20), "1536m");
    }
}
