//! The claim / commit / consume protocol, generic over [`RingMem`].
//!
//! Positions (`head`, `tail`) are byte counts that only grow; `pos & mask` is the offset in the
//! data region. Producers claim `[tail, tail + n)` by CAS, write a record there and publish it by
//! storing its positive length with Release. The consumer reads the length with Acquire, checks
//! every field against the capacity it validated at attach time (the memory is untrusted),
//! hands the record out, zeroes what it consumed and then publishes the new head with Release.

use std::sync::atomic::{Ordering, fence};

use crate::error::PushError;
use crate::layout::*;
use crate::mem::RingMem;

/// How many times a producer retries a lost tail CAS before giving up with `Contention`.
pub(crate) const MAX_CAS_RETRIES: u32 = 64;

/// Parameters fixed at creation (producer) or validated at attach (consumer). They are cached
/// here and never re-read from shared memory.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RingParams {
    pub capacity: u64,
    pub max_payload: u32,
    pub checksum: bool,
    pub wake_watermark: u64,
}

/// Identity written into the header at creation.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CreatorIdentity {
    pub uid: u32,
    pub pid: u32,
    pub start_ticks: u64,
    pub created_unix_ns: u64,
    pub ring_id: u64,
}

/// A claimed, not yet committed slot.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reservation {
    /// Position of the record header.
    pub pos: u64,
    /// Bytes the record occupies (header + payload, aligned).
    pub framed: u64,
    /// Payload bytes claimed.
    pub payload_len: u32,
}

/// The protocol over one ring's memory.
pub(crate) struct RingCore<M> {
    pub mem: M,
    pub params: RingParams,
    mask: u64,
    max_framed: u64,
}

/// A record as found by the consumer; `payload_off` is an offset in the data region.
pub(crate) struct FoundRecord {
    /// Position right after the record.
    pub end: u64,
    /// Read before by a consumer that did not release it (position below the read mark
    /// found at attach).
    pub redelivered: bool,
    pub record_type: u16,
    pub flags: u16,
    pub seq: u32,
    pub payload_off: usize,
    pub payload_len: usize,
}

/// Consumer-side state that lives outside shared memory.
///
/// `head <= handed_end <= read`: `[head, read)` has been read but not released (the sink has
/// not confirmed it yet); `handed_end` is the end of the last record handed out, so padding read
/// after it is released together with it.
#[derive(Debug, Default)]
pub(crate) struct Cursor {
    pub head: u64,
    pub read: u64,
    pub handed_end: u64,
    /// Read mark found at attach: records below it were read by an earlier consumer.
    pub redeliver_until: u64,
    pub quarantine: Option<String>,
}

/// How the records of a released range ended (counted in the header).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    /// Confirmed by the sink.
    pub confirmed: u64,
    /// Given up by the sink (non-retryable rejection).
    pub export_failed: u64,
    /// Not exportable (not a span, undecodable).
    pub rejected: u64,
}

/// What one drain pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DrainCounts {
    pub records: u64,
    pub redelivered: u64,
    pub payload_bytes: u64,
    pub checksum_failures: u64,
    pub padding_bytes: u64,
}

/// What one abandoned-claim scan did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SkipCounts {
    pub records: u64,
    pub bytes: u64,
}

/// Outcome of inspecting the record at the head.
enum Slot {
    /// Nothing committed at the head (zero or negative length).
    Empty,
    Pad(u64),
    Record(FoundRecord, u64),
    /// Well-framed record whose checksum does not match; carries its framed length.
    BadChecksum(u64),
    Bad(String),
}

impl<M: RingMem> RingCore<M> {
    /// Wraps memory whose header is already valid for `params`.
    pub fn new(mem: M, params: RingParams) -> Self {
        debug_assert!(params.capacity.is_power_of_two());
        debug_assert_eq!(mem.capacity() as u64, params.capacity);
        Self {
            mem,
            mask: params.capacity - 1,
            max_framed: framed_len(params.max_payload as u64),
            params,
        }
    }

    /// Writes a fresh header into zeroed memory. The magic is written last, with Release, so an
    /// attacher never sees a half-written header with a valid magic.
    pub fn init_header(&self, id: &CreatorIdentity) {
        let m = &self.mem;
        let r = Ordering::Relaxed;
        m.store32(OFF_VERSION, LAYOUT_VERSION, r);
        m.store32(OFF_HEADER_LEN, HEADER_LEN as u32, r);
        m.store64(OFF_CAPACITY, self.params.capacity, r);
        m.store32(OFF_MAX_PAYLOAD, self.params.max_payload, r);
        m.store32(
            OFF_FLAGS,
            if self.params.checksum {
                HEADER_FLAG_CHECKSUM
            } else {
                0
            },
            r,
        );
        m.store32(OFF_CREATOR_UID, id.uid, r);
        m.store32(OFF_CREATOR_PID, id.pid, r);
        m.store64(OFF_CREATOR_START_TICKS, id.start_ticks, r);
        m.store64(OFF_CREATED_UNIX_NS, id.created_unix_ns, r);
        m.store64(OFF_RING_ID, id.ring_id, r);
        m.store64(OFF_WAKE_WATERMARK, self.params.wake_watermark, r);
        m.store64(OFF_MAGIC, u64::from_ne_bytes(MAGIC), Ordering::Release);
    }

    #[inline]
    fn count(&self, off: usize, n: u64) {
        self.mem.add64(off, n, Ordering::Relaxed);
    }

    // ----------------------------------------------------------------------------------------
    // Producer side
    // ----------------------------------------------------------------------------------------

    /// Claims space for a record of `payload_len` bytes. Never waits: a full ring, an oversize
    /// record, a closed ring or a lost CAS race beyond [`MAX_CAS_RETRIES`] return at once and are
    /// counted. On success the record's length is already written negative ("being written").
    #[inline]
    pub fn reserve(&self, payload_len: usize) -> Result<Reservation, PushError> {
        let reservation = self.reserve_without_header(payload_len)?;
        let off = (reservation.pos & self.mask) as usize;
        let len = RECORD_HEADER_LEN as u32 + reservation.payload_len;
        self.mem.data_store32(
            off + REC_LEN,
            (len as i32).wrapping_neg() as u32,
            Ordering::Relaxed,
        );
        // Orders the negative length before every payload byte, so that a crash leaves either a
        // fully zero claim or one that starts with a negative length (what recovery relies on).
        fence(Ordering::Release);
        Ok(reservation)
    }

    /// The CAS part of [`Self::reserve`]: claims the range (writing the wrap padding if needed)
    /// but leaves the record header zero. Production code always goes through `reserve`; the
    /// crash-injection hook uses this directly to leave a claimed-but-zero slot behind.
    pub fn reserve_without_header(&self, payload_len: usize) -> Result<Reservation, PushError> {
        let m = &self.mem;
        if payload_len > self.params.max_payload as usize {
            self.count(OFF_DROPPED_TOO_LARGE, 1);
            return Err(PushError::TooLarge);
        }
        let cap = self.params.capacity;
        let framed = framed_len(payload_len as u64);
        let mut head = m.load64(OFF_HEAD_CACHE, Ordering::Acquire);
        let mut tail = m.load64(OFF_TAIL, Ordering::Acquire);
        for _ in 0..MAX_CAS_RETRIES {
            if m.load64(OFF_CLOSED, Ordering::Relaxed) != 0 {
                self.count(OFF_DROPPED_CLOSED, 1);
                return Err(PushError::Closed);
            }
            let to_end = cap - (tail & self.mask);
            let pad = if framed > to_end { to_end } else { 0 };
            let required = framed + pad;
            if !fits(tail, head, cap, required) {
                // The cached head is stale or the ring really is full: look at the real head once.
                head = m.load64(OFF_HEAD, Ordering::Acquire);
                if !fits(tail, head, cap, required) {
                    self.count(OFF_DROPPED_FULL_RECORDS, 1);
                    self.count(OFF_DROPPED_FULL_BYTES, framed);
                    return Err(PushError::Full);
                }
                m.store64(OFF_HEAD_CACHE, head, Ordering::Release);
            }
            // SeqCst pairs with the consumer's SeqCst "sleeping" store + tail load: either the
            // consumer sees this claim before sleeping, or we see it sleeping (see `maybe_wake`).
            match m.cas64(
                OFF_TAIL,
                tail,
                tail.wrapping_add(required),
                Ordering::SeqCst,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    if pad > 0 {
                        let off = (tail & self.mask) as usize;
                        m.data_store32(
                            off + REC_TYPE_FLAGS,
                            RECORD_TYPE_PAD as u32,
                            Ordering::Relaxed,
                        );
                        m.data_store32(off + REC_LEN, pad as u32, Ordering::Release);
                    }
                    return Ok(Reservation {
                        pos: tail.wrapping_add(pad),
                        framed,
                        payload_len: payload_len as u32,
                    });
                }
                Err(actual) => tail = actual,
            }
        }
        self.count(OFF_DROPPED_CONTENTION, 1);
        Err(PushError::Contention)
    }

    /// Offset in the data region of a reservation's payload.
    #[inline]
    pub fn payload_offset(&self, r: &Reservation) -> usize {
        (r.pos & self.mask) as usize + RECORD_HEADER_LEN
    }

    /// Publishes a reservation whose first `payload_len` payload bytes are written
    /// (`payload_len <= r.payload_len`); any claimed space beyond is turned into a padding record.
    #[inline]
    pub fn commit(&self, r: &Reservation, record_type: u16, flags: u16, payload_len: u32) {
        let m = &self.mem;
        let off = (r.pos & self.mask) as usize;
        let payload_len = payload_len.min(r.payload_len);
        let framed = framed_len(payload_len as u64);
        if framed < r.framed {
            // Truncated commit: the tail of the claim becomes padding, published before the
            // record so the consumer never meets an unpublished gap after it.
            let pad_off = off + framed as usize;
            m.data_store32(
                pad_off + REC_TYPE_FLAGS,
                RECORD_TYPE_PAD as u32,
                Ordering::Relaxed,
            );
            m.data_store32(
                pad_off + REC_LEN,
                (r.framed - framed) as u32,
                Ordering::Release,
            );
        }
        let len = RECORD_HEADER_LEN as u32 + payload_len;
        let type_flags = record_type as u32 | ((flags as u32) << 16);
        let seq = seq_for_position(r.pos);
        let crc = if self.params.checksum {
            let crc = m.data_crc32c(off + RECORD_HEADER_LEN, payload_len as usize);
            record_checksum(crc, len, type_flags, seq)
        } else {
            0
        };
        m.data_store32(off + REC_TYPE_FLAGS, type_flags, Ordering::Relaxed);
        m.data_store32(off + REC_CRC, crc, Ordering::Relaxed);
        m.data_store32(off + REC_SEQ, seq, Ordering::Relaxed);
        m.data_store32(off + REC_LEN, len, Ordering::Release);
        self.maybe_wake(r.pos + r.framed, flags & FLAG_URGENT != 0);
    }

    /// Turns a reservation into a padding record (a claim given up before commit).
    pub fn abort(&self, r: &Reservation) {
        let off = (r.pos & self.mask) as usize;
        self.mem.data_store32(
            off + REC_TYPE_FLAGS,
            RECORD_TYPE_PAD as u32,
            Ordering::Relaxed,
        );
        self.mem
            .data_store32(off + REC_LEN, r.framed as u32, Ordering::Release);
        self.count(OFF_ABORTED_CLAIMS, 1);
        self.maybe_wake(r.pos + r.framed, false);
    }

    /// Wakes a sleeping consumer when this record's end crosses the fill watermark (or the record
    /// is urgent). At most one wake per sleep episode: the CAS SLEEPING -> AWAKE elects one waker.
    #[inline]
    fn maybe_wake(&self, end: u64, urgent: bool) {
        let m = &self.mem;
        if m.load32(OFF_CONSUMER_STATE, Ordering::SeqCst) != CONSUMER_SLEEPING {
            return;
        }
        // Slow path (the consumer sleeps): read the real head, the cached one may be a lap old.
        let head = m.load64(OFF_HEAD, Ordering::Acquire);
        if urgent || end.wrapping_sub(head) >= self.params.wake_watermark {
            self.wake_now();
        }
    }

    /// Wakes the consumer if it sleeps, whatever the fill level.
    pub fn wake_now(&self) {
        let m = &self.mem;
        if m.cas32(
            OFF_CONSUMER_STATE,
            CONSUMER_SLEEPING,
            CONSUMER_AWAKE,
            Ordering::SeqCst,
            Ordering::Relaxed,
        )
        .is_ok()
        {
            self.count(OFF_WAKEUPS_SENT, 1);
            if let Some(word) = self.futex_word() {
                crate::futex::wake(word);
            }
        }
    }

    /// Address of the consumer-state futex word, when the memory is a real mapping.
    pub fn futex_word(&self) -> Option<*const u32> {
        // The header page sits right before the data region.
        self.mem.data_ptr().map(|p| {
            p.as_ptr()
                .wrapping_sub(HEADER_LEN)
                .wrapping_add(OFF_CONSUMER_STATE) as *const u32
        })
    }

    /// Marks the ring closed: later pushes fail with `Closed`; wakes the consumer.
    pub fn close(&self) {
        self.mem.store64(OFF_CLOSED, 1, Ordering::Release);
        self.wake_now();
    }

    /// Whether the consumer has marked itself asleep on the futex word.
    pub fn consumer_is_sleeping(&self) -> bool {
        self.mem.load32(OFF_CONSUMER_STATE, Ordering::SeqCst) == CONSUMER_SLEEPING
    }

    pub fn is_closed(&self) -> bool {
        self.mem.load64(OFF_CLOSED, Ordering::Acquire) != 0
    }

    // ----------------------------------------------------------------------------------------
    // Consumer side
    // ----------------------------------------------------------------------------------------

    /// Validates the head stored in the header when a consumer attaches (resuming after a
    /// consumer restart). A bad head quarantines the ring.
    pub fn open_cursor(&self) -> Cursor {
        let mut head = self.mem.load64(OFF_HEAD, Ordering::Acquire);
        let tail = self.mem.load64(OFF_TAIL, Ordering::Acquire);
        // A release interrupted by the death of the previous consumer (its mark is past the head
        // and within the used space): its records were settled and counted, so finish it.
        let release_to = self.mem.load64(OFF_RELEASE_TO, Ordering::Acquire);
        let pending = release_to.wrapping_sub(head);
        if pending != 0
            && tail.wrapping_sub(head) <= self.params.capacity
            && pending <= tail.wrapping_sub(head)
            && head.is_multiple_of(RECORD_ALIGN as u64)
            && release_to.is_multiple_of(RECORD_ALIGN as u64)
        {
            self.zero_span(head, pending);
            self.mem.store64(OFF_HEAD, release_to, Ordering::Release);
            head = release_to;
        }
        let read_high = self.mem.load64(OFF_READ_HIGH, Ordering::Acquire);
        // A read mark outside [head, tail] (corrupt, or from before a wrap of the counter) only
        // means nothing is known to be redelivered.
        let redeliver_until = if read_high.wrapping_sub(head) <= tail.wrapping_sub(head)
            && read_high.is_multiple_of(RECORD_ALIGN as u64)
        {
            read_high
        } else {
            head
        };
        self.count(OFF_CONSUMER_ATTACHES, 1);
        let mut cursor = Cursor {
            head,
            read: head,
            handed_end: head,
            redeliver_until,
            quarantine: None,
        };
        if !head.is_multiple_of(RECORD_ALIGN as u64)
            || !tail.is_multiple_of(RECORD_ALIGN as u64)
            || tail.wrapping_sub(head) > self.params.capacity
        {
            self.quarantine(
                &mut cursor,
                format!("inconsistent indices: head {head}, tail {tail}"),
            );
        }
        if self.mem.load64(OFF_QUARANTINED, Ordering::Relaxed) != 0 && cursor.quarantine.is_none() {
            cursor.quarantine = Some("ring was quarantined by an earlier consumer".into());
        }
        cursor
    }

    fn quarantine(&self, cursor: &mut Cursor, reason: String) {
        if cursor.quarantine.is_none() {
            self.count(OFF_MALFORMED_RECORDS, 1);
            self.mem.store64(OFF_QUARANTINED, 1, Ordering::Relaxed);
            cursor.quarantine = Some(reason);
        }
    }

    /// Whether a committed record (or padding) waits at the head.
    #[inline]
    pub fn committed_at(&self, head: u64) -> bool {
        (self
            .mem
            .data_load32((head & self.mask) as usize, Ordering::Acquire) as i32)
            > 0
    }

    /// Inspects the record at `head` with every field bounds-checked. `tail` is refreshed when the
    /// record seems to extend past it.
    fn inspect(&self, head: u64, tail: &mut u64) -> Slot {
        let m = &self.mem;
        let cap = self.params.capacity;
        if head == *tail {
            // Never read at the tail: space this pass consumed is only zeroed at its end, and a
            // pass that went round the ring would meet its own records again.
            *tail = m.load64(OFF_TAIL, Ordering::Acquire);
            if head == *tail {
                return Slot::Empty;
            }
        }
        let idx = head & self.mask;
        let len = m.data_load32(idx as usize + REC_LEN, Ordering::Acquire) as i32;
        if len <= 0 {
            return Slot::Empty;
        }
        let len = len as u64;
        let type_flags = m.data_load32(idx as usize + REC_TYPE_FLAGS, Ordering::Relaxed);
        let record_type = type_flags as u16;
        let framed = if record_type == RECORD_TYPE_PAD {
            if len < RECORD_ALIGN as u64 || !len.is_multiple_of(RECORD_ALIGN as u64) {
                return Slot::Bad(format!("padding length {len} at position {head}"));
            }
            len
        } else {
            if record_type == 0 {
                return Slot::Bad(format!("record type 0 at position {head}"));
            }
            if len < RECORD_HEADER_LEN as u64 || align_record(len) > self.max_framed {
                return Slot::Bad(format!("record length {len} at position {head}"));
            }
            align_record(len)
        };
        if framed > cap - idx {
            return Slot::Bad(format!(
                "record of {framed} bytes at offset {idx} crosses the end of the ring"
            ));
        }
        if head.wrapping_add(framed).wrapping_sub(*tail) as i64 > 0 {
            // Our tail may predate the producer's claim: the Acquire on the length above makes
            // the claiming CAS visible now.
            *tail = m.load64(OFF_TAIL, Ordering::Acquire);
            let used = tail.wrapping_sub(head);
            if used > cap || framed > used {
                return Slot::Bad(format!(
                    "record of {framed} bytes at position {head} extends past tail {tail}"
                ));
            }
        }
        if record_type == RECORD_TYPE_PAD {
            return Slot::Pad(framed);
        }
        let seq = m.data_load32(idx as usize + REC_SEQ, Ordering::Relaxed);
        if seq != seq_for_position(head) {
            return Slot::Bad(format!(
                "sequence {seq} at position {head}, expected {}",
                seq_for_position(head)
            ));
        }
        let record = FoundRecord {
            end: head.wrapping_add(framed),
            redelivered: false,
            record_type,
            flags: (type_flags >> 16) as u16,
            seq,
            payload_off: idx as usize + RECORD_HEADER_LEN,
            payload_len: len as usize - RECORD_HEADER_LEN,
        };
        if self.params.checksum {
            let stored = m.data_load32(idx as usize + REC_CRC, Ordering::Relaxed);
            let crc = m.data_crc32c(record.payload_off, record.payload_len);
            if record_checksum(crc, len as u32, type_flags, seq) != stored {
                return Slot::BadChecksum(framed);
            }
        }
        Slot::Record(record, framed)
    }

    /// Hands committed records at the read cursor to `f`, up to the limits. With `release`, then
    /// zeroes the consumed space and publishes the new head (consume on read); without, the
    /// records stay in the ring until [`Self::release_to`] (consume on acknowledgement). Records
    /// with a bad checksum are counted and skipped; malformed framing quarantines the ring (the
    /// records before it are still delivered).
    pub fn drain(
        &self,
        cursor: &mut Cursor,
        max_records: usize,
        max_bytes: usize,
        release: bool,
        mut f: impl FnMut(&FoundRecord),
    ) -> DrainCounts {
        let mut counts = DrainCounts::default();
        if cursor.quarantine.is_some() {
            return counts;
        }
        let start = cursor.read;
        let mut pos = start;
        let mut tail = self.mem.load64(OFF_TAIL, Ordering::Acquire);
        let used = tail.wrapping_sub(cursor.head);
        if used > self.params.capacity || start.wrapping_sub(cursor.head) > used {
            self.quarantine(
                cursor,
                format!(
                    "inconsistent indices: head {}, read {start}, tail {tail}",
                    cursor.head
                ),
            );
            return counts;
        }
        self.mem.max64(OFF_HIGH_WATER, used, Ordering::Relaxed);
        let (mut fresh_records, mut fresh_bytes, mut fresh_bad) = (0u64, 0u64, 0u64);
        let mut handed_end = cursor.handed_end;
        while (counts.records as usize) < max_records {
            match self.inspect(pos, &mut tail) {
                Slot::Empty => break,
                Slot::Bad(reason) => {
                    self.quarantine(cursor, reason);
                    break;
                }
                Slot::Pad(framed) => {
                    counts.padding_bytes += framed;
                    pos = pos.wrapping_add(framed);
                }
                Slot::BadChecksum(framed) => {
                    counts.checksum_failures += 1;
                    if !before(pos, cursor.redeliver_until) {
                        fresh_bad += 1;
                    }
                    pos = pos.wrapping_add(framed);
                }
                Slot::Record(mut record, framed) => {
                    if counts.records > 0
                        && counts.payload_bytes + record.payload_len as u64 > max_bytes as u64
                    {
                        break;
                    }
                    record.redelivered = before(pos, cursor.redeliver_until);
                    f(&record);
                    counts.records += 1;
                    counts.payload_bytes += record.payload_len as u64;
                    if record.redelivered {
                        counts.redelivered += 1;
                    } else {
                        fresh_records += 1;
                        fresh_bytes += record.payload_len as u64;
                    }
                    pos = pos.wrapping_add(framed);
                    handed_end = pos;
                }
            }
        }
        cursor.read = pos;
        cursor.handed_end = handed_end;
        if counts.records > 0 || counts.padding_bytes > 0 || counts.checksum_failures > 0 {
            // Another consumer attaching after a crash of this one treats everything below the
            // mark as possibly delivered.
            self.mem.max64(OFF_READ_HIGH, pos, Ordering::Release);
        }
        if release {
            self.release_to(
                cursor,
                pos,
                Settled {
                    confirmed: counts.records,
                    ..Settled::default()
                },
            );
        } else if cursor.handed_end == cursor.head && cursor.read != cursor.head {
            // Nothing handed out is waiting for an acknowledgement: release the padding and
            // bad records read meanwhile at once.
            self.release_range(cursor, pos);
        }
        self.count(OFF_RECORDS_READ, fresh_records);
        self.count(OFF_BYTES_READ, fresh_bytes);
        self.count(OFF_PADDING_BYTES, counts.padding_bytes);
        self.count(OFF_CHECKSUM_FAILURES, fresh_bad);
        self.count(OFF_REDELIVERED_RECORDS, counts.redelivered);
        counts
    }

    /// Releases the read records up to `up_to` (the end of a record handed out, or the read
    /// cursor), counting how they ended. When `up_to` is the end of the last record handed out,
    /// padding read after it is released too. Returns false (and does nothing) if `up_to` is not
    /// in `[head, read]`.
    pub fn release_to(&self, cursor: &mut Cursor, up_to: u64, settled: Settled) -> bool {
        if up_to.wrapping_sub(cursor.head) > cursor.read.wrapping_sub(cursor.head)
            || !up_to.is_multiple_of(RECORD_ALIGN as u64)
        {
            return false;
        }
        let new_head = if up_to == cursor.handed_end {
            cursor.read
        } else {
            up_to
        };
        self.count(OFF_CONFIRMED_RECORDS, settled.confirmed);
        self.count(OFF_EXPORT_FAILED_RECORDS, settled.export_failed);
        self.count(OFF_REJECTED_RECORDS, settled.rejected);
        if before(cursor.handed_end, new_head) {
            cursor.handed_end = new_head;
        }
        self.release_range(cursor, new_head);
        true
    }

    /// Zeroes `[cursor.head, new_head)` and publishes `new_head`. The target is recorded first
    /// (`OFF_RELEASE_TO`): a consumer that dies while zeroing leaves a partly zeroed range, which
    /// the next consumer would read as an abandoned claim followed by garbage; with the mark it
    /// finishes this release instead ([`Self::open_cursor`]).
    fn release_range(&self, cursor: &mut Cursor, new_head: u64) {
        let len = new_head.wrapping_sub(cursor.head);
        if len == 0 {
            return;
        }
        self.mem
            .store64(OFF_RELEASE_TO, new_head, Ordering::Release);
        self.zero_span(cursor.head, len);
        cursor.head = new_head;
        if before(cursor.read, new_head) {
            cursor.read = new_head;
        }
        // Release: producers that see the new head also see the zeroes.
        self.mem.store64(OFF_HEAD, new_head, Ordering::Release);
    }

    /// Zeroes `len` bytes of the data region from ring position `from` (wrapping).
    fn zero_span(&self, from: u64, len: u64) {
        let idx = from & self.mask;
        let first = len.min(self.params.capacity - idx);
        self.mem.data_zero(idx as usize, first as usize);
        if first < len {
            self.mem.data_zero(0, (len - first) as usize);
        }
    }

    /// Skips abandoned claims at the head; only sound when the producer process is dead.
    /// A negative length is a record whose writer died; a zero word inside `[head, tail)` starts
    /// a claim whose writer died before writing anything: the scan skips to the next non-zero
    /// 8-byte word (or to the tail). Stops at the first committed record.
    pub fn skip_abandoned(&self, cursor: &mut Cursor) -> SkipCounts {
        let mut counts = SkipCounts::default();
        // Only when nothing read waits for an acknowledgement: skipping releases space.
        if cursor.quarantine.is_some() || cursor.read != cursor.head {
            return counts;
        }
        let cap = self.params.capacity;
        let tail = self.mem.load64(OFF_TAIL, Ordering::Acquire);
        let used = tail.wrapping_sub(cursor.head);
        if used > cap || !tail.is_multiple_of(RECORD_ALIGN as u64) {
            self.quarantine(
                cursor,
                format!("inconsistent indices: head {}, tail {tail}", cursor.head),
            );
            return counts;
        }
        while cursor.head != tail {
            let idx = cursor.head & self.mask;
            let len =
                self.mem
                    .data_load32(idx as usize + REC_LEN, Ordering::Acquire) as i32;
            if len > 0 {
                break;
            }
            let skip = if len < 0 {
                let abs = len.unsigned_abs() as u64;
                let framed = align_record(abs);
                if abs < RECORD_HEADER_LEN as u64
                    || framed > self.max_framed
                    || framed > cap - idx
                    || framed > tail.wrapping_sub(cursor.head)
                {
                    self.quarantine(
                        cursor,
                        format!("abandoned record length {abs} at position {}", cursor.head),
                    );
                    break;
                }
                framed
            } else {
                let run = self.zero_run(cursor.head, tail);
                if run == 0 {
                    // A zero length followed by a non-zero type word: not something we write.
                    self.quarantine(
                        cursor,
                        format!(
                            "zero length with non-zero header at position {}",
                            cursor.head
                        ),
                    );
                    break;
                }
                run
            };
            counts.records += 1;
            counts.bytes += skip;
            let new_head = cursor.head.wrapping_add(skip);
            self.release_range(cursor, new_head);
            cursor.handed_end = new_head;
        }
        self.count(OFF_ABANDONED_RECORDS, counts.records);
        self.count(OFF_ABANDONED_BYTES, counts.bytes);
        counts
    }

    /// Length of the run of zero 8-byte words starting at `from`, bounded by `tail`.
    fn zero_run(&self, from: u64, tail: u64) -> u64 {
        let mut pos = from;
        while pos != tail {
            let idx = (pos & self.mask) as usize;
            if self.mem.data_load32(idx, Ordering::Acquire) != 0
                || self.mem.data_load32(idx + 4, Ordering::Relaxed) != 0
            {
                break;
            }
            pos = pos.wrapping_add(RECORD_ALIGN as u64);
        }
        pos.wrapping_sub(from)
    }

    /// Committed records (and their payload bytes) between head and tail, found by walking the
    /// framing with every length bounds-checked. Producers keep no per-record counter (it would
    /// cost a contended atomic per push), so statistics derive "written" from this walk plus
    /// what the consumer has read. Approximate while producers write: the walk stops at the
    /// first claim whose header is not written yet.
    pub fn pending_committed(&self) -> (u64, u64) {
        let m = &self.mem;
        let head = m.load64(OFF_HEAD, Ordering::Acquire);
        let tail = m.load64(OFF_TAIL, Ordering::Acquire);
        let (mut records, mut bytes, mut pos) = (0, 0, head);
        if tail.wrapping_sub(head) > self.params.capacity
            || !head.is_multiple_of(RECORD_ALIGN as u64)
        {
            return (0, 0);
        }
        while pos != tail && tail.wrapping_sub(pos) <= self.params.capacity {
            let idx = pos & self.mask;
            let len = m.data_load32(idx as usize + REC_LEN, Ordering::Acquire) as i32;
            if len == 0 {
                break;
            }
            let abs = len.unsigned_abs() as u64;
            let framed = align_record(abs);
            if abs < RECORD_ALIGN as u64 || framed > self.params.capacity - idx {
                break;
            }
            let record_type =
                m.data_load32(idx as usize + REC_TYPE_FLAGS, Ordering::Relaxed) as u16;
            if len > 0 && record_type != RECORD_TYPE_PAD && abs >= RECORD_HEADER_LEN as u64 {
                records += 1;
                bytes += abs - RECORD_HEADER_LEN as u64;
            }
            pos = pos.wrapping_add(framed);
        }
        (records, bytes)
    }

    /// Bytes claimed but not yet consumed.
    pub fn used_bytes(&self) -> u64 {
        let tail = self.mem.load64(OFF_TAIL, Ordering::Acquire);
        let head = self.mem.load64(OFF_HEAD, Ordering::Acquire);
        tail.wrapping_sub(head).min(self.params.capacity)
    }
}

/// Whether position `a` comes before `b` (positions only grow; wrapping-safe).
#[inline]
fn before(a: u64, b: u64) -> bool {
    (a.wrapping_sub(b) as i64) < 0
}

/// Whether `required` more bytes fit after `tail` given `head`. A head/tail pair that is not
/// consistent, or a misaligned tail (a corrupt header), counts as full, so producers never write
/// outside their claim or at a misaligned offset.
#[inline]
fn fits(tail: u64, head: u64, cap: u64, required: u64) -> bool {
    let used = tail.wrapping_sub(head);
    used <= cap && required <= cap - used && tail.is_multiple_of(RECORD_ALIGN as u64)
}

/// The stored checksum: the payload's CRC-32C XOR a multiplicative hash of the header fields
/// (length, type, flags, sequence), so a corrupted header is caught too without a second CRC
/// pass over them.
#[inline]
fn record_checksum(payload_crc: u32, len: u32, type_flags: u32, seq: u32) -> u32 {
    let fields = (len as u64 | (type_flags as u64) << 32) ^ (seq as u64).rotate_left(21);
    let mixed = fields.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    payload_crc ^ (mixed >> 32) as u32 ^ mixed as u32
}
