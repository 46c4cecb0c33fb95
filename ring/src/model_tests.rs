//! Model tests of the claim / commit / consume protocol: the production `RingCore` code over a
//! heap-backed [`RingMem`] whose every word is a `shuttle` atomic, so shuttle explores the
//! interleavings of two producers and one consumer (random and PCT schedules). Capacities are
//! tiny (64 bytes of data) so that wrap-around, padding and full-ring paths are hit constantly.
//!
//! Shuttle explores schedules under sequential consistency; it does not model weak memory. loom
//! would (needs `--cfg loom` builds), Miri and ThreadSanitizer need a nightly toolchain; none of
//! them is available on the installed stable toolchain, so the Release/Acquire/SeqCst choices
//! are argued in comments at each atomic and in docs/design.md.

use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use shuttle::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize};

use crate::error::PushError;
use crate::layout::HEADER_LEN;
use crate::mem::RingMem;
use crate::protocol::{CreatorIdentity, RingCore, RingParams};

/// Heap memory with shuttle atomics: 64-bit header words, 32-bit data words.
struct HeapMem {
    header: Vec<AtomicU64>,
    data: Vec<AtomicU32>,
}

impl HeapMem {
    fn new(capacity: usize) -> Self {
        Self {
            header: (0..HEADER_LEN / 8).map(|_| AtomicU64::new(0)).collect(),
            data: (0..capacity / 4).map(|_| AtomicU32::new(0)).collect(),
        }
    }

    fn split(off: usize) -> (usize, u32) {
        assert!(
            off.is_multiple_of(4) && off < HEADER_LEN,
            "bad header offset {off}"
        );
        (off / 8, if off % 8 == 4 { 32 } else { 0 })
    }

    fn set_byte(&self, pos: usize, byte: u8) {
        let word = &self.data[pos / 4];
        let shift = (pos % 4) * 8;
        let old = word.load(Ordering::Relaxed);
        word.store(
            (old & !(0xFF << shift)) | ((byte as u32) << shift),
            Ordering::Relaxed,
        );
    }

    fn byte(&self, pos: usize) -> u8 {
        (self.data[pos / 4].load(Ordering::Relaxed) >> ((pos % 4) * 8)) as u8
    }
}

impl RingMem for HeapMem {
    fn capacity(&self) -> usize {
        self.data.len() * 4
    }
    fn load64(&self, off: usize, order: Ordering) -> u64 {
        assert!(off.is_multiple_of(8));
        self.header[off / 8].load(order)
    }
    fn store64(&self, off: usize, value: u64, order: Ordering) {
        assert!(off.is_multiple_of(8));
        self.header[off / 8].store(value, order)
    }
    fn cas64(
        &self,
        off: usize,
        current: u64,
        new: u64,
        success: Ordering,
        failure: Ordering,
    ) -> Result<u64, u64> {
        assert!(off.is_multiple_of(8));
        self.header[off / 8].compare_exchange(current, new, success, failure)
    }
    fn add64(&self, off: usize, value: u64, order: Ordering) -> u64 {
        self.header[off / 8].fetch_add(value, order)
    }
    fn max64(&self, off: usize, value: u64, order: Ordering) -> u64 {
        self.header[off / 8].fetch_max(value, order)
    }
    fn load32(&self, off: usize, order: Ordering) -> u32 {
        let (i, shift) = Self::split(off);
        (self.header[i].load(order) >> shift) as u32
    }
    fn store32(&self, off: usize, value: u32, order: Ordering) {
        let (i, shift) = Self::split(off);
        let mut cur = self.header[i].load(Ordering::Relaxed);
        loop {
            let new = (cur & !(0xFFFF_FFFFu64 << shift)) | ((value as u64) << shift);
            match self.header[i].compare_exchange(cur, new, order, Ordering::Relaxed) {
                Ok(_) => return,
                Err(actual) => cur = actual,
            }
        }
    }
    fn cas32(
        &self,
        off: usize,
        current: u32,
        new: u32,
        success: Ordering,
        failure: Ordering,
    ) -> Result<u32, u32> {
        let (i, shift) = Self::split(off);
        let mut cur = self.header[i].load(failure);
        loop {
            let half = (cur >> shift) as u32;
            if half != current {
                return Err(half);
            }
            let next = (cur & !(0xFFFF_FFFFu64 << shift)) | ((new as u64) << shift);
            match self.header[i].compare_exchange(cur, next, success, failure) {
                Ok(_) => return Ok(current),
                Err(actual) => cur = actual,
            }
        }
    }
    fn data_load32(&self, off: usize, order: Ordering) -> u32 {
        self.data[off / 4].load(order)
    }
    fn data_store32(&self, off: usize, value: u32, order: Ordering) {
        self.data[off / 4].store(value, order)
    }
    fn data_write(&self, off: usize, src: &[u8]) {
        for (i, b) in src.iter().enumerate() {
            self.set_byte(off + i, *b);
        }
    }
    fn data_read(&self, off: usize, dst: &mut [u8]) {
        for (i, b) in dst.iter_mut().enumerate() {
            *b = self.byte(off + i);
        }
    }
    fn data_zero(&self, off: usize, len: usize) {
        for i in 0..len {
            self.set_byte(off + i, 0);
        }
    }
    fn data_ptr(&self) -> Option<NonNull<u8>> {
        None
    }
}

fn model_ring(capacity: usize, max_payload: u32, checksum: bool) -> Arc<RingCore<HeapMem>> {
    let params = RingParams {
        capacity: capacity as u64,
        max_payload,
        checksum,
        wake_watermark: 16,
    };
    let core = RingCore::new(HeapMem::new(capacity), params);
    core.init_header(&CreatorIdentity::default());
    Arc::new(core)
}

/// Payload of record `i` of producer `p`: length varies so records wrap at different points.
fn payload(p: u8, i: u8) -> Vec<u8> {
    let len = 2 + (i as usize * 5 + p as usize * 3) % 11;
    let mut v = vec![p; len];
    v[1] = i;
    v
}

/// Pushes `payload(p, i)` for each `i`, aborting the claims listed in `abort`; returns how many
/// records were refused (full or contention).
fn produce(core: &RingCore<HeapMem>, p: u8, records: u8, abort: &[u8]) -> (u64, u64) {
    let (mut dropped, mut aborted) = (0, 0);
    for i in 0..records {
        let data = payload(p, i);
        match core.reserve(data.len()) {
            Ok(r) => {
                if abort.contains(&i) {
                    core.abort(&r);
                    aborted += 1;
                } else {
                    core.mem.data_write(core.payload_offset(&r), &data);
                    core.commit(&r, 2, 0, data.len() as u32);
                }
            }
            Err(PushError::Full | PushError::Contention) => dropped += 1,
            Err(e) => panic!("unexpected push error {e:?}"),
        }
    }
    (dropped, aborted)
}

/// Collects records, checking each against the model: right producer pattern, per-producer
/// order strictly increasing, no duplicates.
#[derive(Default)]
struct Seen {
    last: [Option<u8>; 4],
    count: u64,
}

impl Seen {
    fn take(&mut self, bytes: &[u8]) {
        let (p, i) = (bytes[0], bytes[1]);
        assert_eq!(bytes, payload(p, i).as_slice(), "torn or misplaced record");
        if let Some(prev) = self.last[p as usize] {
            assert!(i > prev, "producer {p}: record {i} after {prev}");
        }
        self.last[p as usize] = Some(i);
        self.count += 1;
    }
}

fn drain_all(
    core: &RingCore<HeapMem>,
    cursor: &mut crate::protocol::Cursor,
    seen: &mut Seen,
) -> u64 {
    let mut buf = Vec::new();
    let counts = core.drain(cursor, usize::MAX, usize::MAX, true, |r| {
        buf.resize(r.payload_len, 0);
        core.mem.data_read(r.payload_off, &mut buf);
        seen.take(&buf);
    });
    assert!(
        cursor.quarantine.is_none(),
        "quarantined: {:?}",
        cursor.quarantine
    );
    assert_eq!(counts.checksum_failures, 0);
    counts.records
}

/// Two producers (one aborting a claim) and a concurrent consumer on a 64-byte ring.
fn two_producers_one_consumer() {
    let core = model_ring(64, 16, true);
    let done = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = [(1u8, vec![2u8]), (2u8, vec![])]
        .into_iter()
        .map(|(p, abort)| {
            let (core, done) = (core.clone(), done.clone());
            shuttle::thread::spawn(move || {
                let r = produce(&core, p, 4, &abort);
                done.fetch_add(1, Ordering::SeqCst);
                r
            })
        })
        .collect();
    let mut cursor = core.open_cursor();
    let mut seen = Seen::default();
    while done.load(Ordering::SeqCst) < 2 {
        drain_all(&core, &mut cursor, &mut seen);
        shuttle::thread::yield_now();
    }
    let (mut dropped, mut aborted) = (0, 0);
    for h in handles {
        let (d, a) = h.join().unwrap();
        dropped += d;
        aborted += a;
    }
    drain_all(&core, &mut cursor, &mut seen);
    assert_eq!(
        core.used_bytes(),
        0,
        "everything committed must be consumed"
    );
    assert_eq!(
        seen.count + dropped + aborted,
        8,
        "exactly once or counted as dropped"
    );
    let stats = crate::stats::read_stats(&core);
    assert_eq!(stats.records_written, seen.count);
    assert_eq!(stats.records_read, seen.count);
    assert_eq!(
        stats.dropped_full_records + stats.dropped_contention,
        dropped
    );
    assert_eq!(stats.aborted_claims, aborted);
    // Zeroing restores the all-zero invariant of the data region.
    assert!(
        (0..64).all(|i| core.mem.byte(i) == 0),
        "consumed space must be zero"
    );
}

/// Seed of the shuttle schedulers: fixed, so that CI explores the same schedules every run;
/// `DRIFT_SHUTTLE_SEED=<u64>` explores others (see `tests/README.md`).
fn schedule_seed() -> u64 {
    match std::env::var("DRIFT_SHUTTLE_SEED") {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("DRIFT_SHUTTLE_SEED must be a u64, not {text:?}")),
        Err(_) => 0x5eed_d41f,
    }
}

fn check_random(f: impl Fn() + Send + Sync + 'static, iterations: usize) {
    shuttle::check_random_with_seed(f, schedule_seed(), iterations);
}

#[test]
fn shuttle_random_two_producers_one_consumer() {
    check_random(two_producers_one_consumer, 2000);
}

#[test]
fn shuttle_pct_two_producers_one_consumer() {
    let scheduler = shuttle::scheduler::PctScheduler::new_from_seed(schedule_seed(), 3, 2000);
    shuttle::Runner::new(scheduler, shuttle::Config::default()).run(two_producers_one_consumer);
}

/// A producer "dies" between claim and commit (either with its length already negative or
/// right after the CAS with a zero header) while another keeps pushing; after both stop,
/// recovery skips exactly one abandoned claim and delivers every committed record.
fn dead_producer_recovery(zero_header: bool) {
    let core = model_ring(64, 16, true);
    let dying = {
        let core = core.clone();
        shuttle::thread::spawn(move || {
            let data = payload(1, 0);
            if zero_header {
                core.reserve_without_header(data.len()).is_ok()
            } else {
                core.reserve(data.len()).is_ok()
            }
        })
    };
    let live = {
        let core = core.clone();
        shuttle::thread::spawn(move || produce(&core, 2, 4, &[]).0)
    };
    let mut cursor = core.open_cursor();
    let mut seen = Seen::default();
    drain_all(&core, &mut cursor, &mut seen);
    let claimed = dying.join().unwrap();
    let dropped = live.join().unwrap();
    loop {
        let drained = drain_all(&core, &mut cursor, &mut seen);
        let skipped = core.skip_abandoned(&mut cursor);
        assert!(cursor.quarantine.is_none(), "{:?}", cursor.quarantine);
        if drained == 0 && skipped.records == 0 {
            break;
        }
    }
    assert_eq!(core.used_bytes(), 0);
    assert_eq!(seen.count + dropped, 4);
    let stats = crate::stats::read_stats(&core);
    assert_eq!(stats.abandoned_records, u64::from(claimed));
    assert!((0..64).all(|i| core.mem.byte(i) == 0));
}

#[test]
fn shuttle_dead_producer_negative_length() {
    check_random(|| dead_producer_recovery(false), 1000);
}

#[test]
fn shuttle_dead_producer_zero_header() {
    check_random(|| dead_producer_recovery(true), 1000);
}

/// A consumer killed while zeroing released space (between `OFF_RELEASE_TO` and the head store):
/// the next consumer finishes the release from the mark, reads on from the right record and
/// does not quarantine. Without the mark, the same half-zeroed range is read as an abandoned claim
/// followed by the middle of a record, which quarantines the ring (the bug the mark fixes).
fn interrupted_release(with_mark: bool) {
    use crate::layout::OFF_RELEASE_TO;
    let core = model_ring(256, 64, true);
    let (dropped, _) = produce(&core, 1, 4, &[]);
    assert_eq!(dropped, 0);
    let mut dying = core.open_cursor();
    let mut buf = Vec::new();
    let mut first_two = Seen::default();
    core.drain(&mut dying, 2, usize::MAX, false, |r| {
        buf.resize(r.payload_len, 0);
        core.mem.data_read(r.payload_off, &mut buf);
        first_two.take(&buf);
    });
    assert_eq!(first_two.count, 2);
    // What `release_range` had done when the process died: the mark (or not), then half of the
    // zeroing; the head never moved.
    let (head, release_to) = (dying.head, dying.read);
    if with_mark {
        core.mem
            .store64(OFF_RELEASE_TO, release_to, Ordering::Release);
    }
    let half = ((release_to - head) / 2) as usize;
    core.mem.data_zero(head as usize, half);
    drop(dying);

    let mut next = core.open_cursor();
    let mut seen = Seen::default();
    let mut buf = Vec::new();
    core.drain(&mut next, usize::MAX, usize::MAX, true, |r| {
        buf.resize(r.payload_len, 0);
        core.mem.data_read(r.payload_off, &mut buf);
        seen.take(&buf);
    });
    if with_mark {
        assert!(next.quarantine.is_none(), "{:?}", next.quarantine);
        assert_eq!(
            next.head,
            core.mem.load64(crate::layout::OFF_HEAD, Ordering::Acquire)
        );
        assert_eq!(seen.count, 2, "records 3 and 4, once each");
        assert_eq!(seen.last[1], Some(3));
        assert_eq!(core.used_bytes(), 0);
    } else {
        core.skip_abandoned(&mut next);
        core.drain(&mut next, usize::MAX, usize::MAX, true, |_| {});
        assert!(
            next.quarantine.is_some(),
            "the half-zeroed range went unnoticed"
        );
    }
}

#[test]
fn shuttle_interrupted_release_is_finished_by_the_next_consumer() {
    check_random(|| interrupted_release(true), 1);
}

#[test]
fn shuttle_interrupted_release_without_the_mark_quarantines() {
    check_random(|| interrupted_release(false), 1);
}
