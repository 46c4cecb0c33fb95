//! The on-memory layout: header fields, their offsets, and record framing.
//!
//! Everything here is a fixed constant of layout version [`LAYOUT_VERSION`]. Integers are stored in
//! the host's native byte order (rings never leave the host that created them).

/// Magic bytes at offset 0 of every ring.
pub const MAGIC: [u8; 8] = *b"DRFTRNG\0";
/// Bumped on any change of this file; attach refuses any other value.
pub const LAYOUT_VERSION: u32 = 2;
/// Size of the header page that precedes the data region.
pub const HEADER_LEN: usize = 4096;
/// Size of the per-record header (length, type, flags, checksum, sequence).
pub const RECORD_HEADER_LEN: usize = 16;
/// Every record starts and ends on this alignment.
pub const RECORD_ALIGN: usize = 8;
/// Smallest accepted data capacity (tiny rings are useful in tests).
pub const MIN_CAPACITY: usize = 64;
/// Largest accepted data capacity (1 GiB): record lengths are stored as `i32`.
pub const MAX_CAPACITY: usize = 1 << 30;

/// Record type of a padding record (at the wrap point, after an aborted claim, or after a
/// truncated commit). Never handed to a consumer callback.
pub const RECORD_TYPE_PAD: u16 = 0xFFFF;
/// Record flag: wake a sleeping consumer regardless of the fill watermark.
pub const FLAG_URGENT: u16 = 1;

/// Header flag bit: records carry a CRC-32C.
pub(crate) const HEADER_FLAG_CHECKSUM: u32 = 1;

// Static identity block (written once at creation, magic last).
pub(crate) const OFF_MAGIC: usize = 0x000;
pub(crate) const OFF_VERSION: usize = 0x008;
pub(crate) const OFF_HEADER_LEN: usize = 0x00C;
pub(crate) const OFF_CAPACITY: usize = 0x010;
pub(crate) const OFF_MAX_PAYLOAD: usize = 0x018;
pub(crate) const OFF_FLAGS: usize = 0x01C;
pub(crate) const OFF_CREATOR_UID: usize = 0x020;
pub(crate) const OFF_CREATOR_PID: usize = 0x024;
pub(crate) const OFF_CREATOR_START_TICKS: usize = 0x028;
pub(crate) const OFF_CREATED_UNIX_NS: usize = 0x030;
pub(crate) const OFF_RING_ID: usize = 0x038;
pub(crate) const OFF_WAKE_WATERMARK: usize = 0x040;

// Tail block (128 B): producers CAS the tail; the closed flag shares the line because every
// push reads it right after owning the line for the CAS.
pub(crate) const OFF_TAIL: usize = 0x080;
pub(crate) const OFF_CLOSED: usize = 0x088;

// Head cache block (128 B): producers' copy of the head, refreshed only when the ring looks full.
pub(crate) const OFF_HEAD_CACHE: usize = 0x100;

// Head block (128 B): written by the consumer only.
pub(crate) const OFF_HEAD: usize = 0x180;

// Consumer state block (128 B): the futex word, alone in its 8-byte word.
pub(crate) const OFF_CONSUMER_STATE: usize = 0x200;

// Producer slow-path counters (128 B).
pub(crate) const OFF_DROPPED_FULL_RECORDS: usize = 0x280;
pub(crate) const OFF_DROPPED_FULL_BYTES: usize = 0x288;
pub(crate) const OFF_DROPPED_TOO_LARGE: usize = 0x290;
pub(crate) const OFF_DROPPED_CLOSED: usize = 0x298;
pub(crate) const OFF_DROPPED_CONTENTION: usize = 0x2A0;
pub(crate) const OFF_WAKEUPS_SENT: usize = 0x2A8;
pub(crate) const OFF_ABORTED_CLAIMS: usize = 0x2B0;

// Consumer counters (128 B).
pub(crate) const OFF_RECORDS_READ: usize = 0x300;
pub(crate) const OFF_BYTES_READ: usize = 0x308;
pub(crate) const OFF_PADDING_BYTES: usize = 0x310;
pub(crate) const OFF_ABANDONED_RECORDS: usize = 0x318;
pub(crate) const OFF_ABANDONED_BYTES: usize = 0x320;
pub(crate) const OFF_CHECKSUM_FAILURES: usize = 0x328;
pub(crate) const OFF_MALFORMED_RECORDS: usize = 0x330;
pub(crate) const OFF_HIGH_WATER: usize = 0x338;
pub(crate) const OFF_QUARANTINED: usize = 0x340;

// Acknowledgement block (128 B, layout version 2): what happened to the records the consumer
// released (moved the head past). Written by the consumer only, so they survive a consumer
// restart: `pushed = confirmed + export_failed + rejected + checksum failures + dropped by the
// producers + abandoned + still in the ring`, whoever consumed before.
/// Records released as confirmed by the sink (delivered).
pub(crate) const OFF_CONFIRMED_RECORDS: usize = 0x380;
/// Records released as given up by the sink (a non-retryable rejection).
pub(crate) const OFF_EXPORT_FAILED_RECORDS: usize = 0x388;
/// Records released as unprocessable (not a span, undecodable).
pub(crate) const OFF_REJECTED_RECORDS: usize = 0x390;
/// Records handed out a second time (read before by a consumer that never released them).
pub(crate) const OFF_REDELIVERED_RECORDS: usize = 0x398;
/// Highest position any consumer has read up to (handed records out to its caller). Records
/// between the head and this on attach may have been delivered already: redelivered.
pub(crate) const OFF_READ_HIGH: usize = 0x3A0;
/// Consumers attached over the ring's life (the first is 1; more means restarts).
pub(crate) const OFF_CONSUMER_ATTACHES: usize = 0x3A8;
/// Where the release in progress moves the head: written before the released space is zeroed,
/// so that a consumer killed while zeroing leaves a mark from which the next one finishes the
/// release, instead of finding a half-zeroed range it would take for an abandoned claim. Zero in
/// a new ring (a mark outside `[head, tail]` means no release in progress).
pub(crate) const OFF_RELEASE_TO: usize = 0x3B0;

/// Futex word values of `consumer_state`.
pub(crate) const CONSUMER_AWAKE: u32 = 0;
pub(crate) const CONSUMER_SLEEPING: u32 = 1;

// Offsets inside a record header.
pub(crate) const REC_LEN: usize = 0;
pub(crate) const REC_TYPE_FLAGS: usize = 4;
pub(crate) const REC_CRC: usize = 8;
pub(crate) const REC_SEQ: usize = 12;

/// Rounds `n` up to the record alignment.
#[inline]
pub(crate) const fn align_record(n: u64) -> u64 {
    (n + (RECORD_ALIGN as u64 - 1)) & !(RECORD_ALIGN as u64 - 1)
}

/// Bytes a record with `payload_len` payload bytes occupies in the data region.
#[inline]
pub(crate) const fn framed_len(payload_len: u64) -> u64 {
    align_record(RECORD_HEADER_LEN as u64 + payload_len)
}

/// The sequence number stored in a record: its position in 8-byte units, truncated to 32 bits.
/// A consumer checks it against the position it reads from, which catches stale or misplaced
/// records cheaply.
#[inline]
pub(crate) const fn seq_for_position(pos: u64) -> u32 {
    (pos / RECORD_ALIGN as u64) as u32
}

/// Largest payload a ring of `capacity` bytes accepts: a framed record must fit in half the data
/// region, which guarantees that any record fits into an empty ring wherever the tail stands.
pub const fn max_payload_for_capacity(capacity: usize) -> usize {
    capacity / 2 - RECORD_HEADER_LEN
}
