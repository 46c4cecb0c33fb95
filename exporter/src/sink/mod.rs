//! Sinks: where finished batches go. Each runs on the exporter's sender thread, one batch at a
//! time; retries and backoff happen inside the sink, bounded by the [`StopControl`] deadline.

mod breaker;
mod callback;
mod file;
mod http;

pub use file::{FileSink, span_file_name_timestamp};
pub(crate) use http::url_host;
pub use http::{EXPORT_PATH, HttpSink};

pub(crate) use callback::CallbackSink;

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::health::Counters;

/// One span rendered as the SDKs' local-file JSON object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanLine {
    pub trace_id: String,
    /// Whose file naming the line's trace file follows.
    pub sdk: crate::record::SdkFlavor,
    /// One JSON object, no trailing newline.
    pub json: String,
}

/// What a batch carries, depending on the sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchBody {
    /// `tusk.drift.backend.v1.ExportSpansRequest` bytes (HTTP and callback sinks).
    Request(Vec<u8>),
    /// JSON lines (file sink).
    Lines(Vec<SpanLine>),
}

/// The ring range a batch covers: everything in `ring` up to `end` (a record end position) that
/// is not covered by an earlier batch. Released when the batch is settled, in batch order.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingMark {
    /// The source's id for the ring.
    pub ring: u64,
    pub end: u64,
    /// Span records of the batch from this range.
    pub spans: u64,
    /// Records of this range that carry no span (not a span record, or unprocessable).
    pub rejected: u64,
}

/// A cut batch on its way to a sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub spans: u64,
    pub body: BatchBody,
    /// Ring ranges to release once the sink has confirmed (or rejected) the batch.
    #[doc(hidden)]
    pub marks: Vec<RingMark>,
}

impl Batch {
    pub fn byte_len(&self) -> usize {
        match &self.body {
            BatchBody::Request(bytes) => bytes.len(),
            BatchBody::Lines(lines) => lines.iter().map(|line| line.json.len() + 1).sum(),
        }
    }
}

/// Why a sink gave up on a batch. Its spans are counted `export_failed`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    #[error("backend rejected the request with status {status}: {message}")]
    Rejected { status: u16, message: String },
    #[error("giving up after {attempts} attempts: {last_error}")]
    RetriesExhausted { attempts: u32, last_error: String },
    #[error("shutdown deadline passed before the batch could be delivered")]
    DeadlinePassed,
    #[error("{0}")]
    Io(String),
}

/// A destination for batches.
pub trait Sink: Send {
    /// Which body the batcher must build for this sink.
    fn wants_lines(&self) -> bool {
        false
    }
    /// Where batches go, in words for log lines: never a key or a full URL with credentials.
    fn destination(&self) -> String {
        "the callback".to_string()
    }
    /// Delivers one batch, retrying as the sink's policy says. Waits go through `control` so a
    /// shutdown deadline cuts them short.
    fn deliver(
        &mut self,
        batch: &Batch,
        control: &StopControl,
        counters: &Counters,
    ) -> Result<(), SinkError>;
}

/// The shutdown deadline shared by the sender thread's waits. Before shutdown there is none;
/// `shutdown(timeout)` sets one and wakes every sleeper, so backoff and breaker waits end by it.
#[derive(Debug, Default)]
pub struct StopControl {
    deadline: Mutex<Option<Instant>>,
    wake: Condvar,
    abandoned: std::sync::atomic::AtomicBool,
}

impl StopControl {
    /// The shutdown gave up on the sender (it is detached) and counted what it held as
    /// undelivered: late outcomes must not be counted again.
    pub fn abandon(&self) {
        self.abandoned
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn is_abandoned(&self) -> bool {
        self.abandoned.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn set_deadline(&self, deadline: Instant) {
        let mut guard = self
            .deadline
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        *guard = Some(guard.map_or(deadline, |current| current.min(deadline)));
        self.wake.notify_all();
    }

    pub fn deadline(&self) -> Option<Instant> {
        *self
            .deadline
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    pub fn past_deadline(&self) -> bool {
        self.deadline()
            .is_some_and(|deadline| Instant::now() >= deadline)
    }

    /// Time left before the deadline, capped at `limit`.
    pub fn budget(&self, limit: Duration) -> Duration {
        match self.deadline() {
            None => limit,
            Some(deadline) => limit.min(deadline.saturating_duration_since(Instant::now())),
        }
    }

    /// Sleeps `duration`, or less if a deadline is set or moved earlier meanwhile.
    pub fn sleep(&self, duration: Duration) {
        let start = Instant::now();
        let mut guard = self
            .deadline
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        loop {
            let mut until = start + duration;
            if let Some(deadline) = *guard {
                until = until.min(deadline);
            }
            let now = Instant::now();
            if now >= until {
                return;
            }
            guard = self
                .wake
                .wait_timeout(guard, until - now)
                .unwrap_or_else(|poison| poison.into_inner())
                .0;
        }
    }
}

/// Jitter source for backoff: xorshift seeded from the clock and the thread, so concurrent
/// exporters do not retry in lockstep. Not cryptographic; does not need to be.
#[derive(Debug)]
pub(crate) struct Jitter(u64);

impl Jitter {
    pub(crate) fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos() as u64);
        let here = &nanos as *const u64 as u64;
        Jitter((nanos ^ here.rotate_left(32)) | 1)
    }

    /// A factor in [0.75, 1.25).
    pub(crate) fn factor(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        0.75 + (x >> 11) as f64 / (1u64 << 53) as f64 * 0.5
    }
}
