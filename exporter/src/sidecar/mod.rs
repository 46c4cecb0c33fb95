//! The sidecar: one process that drains every producer process's ring in a directory
//! (`drift-exporter run`) and the `stats` table. The command line itself (and the `demo`) is the
//! `drift-exporter` binary (`src/cli/`), which the language bindings do not link.

pub(crate) mod ring_set;
pub mod stats;

pub use ring_set::{RingReport, RingSetCounters, RingSetReport};

use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::ExporterError;
use crate::config::{ExporterConfig, SinkConfig};
use crate::health::{Counters, HealthSnapshot};
use crate::pipeline::Worker;
use crate::sink::{CallbackSink, FileSink, HttpSink, Sink};
use ring_set::RingSet;

/// A running sidecar: a drain thread over every ring of the directory and a sender thread.
pub struct Sidecar {
    dir: PathBuf,
    counters: Arc<Counters>,
    report: Arc<Mutex<RingSetReport>>,
    worker: Worker,
    started: Instant,
    stopped: Mutex<bool>,
}

/// Everything `stats` shows: the exporter's counters and every ring.
#[derive(Debug, Clone, Serialize)]
pub struct SidecarSnapshot {
    pub ring_dir: PathBuf,
    pub pid: u32,
    pub uptime_secs: f64,
    pub exporter: HealthSnapshot,
    pub rings: RingSetReport,
}

impl Sidecar {
    /// Starts draining `config.ring`'s directory into `config.sink` (which must not be
    /// `Sidecar`).
    pub fn start(config: &ExporterConfig) -> Result<Sidecar, ExporterError> {
        config.validate()?;
        let dir = config.ring.resolved_dir()?;
        // Private to this user, as the ring crate requires of a ring directory: parents are
        // created if missing, then the directory itself is checked exactly as producers check it
        // (a real directory, not a symbolic link, ours, not group- or world-writable).
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(|source| ExporterError::Io {
                    context: format!("creating {}", parent.display()),
                    source,
                })?;
        }
        drift_ring::check_ring_dir(&dir).map_err(|e| ExporterError::Config {
            key: "ring.dir".into(),
            message: e.to_string(),
        })?;
        let sink: Box<dyn Sink> = match &config.sink {
            SinkConfig::Api(api) => Box::new(HttpSink::new(api.clone())),
            SinkConfig::Files(files) => Box::new(FileSink::new(files.dir.clone())),
            SinkConfig::Callback(callback) => Box::new(CallbackSink::new(callback.clone())),
            SinkConfig::Sidecar => {
                return Err(ExporterError::Config {
                    key: "sink".into(),
                    message: "the sidecar needs a delivering sink (api or files)".into(),
                });
            }
        };
        let counters = Arc::new(Counters::default());
        let report = Arc::new(Mutex::new(RingSetReport::default()));
        let source = Box::new(RingSet::new(dir.clone(), report.clone()));
        let worker = Worker::start(config, sink, source, &counters, true)?;
        Ok(Sidecar {
            dir,
            counters,
            report,
            worker,
            started: Instant::now(),
            stopped: Mutex::new(false),
        })
    }

    pub fn ring_dir(&self) -> &std::path::Path {
        &self.dir
    }

    pub fn health(&self) -> HealthSnapshot {
        let report = self.rings();
        let used = report.rings.iter().map(|ring| ring.used_bytes).sum();
        let capacity = report.rings.iter().map(|ring| ring.capacity_bytes).sum();
        HealthSnapshot::from_counters(&self.counters, used, capacity, !*self.lock_stopped())
    }

    /// The rings currently attached and the ring-level counters (refreshed every scan).
    pub fn rings(&self) -> RingSetReport {
        self.report
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }

    pub fn snapshot(&self) -> SidecarSnapshot {
        SidecarSnapshot {
            ring_dir: self.dir.clone(),
            pid: std::process::id(),
            uptime_secs: self.started.elapsed().as_secs_f64(),
            exporter: self.health(),
            rings: self.rings(),
        }
    }

    /// Exports everything committed in every ring so far.
    pub fn force_flush(&self, timeout: Duration) -> bool {
        self.worker
            .flush(Instant::now() + timeout, &|| {}, &self.counters)
    }

    /// Final drain of every ring, then stops. Idempotent.
    pub fn shutdown(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut stopped = self.lock_stopped();
        if !*stopped {
            self.worker.stop(deadline, &|| {});
            // Not confirmed by now: left unreleased in their rings, for the next sidecar.
            let left = Counters::get(&self.counters.pushed).saturating_sub(self.counters.settled());
            Counters::add(&self.counters.undelivered_at_shutdown, left);
            *stopped = true;
        }
        self.counters.settled() >= Counters::get(&self.counters.pushed)
    }

    fn lock_stopped(&self) -> std::sync::MutexGuard<'_, bool> {
        self.stopped
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        self.shutdown(Duration::from_secs(5));
    }
}
