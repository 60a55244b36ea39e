//! Health check flags.

use super::value::int;
use crate::request::duration;
use crate::run_args::flag::{Flag, Section::Health};

fn nanos(flag: &str, v: &str) -> Result<i64, String> {
    duration::parse_nanos(v)
        .ok_or_else(|| format!("invalid argument {v:?} for --{flag}: expected a duration such as 30s or 1m30s"))
}

pub const FLAGS: &[Flag] = &[
    Flag::one("health-cmd", "CMD", "Command that checks health (run by the shell)", Health, |r, v, _| {
        r.health.cmd = Some(v.to_string());
        Ok(())
    }),
    Flag::one("health-interval", "DURATION", "Time between checks", Health, |r, v, _| {
        r.health.interval = Some(nanos("health-interval", v)?);
        Ok(())
    }),
    Flag::one("health-timeout", "DURATION", "Longest a check may run", Health, |r, v, _| {
        r.health.timeout = Some(nanos("health-timeout", v)?);
        Ok(())
    }),
    Flag::one("health-start-period", "DURATION", "Start-up time before failures count", Health, |r, v, _| {
        r.health.start_period = Some(nanos("health-start-period", v)?);
        Ok(())
    }),
    Flag::one("health-start-interval", "DURATION", "Time between checks during the start period", Health, |r, v, _| {
        r.health.start_interval = Some(nanos("health-start-interval", v)?);
        Ok(())
    }),
    Flag::one("health-retries", "N", "Consecutive failures before unhealthy", Health, |r, v, _| {
        r.health.retries = Some(int("health-retries", v)?);
        Ok(())
    }),
    Flag::switch("no-healthcheck", "Disable the image's health check", Health, |r, b| r.health.disabled = b),
];

#[cfg(test)]
mod tests {
    use super::super::testing::{err, ok};

    #[test]
    fn durations_and_retries() {
        let r = ok(&[
            "--health-cmd",
            "wget -q -O- localhost",
            "--health-interval",
            "30s",
            "--health-timeout",
            "5s",
            "--health-start-period",
            "1m",
            "--health-start-interval",
            "2s",
            "--health-retries",
            "3",
            "img:1",
        ]);
        assert_eq!(r.health.cmd.as_deref(), Some("wget -q -O- localhost"));
        assert_eq!(r.health.interval, Some(30_000_000_000));
        assert_eq!(r.health.start_period, Some(60_000_000_000));
        assert_eq!(r.health.retries, Some(3));
        assert!(ok(&["--no-healthcheck", "img:1"]).health.disabled);
        assert!(err(&["--health-interval", "30", "img:1"]).contains("duration"));
    }

    #[test]
    fn no_healthcheck_conflicts_with_settings() {
        assert!(err(&["--no-healthcheck", "--health-cmd", "true", "img:1"]).contains("conflicts"));
    }
}
