//! The exporter's log records in Node: lines on stderr, gated by level.
//!
//! Node has no logging API a native module could hand records to, so the documented channel is
//! stderr: `[drift-exporter] WARN drift_exporter::export: <message>`, one line per record, for
//! records at or above `TUSK_LOG_LEVEL` (error, warn, info, debug, trace, or off; default warn,
//! so a healthy application prints nothing). The exporter logs with `tracing`; with no
//! `tracing` subscriber in the process its events reach the `log` crate, and this logger. It is
//! installed once per process, on the first `RingExporter` (the level is read then).

use std::io::Write as _;
use std::sync::Once;

use log::{LevelFilter, Log, Metadata, Record};

struct StderrLogger {
    level: LevelFilter,
}

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &Record) {
        if self.enabled(record.metadata()) {
            // One write per line, so lines of concurrent records do not interleave.
            let line = format!(
                "[drift-exporter] {} {}: {}\n",
                record.level(),
                record.target(),
                record.args()
            );
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
    }

    fn flush(&self) {}
}

/// `TUSK_LOG_LEVEL`, else warn. An unknown value keeps warn.
fn level() -> LevelFilter {
    std::env::var("TUSK_LOG_LEVEL")
        .ok()
        .and_then(|level| level.trim().parse().ok())
        .unwrap_or(LevelFilter::Warn)
}

pub(crate) fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let level = level();
        if log::set_boxed_logger(Box::new(StderrLogger { level })).is_ok() {
            log::set_max_level(level);
        }
    });
}
