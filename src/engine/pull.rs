//! Pulling an image with docker-like progress: one bar per layer (bytes and speed) when
//! stderr is a terminal, one plain line per finished layer otherwise, nothing with -q.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};

use anyhow::{Result, anyhow};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::client::{IDLE, Method, query, registry_auth};
use super::{Engine, describe};
use crate::image::ImageRef;
use crate::sanitize::{LINE_MAX, line};

/// The longest progress event read (they are a few hundred bytes).
const EVENT_MAX: usize = 64 << 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Bars,
    Lines,
    Quiet,
}

impl Progress {
    /// Bars only on a terminal; plain lines otherwise; nothing when quiet.
    pub fn for_stderr(quiet: bool) -> Progress {
        if quiet {
            Progress::Quiet
        } else if std::io::stderr().is_terminal() && std::env::var_os("TERM").is_some_and(|t| t != "dumb") {
            Progress::Bars
        } else {
            Progress::Lines
        }
    }
}

impl Engine {
    /// Pulls `image` (for `platform`, if given). Errors name the reference and the reason.
    pub async fn pull(&self, image: &ImageRef, platform: Option<&str>, progress: Progress) -> Result<()> {
        let reference = image.familiar();
        let (from_image, tag) = match (&image.digest, &image.tag) {
            (Some(d), _) => (format!("{}@{d}", image.repository()), None),
            (None, t) => (image.repository(), Some(t.clone().unwrap_or_else(|| "latest".into()))),
        };
        let opts = bollard::query_parameters::CreateImageOptions {
            from_image: Some(from_image),
            tag,
            platform: platform.unwrap_or_default().to_string(),
            ..Default::default()
        };
        let creds = super::auth::credentials(&self.endpoint.config_dir, image);
        let failed = |why: String| anyhow!("pulling {reference} failed: {why}");
        let path = format!("/images/create{}", query(&opts));
        let (_, mut stream) =
            self.client.stream(Method::POST, &path, &registry_auth(creds)).await.map_err(|e| failed(describe(&e)))?;
        let mut view = View::new(progress);
        // One JSON event a line; a pull lasts as long as it makes progress.
        while let Some(event) = stream.line(EVENT_MAX, IDLE).await.map_err(|e| failed(describe(&e)))? {
            if event.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let info: bollard::models::CreateImageInfo = serde_json::from_slice(&event).map_err(|e| {
                failed(format!(
                    "the daemon's progress is not what the Engine API specifies ({})",
                    line(&e.to_string(), 200)
                ))
            })?;
            if let Some(err) = info.error_detail.and_then(|d| d.message) {
                return Err(failed(line(&err, LINE_MAX)));
            }
            // The daemon's (or registry's) words, printed: escaped, one line each.
            let status = line(&info.status.unwrap_or_default(), 200);
            let id = info.id.map(|i| line(&i, 80));
            let detail = info.progress_detail.unwrap_or_default();
            view.update(id.as_deref(), &status, detail.current, detail.total);
        }
        view.finish();
        Ok(())
    }
}

/// Renders pull events.
struct View {
    mode: Progress,
    multi: Option<MultiProgress>,
    bars: HashMap<String, ProgressBar>,
}

impl View {
    fn new(mode: Progress) -> View {
        let multi = (mode == Progress::Bars).then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        View { mode, multi, bars: HashMap::new() }
    }

    fn update(&mut self, id: Option<&str>, status: &str, current: Option<i64>, total: Option<i64>) {
        match (self.mode, id) {
            (Progress::Quiet, _) => {}
            (Progress::Lines, Some(id)) => {
                // One line per layer when it is done, so logs stay short.
                if matches!(status, "Pull complete" | "Already exists") || status.starts_with("Pulling from") {
                    let _ = writeln!(std::io::stderr(), "{id}: {status}");
                }
            }
            (Progress::Lines, None) => {
                if !status.is_empty() {
                    let _ = writeln!(std::io::stderr(), "{status}");
                }
            }
            (Progress::Bars, Some(id)) => {
                let multi = self.multi.as_ref().expect("bars mode has a MultiProgress");
                let bar = self.bars.entry(id.to_string()).or_insert_with(|| {
                    let bar = multi.add(ProgressBar::new(0));
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{prefix} {msg:20} {bar:30} {bytes}/{total_bytes} {bytes_per_sec}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                    bar.set_prefix(id.to_string());
                    bar
                });
                if let Some(t) = total.filter(|t| *t > 0) {
                    bar.set_length(t as u64);
                }
                if let Some(c) = current {
                    bar.set_position(c as u64);
                }
                bar.set_message(status.to_string());
                if matches!(status, "Pull complete" | "Already exists") {
                    bar.finish();
                }
            }
            (Progress::Bars, None) => {
                if let Some(m) = &self.multi
                    && !status.is_empty()
                {
                    let _ = m.println(status);
                }
            }
        }
    }

    fn finish(&mut self) {
        for bar in self.bars.values() {
            bar.finish();
        }
    }
}
