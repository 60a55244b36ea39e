//! `--ulimit name=soft[:hard]` (go-units `ParseUlimit`).

/// Resource names the kernel knows, as docker spells them.
pub const NAMES: [&str; 15] = [
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// A ulimit; -1 means unlimited (RLIM_INFINITY).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ulimit {
    pub name: &'static str,
    pub soft: i64,
    pub hard: i64,
}

impl Ulimit {
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (name, values) =
            spec.split_once('=').ok_or_else(|| format!("invalid ulimit {spec:?} (expected name=soft[:hard])"))?;
        let name = NAMES
            .iter()
            .find(|n| **n == name)
            .ok_or_else(|| format!("invalid ulimit {spec:?}: unknown resource {name:?}"))?;
        let number = |s: &str| s.parse::<i64>().map_err(|_| format!("invalid ulimit {spec:?}: {s:?} is not a number"));
        let (soft, hard) = match values.split_once(':') {
            Some((s, h)) => (number(s)?, number(h)?),
            None => {
                let v = number(values)?;
                (v, v)
            }
        };
        let unlimited = |v: i64| v == -1;
        if soft < -1 || hard < -1 || (!unlimited(hard) && (unlimited(soft) || soft > hard)) {
            return Err(format!("invalid ulimit {spec:?}: soft limit must not exceed the hard limit"));
        }
        Ok(Ulimit { name, soft, hard })
    }
}

impl std::fmt::Display for Ulimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}:{}", self.name, self.soft, self.hard)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(Ulimit::parse("nofile=1024:2048").unwrap(), Ulimit { name: "nofile", soft: 1024, hard: 2048 });
        assert_eq!(Ulimit::parse("nproc=64").unwrap(), Ulimit { name: "nproc", soft: 64, hard: 64 });
        assert_eq!(Ulimit::parse("memlock=-1").unwrap().hard, -1);
        assert_eq!(Ulimit::parse("nofile=1024:2048").unwrap().to_string(), "nofile=1024:2048");
    }

    #[test]
    fn errors() {
        for bad in ["nofile", "bogus=1", "nofile=2:1", "nofile=x", "nofile=-2", "nofile=-1:5"] {
            assert!(Ulimit::parse(bad).is_err(), "{bad}");
        }
    }
}
