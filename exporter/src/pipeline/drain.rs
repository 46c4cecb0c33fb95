//! The drain thread: reads records from a [`RecordSource`], processes each (decode, core,
//! span bytes), batches, and hands finished batches to the send queue. It never waits on the
//! network, so a slow or dead backend cannot stop it draining the ring.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::batcher::Batcher;
use super::sender::SendQueue;
use crate::ExporterError;
use crate::health::{Counters, DropReason};
use crate::process::Processor;
use crate::sink::RingMark;

/// Records handed out per drain call (bounds the time between batch and stop checks).
const DRAIN_CHUNK_RECORDS: usize = 256;
const DRAIN_CHUNK_BYTES: usize = 4 << 20;
/// Longest idle sleep: bounds how late a stop or flush request is noticed if no wake arrives.
const MAX_IDLE_WAIT: Duration = Duration::from_millis(50);
/// The open batch is cut once its records fill this share of their ring (1/N): records stay in
/// the ring until the sink confirms their batch, so a batch allowed to grow to the ring's size
/// (`max_export_batch_bytes` is 4 MiB, as is the default ring) would fill it and wait out its
/// schedule delay while every new span is dropped `queue_full`. A quarter leaves room for the
/// batch in flight and the next one filling meanwhile.
const BATCH_SHARE_OF_RING: u64 = 4;

/// One record read from a ring, not yet released.
pub(crate) struct RecordRef<'a> {
    /// The source's id of the ring.
    pub(crate) ring: u64,
    /// Ring position right after the record (what releasing it takes).
    pub(crate) end: u64,
    /// Whether it is a span record (others are released as rejected).
    pub(crate) span: bool,
    /// An earlier consumer read it and did not release it.
    pub(crate) redelivered: bool,
    /// In-process: read from a dead predecessor's ring, not pushed by this process (counted
    /// `recovered`, not `pushed`).
    pub(crate) recovered: bool,
    pub(crate) payload: &'a [u8],
}

impl<'a> RecordRef<'a> {
    /// A record read from the ring the source calls `ring`.
    pub(crate) fn from_ring(ring: u64, record: &drift_ring::Record<'a>) -> Self {
        RecordRef {
            ring,
            end: record.end,
            span: record.record_type == crate::SPAN_RECORD_TYPE,
            redelivered: record.redelivered,
            recovered: false,
            payload: record.payload,
        }
    }
}

/// Where records come from: one ring (in-process) or every ring of a directory (sidecar).
/// Records are read ahead and stay in their ring until [`RecordSource::release`]: acknowledged
/// consumption.
pub(crate) trait RecordSource: Send {
    /// Hands up to about `max_records` committed records to `f`; returns how many.
    fn drain(
        &mut self,
        max_records: usize,
        max_bytes: usize,
        f: &mut dyn FnMut(RecordRef<'_>),
    ) -> usize;
    /// Sleeps until data may be there or `timeout` passes.
    fn wait(&mut self, timeout: Duration);
    /// Data capacity of the smallest ring this source reads (`None` before it reads any): what
    /// one batch may hold of a ring is a share of it (`BATCH_SHARE_OF_RING`).
    fn smallest_ring_bytes(&self) -> Option<u64>;
    /// Housekeeping between drains (the sidecar attaches new rings and recovers dead ones).
    fn maintain(&mut self, _f: &mut dyn FnMut(RecordRef<'_>)) {}
    /// Releases a settled batch's range of one ring: `delivered` says whether its spans were
    /// confirmed by the sink or given up (non-retryable rejection).
    fn release(&mut self, mark: &RingMark, delivered: bool);
}

/// Flags and wake-ups shared by the exporter handle and its drain thread.
#[derive(Default)]
pub(crate) struct DrainControl {
    pub(crate) stop: AtomicBool,
    /// Flush requests made / completed (the drain thread found the source empty and cut the
    /// open batch after reading the request number).
    pub(crate) flush_requested: AtomicU64,
    pub(crate) flush_completed: AtomicU64,
    /// Notified when spans are settled (exported or dropped); `force_flush` waits on it.
    pub(crate) progress_lock: Mutex<()>,
    pub(crate) progress: Condvar,
}

impl DrainControl {
    pub(crate) fn notify_progress(&self) {
        let _guard = self
            .progress_lock
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        self.progress.notify_all();
    }

    /// Waits until `done()` or `deadline`; true if `done()`.
    pub(crate) fn wait_until(&self, deadline: Instant, done: impl Fn() -> bool) -> bool {
        let mut guard = self
            .progress_lock
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        loop {
            if done() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            // Short slices: the drain thread does not notify for every record it reads.
            let slice = (deadline - now).min(Duration::from_millis(5));
            guard = self
                .progress
                .wait_timeout(guard, slice)
                .unwrap_or_else(|poison| poison.into_inner())
                .0;
        }
    }
}

pub(crate) struct DrainLoop {
    pub(crate) source: Box<dyn RecordSource>,
    pub(crate) processor: Processor,
    pub(crate) batcher: Batcher,
    pub(crate) queue: Arc<SendQueue>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) control: Arc<DrainControl>,
    /// Sidecar: every record read counts as pushed (the producers' pushes are not visible).
    pub(crate) count_pushed_on_drain: bool,
}

impl DrainLoop {
    pub(crate) fn spawn(mut self) -> Result<JoinHandle<()>, ExporterError> {
        std::thread::Builder::new()
            .name("drift-export-drain".to_string())
            .spawn(move || self.run())
            .map_err(|source| ExporterError::Thread {
                thread: "drain",
                source,
            })
    }

    fn apply_acks(&mut self) {
        for (mark, delivered) in self.queue.take_acks() {
            self.source.release(&mark, delivered);
        }
    }

    fn run(&mut self) {
        loop {
            self.apply_acks();
            let stopping = self.control.stop.load(Ordering::Acquire);
            let flush_request = self.control.flush_requested.load(Ordering::Acquire);
            let flushing = flush_request > self.control.flush_completed.load(Ordering::Acquire);
            let drained = self.drain_once();
            let mut maintenance = 0;
            {
                let Self {
                    source,
                    processor,
                    batcher,
                    queue,
                    counters,
                    count_pushed_on_drain,
                    ..
                } = self;
                let ring_limit = batch_ring_limit(&**source);
                source.maintain(&mut |record| {
                    maintenance += 1;
                    handle_record(
                        record,
                        processor,
                        batcher,
                        queue,
                        counters,
                        *count_pushed_on_drain,
                        ring_limit,
                    );
                });
            }
            if let Some(batch) = self.batcher.cut_if_due(Instant::now()) {
                self.queue.push(batch, &self.counters);
            }
            if drained + maintenance > 0 {
                self.control.notify_progress();
                continue;
            }
            if !stopping && !self.queue.has_room() {
                // Not empty: the in-flight window is full. Wait for the sender to settle a batch.
                self.queue.wait_for_room(MAX_IDLE_WAIT);
                continue;
            }
            // The source is empty right now.
            if flushing || stopping {
                if let Some(batch) = self.batcher.cut() {
                    self.queue.push(batch, &self.counters);
                }
                if flushing {
                    self.control
                        .flush_completed
                        .fetch_max(flush_request, Ordering::AcqRel);
                }
                if stopping {
                    self.apply_acks();
                    // This thread is ending: answer every flush request, including any made
                    // from now on, so no `force_flush` waits for a thread that is gone (what
                    // it cut is in the send queue, which the flush still waits for).
                    self.control
                        .flush_completed
                        .store(u64::MAX, Ordering::Release);
                    self.control.notify_progress();
                    return;
                }
                self.control.notify_progress();
                continue;
            }
            let wait = self
                .batcher
                .deadline()
                .map_or(MAX_IDLE_WAIT, |deadline| {
                    deadline.saturating_duration_since(Instant::now())
                })
                .min(MAX_IDLE_WAIT);
            if !wait.is_zero() {
                self.source.wait(wait);
            }
        }
    }

    fn drain_once(&mut self) -> usize {
        let Self {
            source,
            processor,
            batcher,
            queue,
            counters,
            count_pushed_on_drain,
            ..
        } = self;
        if !queue.has_room() {
            // The in-flight window is full (the sink is slow or failing): records wait in the
            // ring, which fills until producers drop the newest (counted `queue_full`).
            return 0;
        }
        let ring_limit = batch_ring_limit(&**source);
        source.drain(DRAIN_CHUNK_RECORDS, DRAIN_CHUNK_BYTES, &mut |record| {
            handle_record(
                record,
                processor,
                batcher,
                queue,
                counters,
                *count_pushed_on_drain,
                ring_limit,
            );
        })
    }
}

/// Most ring bytes the open batch may hold before it is cut (see `BATCH_SHARE_OF_RING`).
fn batch_ring_limit(source: &dyn RecordSource) -> u64 {
    source
        .smallest_ring_bytes()
        .map_or(u64::MAX, |bytes| bytes / BATCH_SHARE_OF_RING)
}

fn handle_record(
    record: RecordRef<'_>,
    processor: &mut Processor,
    batcher: &mut Batcher,
    queue: &SendQueue,
    counters: &Counters,
    count_pushed: bool,
    ring_limit: u64,
) {
    add_record(record, processor, batcher, queue, counters, count_pushed);
    if batcher.ring_bytes() >= ring_limit
        && let Some(batch) = batcher.cut()
    {
        queue.push(batch, counters);
    }
}

fn add_record(
    record: RecordRef<'_>,
    processor: &mut Processor,
    batcher: &mut Batcher,
    queue: &SendQueue,
    counters: &Counters,
    count_pushed: bool,
) {
    let now = Instant::now();
    let len = record.payload.len();
    if !record.span {
        batcher.reject(record.ring, record.end, len, now);
        return;
    }
    if count_pushed {
        Counters::add(&counters.pushed, 1);
    } else if record.recovered {
        Counters::add(&counters.recovered, 1);
    }
    if record.redelivered {
        Counters::add(&counters.redelivered, 1);
    }
    Counters::add(&counters.records_drained, 1);
    match processor.process(record.payload) {
        Ok(output) => {
            if let Some(batch) = batcher.add_from(output, Some((record.ring, record.end, len)), now)
            {
                queue.push(batch, counters);
            }
        }
        Err(error) => {
            counters.drop_spans(DropReason::SerializationError, 1);
            processor.note_error(&error);
            batcher.reject(record.ring, record.end, len, now);
        }
    }
}
