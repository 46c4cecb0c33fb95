//! The exporter's log records → Python `logging`, through `pyo3-log`.
//!
//! The exporter logs with `tracing`; with no `tracing` subscriber installed (an extension
//! module installs none) its events are forwarded to the `log` crate, which this bridge hands
//! to the logger named after the Rust module (`drift_exporter.sidecar.ring_set`,
//! `drift_exporter.export`, ...): the application's handlers, levels and formatters apply.
//! Levels are looked up in Python on every record (no caching), so `logging.getLogger(...)
//! .setLevel(...)` takes effect at once; records are rare (activation, failures, rate-limited).
//! Once the interpreter starts exiting (an `atexit` hook), records go to stderr instead:
//! a thread must not wait for the GIL of an interpreter that is finalizing.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

use log::{LevelFilter, Log, Metadata, Record};
use pyo3::prelude::*;

static PYTHON_EXITING: AtomicBool = AtomicBool::new(false);

struct Bridge {
    python: pyo3_log::Logger,
}

impl Log for Bridge {
    fn enabled(&self, metadata: &Metadata) -> bool {
        self.python.enabled(metadata)
    }

    fn log(&self, record: &Record) {
        if !PYTHON_EXITING.load(Ordering::Acquire) {
            self.python.log(record);
        } else if record.level() <= log::Level::Warn {
            let _ = writeln!(
                std::io::stderr(),
                "{} {}: {}",
                record.level(),
                record.target(),
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

/// The Rust-side ceiling: `TUSK_LOG_LEVEL` if set (error, warn, info, debug, trace), else
/// debug; Python's logger levels decide below it.
fn ceiling() -> LevelFilter {
    std::env::var("TUSK_LOG_LEVEL")
        .ok()
        .and_then(|level| level.trim().parse().ok())
        .unwrap_or(LevelFilter::Debug)
}

#[pyfunction]
fn _python_exiting() {
    PYTHON_EXITING.store(true, Ordering::Release);
}

pub(crate) fn install(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    let level = ceiling();
    let python = pyo3_log::Logger::new(py, pyo3_log::Caching::Loggers)?.filter(level);
    // Another copy of the module (a subinterpreter, a second import path) may have installed
    // one already: keep it.
    if log::set_boxed_logger(Box::new(Bridge { python })).is_ok() {
        log::set_max_level(level);
    }
    let hook = pyo3::wrap_pyfunction!(_python_exiting, module)?;
    py.import("atexit")?.call_method1("register", (hook,))?;
    Ok(())
}
