//! `--user` and `--group-add` values, and the one question policy asks of them: is it root?

/// A `user[:group]` spec as typed; names and numbers are kept as text because the
/// image's /etc/passwd decides what a name means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSpec {
    pub user: String,
    pub group: Option<String>,
}

impl UserSpec {
    pub fn parse(spec: &str) -> Result<Self, String> {
        // `user:` has no group, as runc reads it (an empty group part is none).
        let (user, group) = match spec.split_once(':') {
            Some((u, g)) => (u, (!g.is_empty()).then(|| g.to_string())),
            None => (spec, None),
        };
        if user.is_empty() {
            return Err(format!("invalid user {spec:?}: the user part is empty"));
        }
        for part in std::iter::once(user).chain(group.as_deref()) {
            if let Some(n) = numeric_id(part)
                && n > u32::MAX as i64 - 1
            {
                return Err(format!("invalid user {spec:?}: id {part} is out of range"));
            }
        }
        Ok(UserSpec { user: user.to_string(), group })
    }

    /// Whether the user or the group is root in any spelling runc accepts.
    pub fn is_root(&self) -> bool {
        is_root_id(&self.user) || self.group.as_deref().is_some_and(is_root_id)
    }

    /// The numeric uid, when the spec gives one.
    pub fn uid(&self) -> Option<u32> {
        numeric_id(&self.user).and_then(|n| u32::try_from(n).ok())
    }

    pub fn gid(&self) -> Option<u32> {
        self.group.as_deref().and_then(numeric_id).and_then(|n| u32::try_from(n).ok())
    }
}

impl std::fmt::Display for UserSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.group {
            Some(g) => write!(f, "{}:{g}", self.user),
            None => f.write_str(&self.user),
        }
    }
}

/// A numeric id as Go's `strconv.Atoi` reads it (runc uses it): optional sign, digits.
fn numeric_id(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Leading zeros are fine for Atoi: "000" is 0. Huge values clamp to "out of range".
    let v = digits.trim_start_matches('0');
    if v.len() > 12 {
        return Some(i64::MAX);
    }
    let n: i64 = if v.is_empty() { 0 } else { v.parse().ok()? };
    Some(if s.starts_with('-') { -n } else { n })
}

/// Root by name or by number (`0`, `00`, `+0`, `-0`).
pub fn is_root_id(s: &str) -> bool {
    s == "root" || numeric_id(s) == Some(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_group_part_is_no_group() {
        // Found by the passwd fuzz target: runc runs `12002:` with no group (gid 0 or the
        // passwd one); reading it as the group named "" gave another gid.
        assert_eq!(UserSpec::parse("12002:").unwrap(), UserSpec { user: "12002".into(), group: None });
        assert_eq!(UserSpec::parse("app:").unwrap().to_string(), "app");
    }

    #[test]
    fn root_in_every_spelling() {
        for spec in ["0", "root", "0:0", "root:root", "1000:0", "1000:root", "00", "+0", "-0", "0:1000"] {
            assert!(UserSpec::parse(spec).unwrap().is_root(), "{spec}");
        }
        for spec in ["1000", "1000:1000", "app", "nobody:nogroup", "65532:65532", "rootless"] {
            assert!(!UserSpec::parse(spec).unwrap().is_root(), "{spec}");
        }
    }

    #[test]
    fn numbers() {
        let u = UserSpec::parse("1000:2000").unwrap();
        assert_eq!((u.uid(), u.gid()), (Some(1000), Some(2000)));
        assert_eq!(UserSpec::parse("app").unwrap().uid(), None);
    }

    #[test]
    fn rejects() {
        for bad in ["", ":0", "99999999999", "1:4294967295"] {
            assert!(UserSpec::parse(bad).is_err(), "{bad}");
        }
    }
}
