//! The in-process exporter handle the SDK bindings wrap (`RingExporter` in Python, the Node
//! addon's exporter): `push_span` on application threads, a drain thread and a sender thread
//! behind it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use drift_ring::{Consumer, Producer, PushError, RingConfig};

use crate::config::{ExporterConfig, SinkConfig};
use crate::fork;
use crate::health::{Counters, DropReason, HealthSnapshot};
use crate::pipeline::Worker;
use crate::record::SpanRecord;
use crate::recovery::{self, InProcessSource, RescanSpec};
use crate::sink::{CallbackSink, FileSink, HttpSink, Sink};
use crate::{ExporterError, SPAN_RECORD_TYPE};

/// An exporter: `Send + Sync`, meant to be shared by every thread of the process (one per
/// process is the intended use; each owns one ring).
///
/// * [`Exporter::push_span`] encodes the span straight into a ring slot and returns; it never
///   blocks, never allocates, takes no lock, and counts every refusal by reason.
/// * In-process sinks (`Api`, `Files`, `Callback`) start a drain thread (decode, process with
///   the core, batch) and a sender thread (sink I/O, retries). `Sidecar` starts neither: a
///   `drift-exporter run` process drains the ring.
/// * In-process, the ring is a named file in the ring directory (unless
///   [`crate::RingSettings::anonymous`]): spans not delivered when the process dies stay there,
///   and the next start of the same service (or a sidecar) delivers them. Each start first
///   takes the rings its dead predecessors left (see `recovery`).
/// * Fork safety: a child process that inherited the exporter gets its own ring and threads on
///   its first `push_span` (spans the parent had in flight are counted `fork_discarded` in the
///   child); the parent's lock, threads and mapping are never touched in the child.
pub struct Exporter {
    config: ExporterConfig,
    counters: Arc<Counters>,
    /// The current process's ring and threads. Replaced (never freed) in a forked child.
    state: AtomicPtr<ProcessState>,
    /// `fork generation + 1` of the process installing a new state, 0 when none.
    installing: AtomicU64,
    shutting_down: AtomicBool,
}

/// What belongs to one process: its ring and, in-process, its threads.
struct ProcessState {
    fork_generation: u64,
    producer: Producer,
    /// In-process with a named ring: what shutdown cannot deliver stays in the file for the
    /// next start (not lost), and an emptied ring's file is removed.
    named_in_process: bool,
    max_span_bytes: usize,
    worker: Option<Worker>,
    /// Serializes shutdown within this process (never taken on the push path).
    shutdown_lock: std::sync::Mutex<bool>,
    /// Set once a shutdown has finished (threads stopped or abandoned, ring closed).
    shutdown_done: AtomicBool,
}

// `AtomicPtr` is Send + Sync whatever it points to; the state it owns must be too, since it is
// used and freed from any thread.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<ProcessState>();
    assert_send_sync::<Exporter>();
};

impl Exporter {
    /// Creates this process's ring and, unless the sink is `Sidecar`, starts the drain and
    /// sender threads.
    pub fn start(config: ExporterConfig) -> Result<Exporter, ExporterError> {
        config.validate()?;
        fork::register();
        let counters = Arc::new(Counters::default());
        let state = ProcessState::create(&config, &counters)?;
        let exporter = Exporter {
            config,
            counters,
            state: AtomicPtr::new(Box::into_raw(Box::new(state))),
            installing: AtomicU64::new(0),
            shutting_down: AtomicBool::new(false),
        };
        // The activation line: which sink, which ring (a path in sidecar mode).
        tracing::info!(
            "ring exporter started in pid {}: spans go to {}{}",
            std::process::id(),
            exporter.config.sink.describe(),
            exporter
                .ring_path()
                .map(|path| format!(" through the ring {}", path.display()))
                .unwrap_or_default()
        );
        Ok(exporter)
    }

    /// The configuration this exporter runs with.
    pub fn config(&self) -> &ExporterConfig {
        &self.config
    }

    fn state(&self) -> &ProcessState {
        // SAFETY: the pointer always comes from `Box::into_raw` and stays valid until `Drop`;
        // replaced states are leaked, never freed, so a reference obtained before a swap stays
        // valid too.
        unsafe { &*self.state.load(Ordering::Acquire) }
    }

    /// This process's state, replacing the parent's in a forked child.
    fn current_state(&self) -> Result<&ProcessState, DropReason> {
        let state = self.state();
        let generation = fork::generation();
        if state.fork_generation == generation {
            return Ok(state);
        }
        self.install_child_state(generation)
    }

    #[cold]
    fn install_child_state(&self, generation: u64) -> Result<&ProcessState, DropReason> {
        // One thread installs; others drop their span meanwhile (a short window right after a
        // fork). A lock would not do: the parent might have held it at fork time.
        let current = self.installing.load(Ordering::Acquire);
        if current == generation + 1
            || self
                .installing
                .compare_exchange(current, generation + 1, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
        {
            return Err(DropReason::ForkDiscarded);
        }
        let old = self.state();
        if old.fork_generation == generation {
            self.installing.store(0, Ordering::Release);
            return Ok(old);
        }
        // Spans the parent had pushed but not settled will never be exported from here.
        let inherited_in_flight = self
            .counters
            .accepted()
            .saturating_sub(self.counters.settled());
        self.counters
            .drop_spans(DropReason::ForkDiscarded, inherited_in_flight);
        let result = match ProcessState::create(&self.config, &self.counters) {
            Ok(state) => {
                // The parent's state is leaked on purpose: freeing it would run its drop
                // (closing the parent's ring, joining threads that do not exist here).
                self.state
                    .store(Box::into_raw(Box::new(state)), Ordering::Release);
                Ok(self.state())
            }
            Err(error) => {
                tracing::warn!(
                    "could not create a ring after fork; this process's spans are dropped \
                     (fork_discarded): {error}"
                );
                Err(DropReason::ForkDiscarded)
            }
        };
        self.installing.store(0, Ordering::Release);
        result
    }

    /// Encodes `span` into a ring slot. Never blocks; on refusal the span is dropped, counted,
    /// and the reason returned (`queue_full`, `too_large`, `already_shutdown`,
    /// `serialization_error`, `fork_discarded`).
    pub fn push_span(&self, span: &SpanRecord<'_>) -> Result<(), DropReason> {
        Counters::add(&self.counters.pushed, 1);
        let result = self.push_inner(span);
        if let Err(reason) = result {
            self.counters.drop_spans(reason, 1);
        }
        result
    }

    fn push_inner(&self, span: &SpanRecord<'_>) -> Result<(), DropReason> {
        if self.shutting_down.load(Ordering::Relaxed) {
            return Err(DropReason::AlreadyShutdown);
        }
        let state = self.current_state()?;
        let len = span.encoded_len();
        if len > state.max_span_bytes {
            return Err(DropReason::TooLarge);
        }
        let mut claim =
            state
                .producer
                .try_claim(SPAN_RECORD_TYPE, len)
                .map_err(|error| match error {
                    PushError::Full | PushError::Contention => DropReason::QueueFull,
                    PushError::TooLarge => DropReason::TooLarge,
                    PushError::Closed => DropReason::AlreadyShutdown,
                    PushError::Forked => DropReason::ForkDiscarded,
                    PushError::InvalidType(_) => DropReason::SerializationError,
                })?;
        match span.encode_into(&mut claim) {
            Ok(_) => {
                claim.commit();
                Ok(())
            }
            Err(_) => {
                claim.abort();
                Err(DropReason::SerializationError)
            }
        }
    }

    /// Exports every span pushed before this call: drains the ring, cuts the open batch and
    /// waits for the sink. True if all of them were settled (delivered or dropped) in time.
    /// In `Sidecar` mode: waits until the sidecar has read the ring up to now.
    ///
    /// After [`Exporter::shutdown`] there is nothing left to drive: it returns at once, true if
    /// every span pushed was exported or counted as dropped (false if the shutdown left work
    /// undone). While a shutdown runs on another thread it waits for that shutdown (within
    /// `timeout`) and answers the same way.
    pub fn force_flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        if self.shutting_down.load(Ordering::SeqCst) {
            return self.settled_after_shutdown(deadline);
        }
        match self.current_state() {
            Ok(state) => state.flush(deadline, &self.counters),
            Err(_) => false,
        }
    }

    /// `force_flush` once a shutdown has started: waits for it to finish (by `deadline`), then
    /// reports whether everything pushed was settled. The drain thread is gone by then, so a
    /// flush request would never be answered.
    fn settled_after_shutdown(&self, deadline: Instant) -> bool {
        let state = self.state();
        if state.fork_generation != fork::generation() {
            // A forked child of a shut-down exporter: it owns no ring or threads, and pushes
            // are refused, so only the inherited counters can still be unsettled.
            return self.counters.settled() >= self.counters.accepted();
        }
        // Polling, not a condvar: this only runs in the rare case of a flush racing a
        // shutdown, which itself is bounded by its own budget.
        while !state.shutdown_done.load(Ordering::Acquire) {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        state.everything_settled(&self.counters)
    }

    /// Stops accepting spans (later pushes count `already_shutdown`), drains and exports what
    /// is in the ring within one time budget, stops the threads and closes the ring.
    /// Idempotent: later calls return the first call's outcome at once... or, if a first call is
    /// still running on another thread, wait for it within their own budget. True if everything
    /// pushed was settled in time.
    pub fn shutdown(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        self.shutting_down.store(true, Ordering::SeqCst);
        let Ok(state) = self.current_state_for_shutdown() else {
            return false;
        };
        state.shutdown(deadline, &self.counters)
    }

    fn current_state_for_shutdown(&self) -> Result<&ProcessState, DropReason> {
        // A child that never pushed still owns nothing but the parent's state; install its own
        // so shutdown never touches the parent's threads.
        self.current_state()
    }

    /// Counters, ring occupancy and circuit state.
    pub fn health(&self) -> HealthSnapshot {
        let state = self.state();
        let running = !self.shutting_down.load(Ordering::Relaxed);
        if state.fork_generation != fork::generation() {
            return HealthSnapshot::from_counters(&self.counters, 0, 0, running);
        }
        let stats = state.producer.stats();
        let mut health = HealthSnapshot::from_counters(
            &self.counters,
            stats.used_bytes,
            stats.capacity_bytes,
            running,
        );
        if state.worker.is_none() {
            // Sidecar mode: delivery happens in the sidecar; from here a span is settled once
            // the sidecar's sink has confirmed it (the ring header's acknowledgement counters).
            health.exported = stats.confirmed_records;
            health.dropped.export_failed += stats.export_failed_records;
            health.dropped.serialization_error += stats.rejected_records;
            health.dropped_total += stats.export_failed_records + stats.rejected_records;
            health.in_flight = health
                .pushed
                .saturating_sub(health.exported + health.dropped_total);
        }
        health
    }

    /// Path of this process's ring file (what a sidecar attaches).
    pub fn ring_path(&self) -> Option<std::path::PathBuf> {
        self.current_state()
            .ok()
            .and_then(|state| state.producer.path().map(|path| path.to_path_buf()))
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let state = self.state.load(Ordering::Acquire);
        // SAFETY: see `state()`; `&mut self` means no other reference is in use.
        let owned = unsafe { (*state).fork_generation } == fork::generation();
        if owned {
            // A sidecar may not be running: do not hold the program's exit for long waiting
            // for it. In-process, the final export gets a few seconds.
            // SAFETY: as above.
            let sidecar_mode = unsafe { (*state).worker.is_none() };
            self.shutdown(if sidecar_mode {
                Duration::from_secs(1)
            } else {
                Duration::from_secs(5)
            });
            // SAFETY: the pointer came from `Box::into_raw`, and after shutdown no thread
            // references the state (the worker threads were joined or hold their own Arcs).
            drop(unsafe { Box::from_raw(state) });
        }
        // In a forked child that never pushed, the parent's state is leaked: dropping it would
        // close the parent's ring.
    }
}

impl ProcessState {
    fn create(
        config: &ExporterConfig,
        counters: &Arc<Counters>,
    ) -> Result<ProcessState, ExporterError> {
        let fork_generation = fork::generation();
        let in_process = !matches!(config.sink, SinkConfig::Sidecar);
        let named_in_process = in_process && !config.ring.anonymous;
        let mut ring_config = RingConfig {
            capacity_bytes: config.ring.ring_capacity_bytes()?,
            max_record_bytes: config.ring.effective_max_span_bytes()?,
            dir: config.ring.dir.clone(),
            ..RingConfig::default()
        };
        // Sidecar mode: a named ring the sidecar drains. In-process: a named ring too, whose
        // name carries the service, so that what this process leaves undelivered when it dies
        // is found by the next start of the same service (or drained by a sidecar). The
        // anonymous memfd ring (nothing survives the process) only when asked for.
        if named_in_process {
            ring_config.name_prefix = recovery::ring_name_prefix(&config.service);
        }
        let created = if in_process && !named_in_process {
            Producer::create_memfd(&ring_config).map(|(producer, _fd)| producer)
        } else {
            Producer::create(&ring_config)
        };
        let producer = created.map_err(|error| ExporterError::Ring {
            context: "creating the ring".to_string(),
            message: error.to_string(),
        })?;
        let max_span_bytes = config.ring.max_span_bytes.min(producer.max_record_bytes());
        let worker = match &config.sink {
            SinkConfig::Sidecar => None,
            sink => {
                let sink: Box<dyn Sink> = match sink {
                    SinkConfig::Api(api) => Box::new(HttpSink::new(api.clone())),
                    SinkConfig::Files(files) => Box::new(FileSink::new(files.dir.clone())),
                    SinkConfig::Callback(callback) => Box::new(CallbackSink::new(callback.clone())),
                    SinkConfig::Sidecar => unreachable!("handled above"),
                };
                let consumer =
                    Consumer::from_producer(&producer).map_err(|error| ExporterError::Ring {
                        context: "attaching the in-process consumer".to_string(),
                        message: error.to_string(),
                    })?;
                // Our own ring exists (and holds its liveness lock) before we look for dead
                // predecessors', so a concurrent start of the same service sees it alive.
                // While running, it looks again now and then (processes of the service that
                // die meanwhile, rings left over by the per-start cap).
                let (dead, rescan) = match (named_in_process, config.ring.resolved_dir()) {
                    (true, Ok(dir)) => {
                        let prefix = ring_config.name_prefix.clone();
                        let (dead, report) =
                            recovery::take_dead_rings(&dir, &prefix, producer.path());
                        let rescan = producer.path().map(|own| RescanSpec {
                            dir,
                            prefix,
                            own: own.to_path_buf(),
                            over_cap: report.over_cap,
                        });
                        (dead, rescan)
                    }
                    _ => (Vec::new(), None),
                };
                Some(Worker::start(
                    config,
                    sink,
                    Box::new(InProcessSource::new(consumer, dead, rescan)),
                    counters,
                    false,
                )?)
            }
        };
        Ok(ProcessState {
            fork_generation,
            producer,
            named_in_process,
            max_span_bytes,
            worker,
            shutdown_lock: std::sync::Mutex::new(false),
            shutdown_done: AtomicBool::new(false),
        })
    }

    fn flush(&self, deadline: Instant, counters: &Counters) -> bool {
        match &self.worker {
            Some(worker) => worker.flush(deadline, &|| self.producer.wake_consumer(), counters),
            None => {
                // Sidecar mode: done when the sidecar has consumed everything committed so far.
                self.producer.wake_consumer();
                loop {
                    if self.producer.stats().used_bytes == 0 {
                        return true;
                    }
                    if Instant::now() >= deadline {
                        return false;
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        }
    }

    fn shutdown(&self, deadline: Instant, counters: &Counters) -> bool {
        let mut done = self
            .shutdown_lock
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if !*done {
            let flushed = self.flush(deadline, counters);
            self.producer.close();
            if let Some(worker) = &self.worker {
                worker.stop(deadline, &|| self.producer.wake_consumer());
                self.settle_in_process_shutdown(counters);
            }
            *done = true;
            self.shutdown_done.store(true, Ordering::Release);
            if !flushed {
                return false;
            }
        }
        self.everything_settled(counters)
    }

    /// After the in-process threads stopped: what the sink has not confirmed is reported. In a
    /// named ring it stays in the file for the next start of the service or a sidecar (not
    /// lost); in an anonymous ring it dies with the process (`export_failed`). An emptied named
    /// ring's file is removed.
    fn settle_in_process_shutdown(&self, counters: &Counters) {
        let undelivered = counters.accepted().saturating_sub(counters.settled());
        if undelivered == 0 {
            if self.named_in_process && self.producer.stats().used_bytes == 0 {
                let _ = self.producer.unlink();
            }
            return;
        }
        Counters::add(&counters.undelivered_at_shutdown, undelivered);
        if self.named_in_process {
            let path = self.producer.path().unwrap_or(std::path::Path::new("?"));
            tracing::warn!(
                "shutdown could not deliver {undelivered} spans; they stay in {} for the next \
                 start of this service (or a sidecar)",
                path.display()
            );
        } else {
            counters.drop_spans(DropReason::ExportFailed, undelivered);
            tracing::warn!(
                "shutdown could not deliver {undelivered} spans (export_failed: the sink did not \
                 confirm them before the deadline)"
            );
        }
    }

    /// True if every span pushed so far is exported or counted as dropped.
    fn everything_settled(&self, counters: &Counters) -> bool {
        match self.worker {
            Some(_) => {
                counters.settled() >= counters.accepted()
                    && Counters::get(&counters.undelivered_at_shutdown) == 0
            }
            // Sidecar mode: the ring has been read up to its end.
            None => self.producer.stats().used_bytes == 0,
        }
    }
}
