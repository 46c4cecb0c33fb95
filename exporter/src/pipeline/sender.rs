//! The send queue and the sender thread. The drain thread never waits on the network: it hands
//! finished batches to a bounded queue (the in-flight window) and stops reading the rings while
//! the window is full, so records wait in their ring (acknowledged consumption): the ring fills
//! and producers drop the newest (`queue_full`), the only drop a slow or failing backend causes.
//! The sender delivers one batch at a time and keeps retrying a batch that failed with a
//! retryable error until it is confirmed, rejected for good, or the shutdown deadline passes.
//! Each settled batch's ring ranges go back to the drain thread as acknowledgements, which
//! releases them in its rings in order.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::ExporterError;
use crate::health::{Counters, DropReason};
use crate::sink::{Batch, RingMark, Sink, SinkError, StopControl};

/// Longest pause between two deliveries of a batch that failed with a retryable error (the
/// sinks retry and back off inside one delivery; this spaces the deliveries).
const MAX_REDELIVERY_PAUSE: Duration = Duration::from_secs(2);

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
    /// Ranges of settled batches, for the drain thread to release (whether delivered).
    acks: Vec<(RingMark, bool)>,
}

/// Bounded batch queue between the drain thread and the sender thread.
pub(crate) struct SendQueue {
    state: Mutex<QueueState>,
    changed: Condvar,
    capacity: usize,
}

impl SendQueue {
    pub(crate) fn new(capacity: usize) -> Self {
        SendQueue {
            state: Mutex::new(QueueState::default()),
            changed: Condvar::new(),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Enqueues a batch, waiting for room (until the queue is closed). A batch pushed after
    /// close is not delivered; its records stay unreleased in the ring.
    pub(crate) fn push(&self, batch: Batch, _counters: &Counters) {
        let mut state = self.lock();
        while state.batches.len() >= self.capacity && !state.closed {
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(|poison| poison.into_inner());
        }
        state.enqueued += 1;
        if state.closed {
            state.settled += 1;
            return;
        }
        state.batches.push_back(batch);
        self.changed.notify_all();
    }

    /// Whether a batch can be enqueued without waiting.
    pub(crate) fn has_room(&self) -> bool {
        self.lock().batches.len() < self.capacity
    }

    /// Waits (at most `timeout`) until a batch can be enqueued or acknowledgements arrived.
    pub(crate) fn wait_for_room(&self, timeout: Duration) {
        let state = self.lock();
        if state.batches.len() < self.capacity || !state.acks.is_empty() || state.closed {
            return;
        }
        let _ = self
            .changed
            .wait_timeout(state, timeout)
            .unwrap_or_else(|poison| poison.into_inner());
    }

    /// Ranges settled since the last call, in settlement order.
    pub(crate) fn take_acks(&self) -> Vec<(RingMark, bool)> {
        let mut state = self.lock();
        if state.acks.is_empty() {
            return Vec::new();
        }
        std::mem::take(&mut state.acks)
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

    fn finish_current(&self, acks: Option<(&[RingMark], bool)>) {
        let mut state = self.lock();
        state.settled += 1;
        state.busy = false;
        if let Some((marks, delivered)) = acks {
            state
                .acks
                .extend(marks.iter().map(|mark| (*mark, delivered)));
        }
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

    /// Forgets everything still queued (the shutdown deadline passed): not delivered, not
    /// released; returns the spans it held.
    pub(crate) fn abandon(&self) -> u64 {
        let mut state = self.lock();
        let dropped: Vec<Batch> = state.batches.drain(..).collect();
        state.settled += dropped.len() as u64;
        self.changed.notify_all();
        dropped.iter().map(|batch| batch.spans).sum()
    }
}

/// Starts the sender thread: delivers batches one at a time; a batch is settled when the sink
/// confirmed it (exported) or rejected it for good (`export_failed`); retryable failures are
/// delivered again until then. At the shutdown deadline the batch in hand is left unsettled (its
/// records stay in the ring). `on_settled` runs after each batch (wakes `force_flush`).
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
            let destination = sink.destination();
            while let Some(batch) = queue.next() {
                let mut pause = Duration::from_millis(50);
                let settled = loop {
                    if batch.spans == 0 {
                        // Only records that carry no span: nothing to send, release them.
                        break Some(true);
                    }
                    let outcome = if control.past_deadline() {
                        Err(SinkError::DeadlinePassed)
                    } else {
                        sink.deliver(&batch, &control, &counters)
                    };
                    if control.is_abandoned() {
                        // Shutdown already counted this batch as undelivered.
                        break None;
                    }
                    match outcome {
                        Ok(()) => {
                            Counters::add(&counters.batches, 1);
                            Counters::add(&counters.exported, batch.spans);
                            break Some(true);
                        }
                        Err(SinkError::DeadlinePassed) => break None,
                        Err(error @ SinkError::Rejected { .. }) => {
                            counters.drop_spans(DropReason::ExportFailed, batch.spans);
                            log_export_failure(&error, batch.spans, &destination);
                            break Some(false);
                        }
                        Err(error) => {
                            // Retryable: the spans wait (in the ring and in this batch).
                            log_export_failure(&error, batch.spans, &destination);
                            control.sleep(pause);
                            pause = (pause * 2).min(MAX_REDELIVERY_PAUSE);
                        }
                    }
                };
                match settled {
                    Some(delivered) => queue.finish_current(Some((&batch.marks, delivered))),
                    None => queue.finish_current(None),
                }
                on_settled();
            }
            on_settled();
        })
        .map_err(|source| ExporterError::Thread {
            thread: "sender",
            source,
        })
}
/// Export failures are counted; the log line (a warning naming the destination and the number
/// of spans, never a key) is written at most once per second so a dead backend cannot flood the
/// host application's logs; the next line says how many were not written.
fn log_export_failure(error: &crate::sink::SinkError, spans: u64, destination: &str) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST_LOG_SECS: AtomicU64 = AtomicU64::new(0);
    static SKIPPED: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    if LAST_LOG_SECS.swap(now, Ordering::Relaxed) == now {
        SKIPPED.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let skipped = match SKIPPED.swap(0, Ordering::Relaxed) {
        0 => String::new(),
        n => format!(" ({n} similar failures not logged in the last second)"),
    };
    let outcome = if matches!(error, crate::sink::SinkError::Rejected { .. }) {
        "rejected; the spans are dropped (export_failed)"
    } else {
        "failed; the spans stay queued and are sent again"
    };
    // The numbers are in the message (not fields): the bindings' log bridges show messages.
    tracing::warn!(
        target: "drift_exporter::export",
        "export of {spans} spans to {destination} {outcome}: {error}{skipped}"
    );
}
