//! Per-phase timing for benchmarks: with `HARDRUN_TIMING=1`, each phase's end prints
//! `hardrun: timing: PHASE MS` on stderr (milliseconds since the previous mark, the first
//! since the process started). Off, a mark costs one relaxed atomic load.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

static ON: AtomicBool = AtomicBool::new(false);
static LAST: Mutex<Option<Instant>> = Mutex::new(None);

/// Reads `HARDRUN_TIMING` once, at start.
pub fn init() {
    if std::env::var_os("HARDRUN_TIMING").is_some_and(|v| v == "1") {
        *LAST.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        ON.store(true, Ordering::Relaxed);
    }
}

/// Marks the end of `phase`.
pub fn mark(phase: &str) {
    if !ON.load(Ordering::Relaxed) {
        return;
    }
    let now = Instant::now();
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    let since = last.map_or(0.0, |t| now.duration_since(t).as_secs_f64() * 1000.0);
    *last = Some(now);
    eprintln!("hardrun: timing: {phase} {since:.2}");
}
