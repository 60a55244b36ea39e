//! A service's process keys: `environment` over `env_file` (Compose's dotenv format),
//! the health check (an exec-form test kept as written) and logging, each through the
//! docker-run flag of the same meaning.

use std::path::Path;

use serde_yaml::Value;

use super::file;
use super::merge::{as_mapping, scalar_text};
use super::translate::{Translation, shown};

impl Translation<'_> {
    pub(super) fn environment(&mut self, v: &Value) {
        for (k, val) in as_mapping(v.clone(), "environment") {
            let name = scalar_text(&k);
            let value = match val {
                Value::Null => None,
                Value::Mapping(_) | Value::Sequence(_) => {
                    self.problem(&format!("environment.{name}"), "a variable's value is a single value");
                    continue;
                }
                other => Some(scalar_text(&other)),
            };
            self.env.retain(|(n, _)| *n != name);
            self.env.push((name, value));
        }
    }

    pub(super) fn env_file(&mut self, v: &Value) {
        let items = match v {
            Value::Sequence(s) => s.clone(),
            other => vec![other.clone()],
        };
        for (i, item) in items.iter().enumerate() {
            let key = if matches!(v, Value::Sequence(_)) { format!("env_file[{i}]") } else { "env_file".into() };
            let (path, required) = match item {
                Value::Mapping(m) => {
                    let required = match m.get("required") {
                        Some(r) => self.boolean(r, &format!("{key}.required")).unwrap_or(true),
                        None => true,
                    };
                    (m.get("path").map(scalar_text), required)
                }
                other => (self.text(other, &key), true),
            };
            let Some(path) = path else { continue };
            let path = Path::new(&path);
            if !path.exists() {
                if required {
                    self.problem(&key, format!("{} does not exist", path.display()));
                }
                continue;
            }
            match file::dotenv(path) {
                Ok(vars) => {
                    for (name, value) in vars {
                        self.env.retain(|(n, _)| *n != name);
                        self.env.push((name, Some(value)));
                    }
                }
                Err(p) => self.problem(&key, p.why),
            }
        }
    }

    pub(super) fn healthcheck(&mut self, v: &Value) {
        let Value::Mapping(m) = v else {
            return self.problem("healthcheck", "healthcheck is a mapping");
        };
        for (k, val) in m {
            let name = scalar_text(k);
            let key = format!("healthcheck.{name}");
            match name.as_str() {
                "test" => match val {
                    Value::String(s) => self.flag("health-cmd", s, &key),
                    Value::Sequence(_) => {
                        let words = self.list(val, &key);
                        match words.split_first() {
                            Some((kind, rest)) if kind == "NONE" && rest.is_empty() => {
                                self.flag("no-healthcheck", "true", &key)
                            }
                            Some((kind, [line])) if kind == "CMD-SHELL" => self.flag("health-cmd", line, &key),
                            Some((kind, args)) if kind == "CMD" && !args.is_empty() => {
                                // Kept in exec form for the file; the request holds it as a shell line.
                                self.flag("health-cmd", &shell_words::join(args), &key);
                                self.svc.health_exec = Some(args.to_vec());
                            }
                            _ => self
                                .problem(&key, "test is [\"CMD\", ...], [\"CMD-SHELL\", line], [\"NONE\"] or a line"),
                        }
                    }
                    other => self.problem(&key, format!("test is a list or a string, not {}", shown(other))),
                },
                "disable" => {
                    if self.boolean(val, &key) == Some(true) {
                        self.flag("no-healthcheck", "true", &key);
                    }
                }
                "interval" | "timeout" | "start_period" | "start_interval" | "retries" => {
                    let long = match name.as_str() {
                        "interval" => "health-interval",
                        "timeout" => "health-timeout",
                        "start_period" => "health-start-period",
                        "start_interval" => "health-start-interval",
                        _ => "health-retries",
                    };
                    if let Some(t) = self.text(val, &key) {
                        self.flag(long, &t, &key);
                    }
                }
                _ => self.problem(&key, "not a healthcheck key hardrun knows"),
            }
        }
    }

    pub(super) fn logging(&mut self, v: &Value) {
        let Value::Mapping(m) = v else {
            return self.problem("logging", "logging is a mapping with driver and options");
        };
        for (k, val) in m {
            match k.as_str() {
                Some("driver") => {
                    if let Some(t) = self.text(val, "logging.driver") {
                        self.flag("log-driver", &t, "logging.driver");
                    }
                }
                Some("options") => self.map_flag("log-opt", val, "logging.options", '='),
                _ => self.problem(&format!("logging.{}", scalar_text(k)), "not a logging key hardrun knows"),
            }
        }
    }
}
