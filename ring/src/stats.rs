//! Counters read from the ring header.

use std::sync::atomic::Ordering;

use crate::layout::*;
use crate::mem::RingMem;
use crate::protocol::RingCore;

/// A snapshot of a ring's counters. Producers and the consumer update them concurrently, so the
/// fields are individually exact but not one atomic snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RingStats {
    /// Data region size in bytes.
    pub capacity_bytes: u64,
    /// Bytes claimed and not yet consumed.
    pub used_bytes: u64,
    /// Highest `used_bytes` the consumer has seen.
    pub high_water_bytes: u64,
    /// Records committed by producers: released (confirmed, export failed, rejected) + failed
    /// checksum + committed and still in the ring. Derived (producers keep no per-record
    /// counter); exact once producers are quiet.
    pub records_written: u64,
    /// Payload bytes committed by producers (read + committed and waiting), derived likewise.
    pub bytes_written: u64,
    /// Records handed to a consumer's callback (each counted once, however often redelivered).
    pub records_read: u64,
    /// Records released as confirmed by the sink.
    pub confirmed_records: u64,
    /// Records released as given up by the sink (non-retryable rejection).
    pub export_failed_records: u64,
    /// Records released as not exportable (not a span, undecodable).
    pub rejected_records: u64,
    /// Records handed out again after a consumer died before releasing them.
    pub redelivered_records: u64,
    /// Committed records between the head and the tail (read or not): still in the ring.
    pub in_ring_records: u64,
    /// Consumers attached over the ring's life (more than one means restarts).
    pub consumer_attaches: u64,
    /// Payload bytes handed to the consumer's callback.
    pub bytes_read: u64,
    /// Records dropped because the ring was full.
    pub dropped_full_records: u64,
    /// Framed bytes of the records dropped because the ring was full.
    pub dropped_full_bytes: u64,
    /// Records dropped because they exceeded the maximum record size.
    pub dropped_too_large: u64,
    /// Records dropped because the ring was closed.
    pub dropped_closed: u64,
    /// Records dropped after too many lost tail CAS races.
    pub dropped_contention: u64,
    /// Claims given up before commit (turned into padding).
    pub aborted_claims: u64,
    /// Claims left behind by a dead producer, skipped by recovery.
    pub abandoned_records: u64,
    /// Bytes of those claims.
    pub abandoned_bytes: u64,
    /// Records skipped because their checksum did not match.
    pub checksum_failures: u64,
    /// Malformed framing found (each one quarantines the ring).
    pub malformed_records: u64,
    /// Padding bytes skipped by the consumer.
    pub padding_bytes: u64,
    /// Futex wakes issued by producers.
    pub wakeups_sent: u64,
    /// Whether a consumer quarantined this ring.
    pub quarantined: bool,
    /// Whether the producer closed the ring.
    pub closed: bool,
}

impl RingStats {
    /// Records dropped for any reason by producers.
    pub fn dropped_total(&self) -> u64 {
        self.dropped_full_records
            + self.dropped_too_large
            + self.dropped_closed
            + self.dropped_contention
    }

    /// Every push attempt the ring knows of: committed records, producer drops, aborted and
    /// abandoned claims.
    pub fn pushed(&self) -> u64 {
        self.records_written + self.dropped_total() + self.aborted_claims + self.abandoned_records
    }

    /// The accounting identity: pushed = confirmed + dropped (each reason) + still in the ring.
    /// Returns (pushed, confirmed, dropped, in ring).
    pub fn accounting(&self) -> (u64, u64, u64, u64) {
        let dropped = self.dropped_total()
            + self.aborted_claims
            + self.abandoned_records
            + self.export_failed_records
            + self.rejected_records
            + self.checksum_failures;
        (
            self.pushed(),
            self.confirmed_records,
            dropped,
            self.in_ring_records,
        )
    }
}

pub(crate) fn read_stats<M: RingMem>(core: &RingCore<M>) -> RingStats {
    let m = &core.mem;
    let get = |off| m.load64(off, Ordering::Relaxed);
    let (pending_records, pending_bytes) = core.pending_committed();
    RingStats {
        capacity_bytes: core.params.capacity,
        used_bytes: core.used_bytes(),
        high_water_bytes: get(OFF_HIGH_WATER).min(core.params.capacity),
        records_written: get(OFF_CONFIRMED_RECORDS)
            + get(OFF_EXPORT_FAILED_RECORDS)
            + get(OFF_REJECTED_RECORDS)
            + get(OFF_CHECKSUM_FAILURES)
            + pending_records,
        bytes_written: get(OFF_BYTES_READ) + pending_bytes,
        records_read: get(OFF_RECORDS_READ),
        confirmed_records: get(OFF_CONFIRMED_RECORDS),
        export_failed_records: get(OFF_EXPORT_FAILED_RECORDS),
        rejected_records: get(OFF_REJECTED_RECORDS),
        redelivered_records: get(OFF_REDELIVERED_RECORDS),
        in_ring_records: pending_records,
        consumer_attaches: get(OFF_CONSUMER_ATTACHES),
        bytes_read: get(OFF_BYTES_READ),
        dropped_full_records: get(OFF_DROPPED_FULL_RECORDS),
        dropped_full_bytes: get(OFF_DROPPED_FULL_BYTES),
        dropped_too_large: get(OFF_DROPPED_TOO_LARGE),
        dropped_closed: get(OFF_DROPPED_CLOSED),
        dropped_contention: get(OFF_DROPPED_CONTENTION),
        aborted_claims: get(OFF_ABORTED_CLAIMS),
        abandoned_records: get(OFF_ABANDONED_RECORDS),
        abandoned_bytes: get(OFF_ABANDONED_BYTES),
        checksum_failures: get(OFF_CHECKSUM_FAILURES),
        malformed_records: get(OFF_MALFORMED_RECORDS),
        padding_bytes: get(OFF_PADDING_BYTES),
        wakeups_sent: get(OFF_WAKEUPS_SENT),
        quarantined: get(OFF_QUARANTINED) != 0,
        closed: get(OFF_CLOSED) != 0,
    }
}
