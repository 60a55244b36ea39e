//! `--restart no|always|unless-stopped|on-failure[:N]`.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartPolicy {
    /// The Engine API name: `no`, `always`, `unless-stopped`, `on-failure`.
    pub name: &'static str,
    pub max_retries: Option<i64>,
}

impl RestartPolicy {
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (name, count) = match spec.split_once(':') {
            Some((n, c)) => (n, Some(c)),
            None => (spec, None),
        };
        let name = match name {
            "" | "no" => "no",
            "always" => "always",
            "unless-stopped" => "unless-stopped",
            "on-failure" => "on-failure",
            other => {
                return Err(format!(
                    "invalid restart policy {other:?} (use no, always, unless-stopped or on-failure[:N])"
                ));
            }
        };
        let max_retries = match count {
            None => None,
            Some(_) if name != "on-failure" => {
                return Err(format!("invalid restart policy {spec:?}: only on-failure takes a retry count"));
            }
            Some(c) => Some(
                c.parse::<i64>()
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| format!("invalid restart policy {spec:?}: bad retry count {c:?}"))?,
            ),
        };
        Ok(RestartPolicy { name, max_retries })
    }

    pub fn is_no(&self) -> bool {
        self.name == "no"
    }
}

impl std::fmt::Display for RestartPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.max_retries {
            Some(n) => write!(f, "{}:{n}", self.name),
            None => f.write_str(self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(RestartPolicy::parse("on-failure:3").unwrap().max_retries, Some(3));
        assert_eq!(RestartPolicy::parse("always").unwrap().to_string(), "always");
        assert!(RestartPolicy::parse("no").unwrap().is_no());
        for bad in ["sometimes", "always:3", "on-failure:-1", "on-failure:x"] {
            assert!(RestartPolicy::parse(bad).is_err(), "{bad}");
        }
    }
}
