//! The send queue and the sender thread. The drain thread never waits on the network: it hands
//! finished batches to a bounded queue. For the HTTP sink, when the queue is full the OLDEST
//! batch is dropped and its spans counted `export_failed`, so memory stays bounded whatever the
//! backend does. For local sinks (files, callback) the drain thread waits for room instead: the
//! ring then fills and producers drop the newest spans (`queue_full`) before any work is spent
//! on them.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use crate::ExporterError;
use crate::health::{Counters, DropReason};
use crate::sink::{Batch, Sink, StopControl};

#[derive(Default)]
struct QueueState {
    batches: VecDeque<Batch>,
    closed: bool,
    /// A batch is being delivered right now.
    busy: bool,
    /// Batches ever enqueued / settled (delivered, failed or dropped); FIFO, so once
    /// `settled >= n` the first `n` batches are settled.
    enqueued: u64,
    settled: u64,
}

/// What a full queue does with a new batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Overflow {
    DropOldest,
    Wait,
}

/// Bounded batch queue between the drain thread and the sender thread.
pub(crate) struct SendQueue {
    state: Mutex<QueueState>,
    changed: Condvar,
    capacity: usize,
    overflow: Overflow,
}

impl SendQueue {
    pub(crate) fn new(capacity: usize, overflow: Overflow) -> Self {
        SendQueue {
            state: Mutex::new(QueueState::default()),
            changed: Condvar::new(),
            capacity: capacity.max(1),
            overflow,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Enqueues a batch; if the queue is full, drops the oldest waiting batch or waits for room
    /// (until the queue is closed), as configured.
    pub(crate) fn push(&self, batch: Batch, counters: &Counters) {
        let mut state = self.lock();
        if self.overflow == Overflow::Wait {
            while state.batches.len() >= self.capacity && !state.closed {
                state = self
                    .changed
                    .wait(state)
                    .unwrap_or_else(|poison| poison.into_inner());
            }
        }
        if state.closed {
            counters.drop_spans(DropReason::ExportFailed, batch.spans);
            state.enqueued += 1;
            state.settled += 1;
            return;
        }
        while state.batches.len() >= self.capacity {
            if let Some(oldest) = state.batches.pop_front() {
                counters.drop_spans(DropReason::ExportFailed, oldest.spans);
                state.settled += 1;
            }
        }
        state.enqueued += 1;
        state.batches.push_back(batch);
        self.changed.notify_all();
    }

    /// No more batches will come; the sender finishes what is queued and exits.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    /// Batches enqueued so far.
    pub(crate) fn enqueued(&self) -> u64 {
        self.lock().enqueued
    }

    /// Batches settled so far.
    pub(crate) fn settled(&self) -> u64 {
        self.lock().settled
    }

    fn finish_current(&self) {
        let mut state = self.lock();
        state.settled += 1;
        state.busy = false;
        self.changed.notify_all();
    }

    fn next(&self) -> Option<Batch> {
        let mut state = self.lock();
        self.changed.notify_all();
        loop {
            if let Some(batch) = state.batches.pop_front() {
                state.busy = true;
                return Some(batch);
            }
            if state.closed {
                return None;
            }
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(|poison| poison.into_inner());
        }
    }

    /// Drops everything still queued (the shutdown deadline passed).
    pub(crate) fn abandon(&self, counters: &Counters) {
        let mut state = self.lock();
        let dropped: Vec<Batch> = state.batches.drain(..).collect();
        for batch in &dropped {
            counters.drop_spans(DropReason::ExportFailed, batch.spans);
        }
        state.settled += dropped.len() as u64;
        self.changed.notify_all();
    }
}

/// Starts the sender thread: delivers batches one at a time and settles their spans as
/// exported or `export_failed`. `on_settled` runs after each batch (wakes `force_flush`).
pub(crate) fn spawn_sender(
    queue: Arc<SendQueue>,
    mut sink: Box<dyn Sink>,
    control: Arc<StopControl>,
    counters: Arc<Counters>,
    on_settled: Arc<dyn Fn() + Send + Sync>,
) -> Result<JoinHandle<()>, ExporterError> {
    std::thread::Builder::new()
        .name("drift-export-send".to_string())
        .spawn(move || {
            while let Some(batch) = queue.next() {
                let outcome = if control.past_deadline() {
                    Err(crate::sink::SinkError::DeadlinePassed)
                } else {
                    sink.deliver(&batch, &control, &counters)
                };
                match outcome {
                    Ok(()) => {
                        Counters::add(&counters.batches, 1);
                        Counters::add(&counters.exported, batch.spans);
                    }
                    Err(error) => {
                        counters.drop_spans(DropReason::ExportFailed, batch.spans);
                        log_export_failure(&error);
                    }
                }
                queue.finish_current();
                on_settled();
            }
            on_settled();
        })
        .map_err(|source| ExporterError::Thread {
            thread: "sender",
            source,
        })
}

/// Export failures are counted; the message goes to stderr at most once per second so a dead
/// backend cannot flood the host application's logs.
fn log_export_failure(error: &crate::sink::SinkError) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST_LOG_SECS: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    if LAST_LOG_SECS.swap(now, Ordering::Relaxed) != now
        && std::env::var_os("DRIFT_EXPORTER_QUIET").is_none()
    {
        eprintln!("drift-exporter: export failed: {error}");
    }
}
