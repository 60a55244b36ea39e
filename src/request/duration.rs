//! Go durations (`time.ParseDuration`), used by the `--health-*` flags: `30s`, `1m30s`, `1.5h`.

/// Parses a Go duration into nanoseconds. Negative durations are rejected: no docker
/// flag that takes one accepts them.
pub fn parse_nanos(value: &str) -> Option<i64> {
    if value == "0" {
        return Some(0);
    }
    let mut rest = value.strip_prefix('+').unwrap_or(value);
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number = &rest[..number_len];
        if number.is_empty() || number == "." {
            return None;
        }
        let amount: f64 = number.parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += amount * scale;
    }
    (total < i64::MAX as f64).then_some(total as i64)
}

/// Formats nanoseconds as a Go duration string docker accepts back (`1m30s`, `500ms`).
pub fn format_nanos(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    if nanos % 1_000_000_000 != 0 {
        return if nanos % 1_000_000 == 0 { format!("{}ms", nanos / 1_000_000) } else { format!("{nanos}ns") };
    }
    let secs = nanos / 1_000_000_000;
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out += &format!("{h}h");
    }
    if m > 0 {
        out += &format!("{m}m");
    }
    if s > 0 || out.is_empty() {
        out += &format!("{s}s");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_forms() {
        assert_eq!(parse_nanos("30s"), Some(30_000_000_000));
        assert_eq!(parse_nanos("1m30s"), Some(90_000_000_000));
        assert_eq!(parse_nanos("1.5h"), Some(5_400_000_000_000));
        assert_eq!(parse_nanos("300ms"), Some(300_000_000));
        assert_eq!(parse_nanos("2us"), Some(2_000));
        assert_eq!(parse_nanos("0"), Some(0));
    }

    #[test]
    fn rejects_bad_forms() {
        for bad in ["", "10", "s", "-1s", "1d", "1.s5", "abc"] {
            assert_eq!(parse_nanos(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_back() {
        for d in ["1m30s", "500ms", "2h", "0s", "1h1s"] {
            assert_eq!(format_nanos(parse_nanos(d).unwrap()), d);
        }
    }
}
