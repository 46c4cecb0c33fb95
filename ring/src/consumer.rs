//! The consumer side: one per ring, drains committed records in order.

use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::backing::{self, Mapping};
use crate::config::AttachOptions;
use crate::error::RingError;
use crate::futex;
use crate::handle::RingHandle;
use crate::layout::{CONSUMER_AWAKE, CONSUMER_SLEEPING, OFF_CONSUMER_STATE, OFF_TAIL};
use crate::mem::RingMem;
use crate::process::{self, LockProbe};
use crate::producer::Producer;
use crate::protocol::{Cursor, FoundRecord, Settled};
use crate::stats::{RingStats, read_stats};

/// Busy-poll iterations before yielding, and yields before sleeping, in [`Consumer::wait_for_data`].
const SPIN_ITERATIONS: u32 = 128;
const YIELD_ITERATIONS: u32 = 8;
/// Sleep bound while records are claimed but not committed (a slow or dead writer at the head).
const IN_PROGRESS_NAP: Duration = Duration::from_millis(1);

/// One record handed out by [`Consumer::drain`]. `payload` points straight into the ring
/// (records never wrap, so it is always one slice); it is only valid inside the callback.
///
/// The ring is shared memory: a misbehaving producer process could still scribble over the bytes
/// while the callback reads them. Framing, bounds and the checksum were verified before the
/// callback; decoders of the payload must still treat it as untrusted input.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// Record type given by the producer (1 ..= 0xFFFE).
    pub record_type: u16,
    /// Record flags given by the producer.
    pub flags: u16,
    /// Position-derived sequence number (position / 8, truncated to 32 bits).
    pub seq: u32,
    /// Ring position right after this record: what [`Consumer::release`] takes to release
    /// everything up to and including it.
    pub end: u64,
    /// An earlier consumer of this ring read the record and died (or detached) before releasing
    /// it: it may have been delivered already (counted `redelivered_records`).
    pub redelivered: bool,
    /// The payload bytes.
    pub payload: &'a [u8],
}

/// What one [`Consumer::drain`] call did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DrainSummary {
    /// Records handed to the callback.
    pub records: u64,
    /// Of those, records an earlier consumer had read and not released.
    pub redelivered: u64,
    /// Payload bytes handed to the callback.
    pub bytes: u64,
    /// Records skipped because of a checksum mismatch.
    pub checksum_failures: u64,
    /// Padding bytes skipped.
    pub padding_bytes: u64,
    /// The ring was quarantined during this call (malformed framing); later calls fail.
    pub quarantined: bool,
}

/// What recovery of a dead producer's ring did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Committed records handed to the callback.
    pub records_recovered: u64,
    /// Their payload bytes.
    pub bytes_recovered: u64,
    /// Abandoned claims skipped (negative length, or a claimed range still zero).
    pub abandoned_records: u64,
    /// Bytes of those claims.
    pub abandoned_bytes: u64,
    /// Records skipped because of a checksum mismatch.
    pub checksum_failures: u64,
    /// The ring turned out malformed and was quarantined.
    pub quarantined: bool,
}

/// Whether the ring's producer can still write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// The creating process holds the ring's liveness lock and has not closed the ring.
    Alive,
    /// No process holds the liveness lock: the creating process is gone.
    Dead,
    /// The creating process runs but closed the ring: no new claims will be made.
    Closed,
    /// The liveness lock could not be probed (an OS error): nothing is known; ask again later.
    /// Never a reason to recover or remove a ring.
    Unknown,
}

/// The reading end of a ring. Exactly one per ring: [`Consumer::attach`] takes an advisory
/// lock on the file (released by the kernel if this process dies), [`Consumer::from_producer`]
/// takes the in-process slot.
pub struct Consumer {
    handle: Arc<RingHandle>,
    cursor: Cursor,
    in_process: bool,
    scratch: Vec<u8>,
    /// Fork generation this consumer was made in: a copy inherited by a child must not drain
    /// (the parent's consumer still does) nor release the parent's lock.
    fork_generation: u64,
}

impl Consumer {
    /// Attaches to a named ring file. Refuses (with a specific [`RingError`]) symlinks, non
    /// regular files, files of another owner, group- or world-writable files, a wrong magic,
    /// version, capacity, record size or file size, and rings that already have a consumer.
    pub fn attach(path: &Path, opts: &AttachOptions) -> Result<Consumer, RingError> {
        let (mapping, info) = backing::attach_path(path, opts)?;
        Self::from_mapping(mapping, info)
    }

    /// Attaches to a ring received as an fd (a memfd from [`Producer::create_memfd`]). The same
    /// checks as [`Consumer::attach`] except the path-based ones (symlink, mode).
    pub fn attach_fd(fd: OwnedFd, opts: &AttachOptions) -> Result<Consumer, RingError> {
        let file = backing::reopen_own_description(std::fs::File::from(fd));
        let (mapping, info) = backing::attach_file(file, None, opts)?;
        Self::from_mapping(mapping, info)
    }

    fn from_mapping(mapping: Mapping, info: backing::HeaderInfo) -> Result<Consumer, RingError> {
        let shown = mapping.path.clone().unwrap_or_else(|| "<fd>".into());
        backing::lock_consumer(&mapping.file, &shown)?;
        let handle = RingHandle::new(
            mapping,
            info.params,
            info.creator_pid,
            info.creator_start_ticks,
        );
        let cursor = handle.core.open_cursor();
        Ok(Consumer {
            handle: Arc::new(handle),
            cursor,
            in_process: false,
            scratch: Vec::new(),
            fork_generation: process::fork_generation(),
        })
    }

    /// The consumer of a ring created in this process (the in-process exporter thread), sharing
    /// the producer's mapping. Fails if the ring already has a consumer.
    pub fn from_producer(producer: &Producer) -> Result<Consumer, RingError> {
        let handle = producer.handle().clone();
        let shown = handle
            .mapping
            .path
            .clone()
            .unwrap_or_else(|| "<memfd>".into());
        if handle.consumer_taken.swap(true, Ordering::AcqRel) {
            return Err(RingError::ConsumerExists { path: shown });
        }
        if let Err(e) = backing::lock_consumer(&handle.mapping.file, &shown) {
            handle.consumer_taken.store(false, Ordering::Release);
            return Err(e);
        }
        let cursor = handle.core.open_cursor();
        Ok(Consumer {
            handle,
            cursor,
            in_process: true,
            scratch: Vec::new(),
            fork_generation: process::fork_generation(),
        })
    }

    /// Hands up to `max_records` committed records (and about `max_bytes` payload bytes, at
    /// least one record) to `f` in ring order, then zeroes the consumed space and advances the
    /// head. Never blocks. Fails only if the ring was quarantined by an earlier call.
    pub fn drain(
        &mut self,
        max_records: usize,
        max_bytes: usize,
        f: impl FnMut(Record<'_>),
    ) -> Result<DrainSummary, RingError> {
        self.drain_inner(max_records, max_bytes, true, f)
    }

    /// Acknowledged consumption: like [`Consumer::drain`] but the records stay in the ring (the
    /// head does not move, producers cannot reuse their space) until [`Consumer::release`] is
    /// called with a position at or after their [`Record::end`]. Reads continue from a private
    /// read cursor. If this consumer dies, the next one re-reads from the head: at-least-once,
    /// the records read but not released are handed out again flagged `redelivered`.
    pub fn read(
        &mut self,
        max_records: usize,
        max_bytes: usize,
        f: impl FnMut(Record<'_>),
    ) -> Result<DrainSummary, RingError> {
        self.drain_inner(max_records, max_bytes, false, f)
    }

    /// Releases every record read up to `up_to` (a [`Record::end`] from [`Consumer::read`], in
    /// order), counting how they ended in the header: zeroes their space and advances the shared
    /// head. Padding read after the last record handed out is released with it.
    /// Fails with [`RingError::BadRelease`] if `up_to` is not between the head and the read
    /// cursor.
    pub fn release(
        &mut self,
        up_to: u64,
        confirmed: u64,
        export_failed: u64,
        rejected: u64,
    ) -> Result<(), RingError> {
        self.check_not_inherited()?;
        let settled = Settled {
            confirmed,
            export_failed,
            rejected,
        };
        if self
            .handle
            .core
            .release_to(&mut self.cursor, up_to, settled)
        {
            Ok(())
        } else {
            Err(RingError::BadRelease {
                position: up_to,
                head: self.cursor.head,
                read: self.cursor.read,
            })
        }
    }

    /// The shared head: everything before it is released.
    pub fn head_position(&self) -> u64 {
        self.cursor.head
    }

    /// The private read cursor: everything before it has been read.
    pub fn read_position(&self) -> u64 {
        self.cursor.read
    }

    /// Whether records read are still waiting for [`Consumer::release`].
    pub fn has_unreleased(&self) -> bool {
        self.cursor.head != self.cursor.read
    }

    fn drain_inner(
        &mut self,
        max_records: usize,
        max_bytes: usize,
        release: bool,
        mut f: impl FnMut(Record<'_>),
    ) -> Result<DrainSummary, RingError> {
        self.check_not_inherited()?;
        if let Some(reason) = &self.cursor.quarantine {
            return Err(RingError::Quarantined {
                reason: reason.clone(),
            });
        }
        let core = &self.handle.core;
        let data = core.mem.data_ptr();
        let scratch = &mut self.scratch;
        let counts = core.drain(
            &mut self.cursor,
            max_records,
            max_bytes,
            release,
            |found: &FoundRecord| {
                let payload: &[u8] = match data {
                    // SAFETY: `drain` checked `payload_off + payload_len <= capacity`, so the range is
                    // inside the data region of the mapping, which `self.handle` keeps alive for the
                    // whole call. The record is committed (Acquire on its length) and producers do
                    // not write it again until the head moves past it, after this callback.
                    Some(base) => unsafe {
                        std::slice::from_raw_parts(
                            base.as_ptr().add(found.payload_off),
                            found.payload_len,
                        )
                    },
                    None => {
                        scratch.resize(found.payload_len, 0);
                        core.mem.data_read(found.payload_off, scratch);
                        scratch
                    }
                };
                f(Record {
                    record_type: found.record_type,
                    flags: found.flags,
                    seq: found.seq,
                    end: found.end,
                    redelivered: found.redelivered,
                    payload,
                });
            },
        );
        Ok(DrainSummary {
            records: counts.records,
            redelivered: counts.redelivered,
            bytes: counts.payload_bytes,
            checksum_failures: counts.checksum_failures,
            padding_bytes: counts.padding_bytes,
            quarantined: self.cursor.quarantine.is_some(),
        })
    }

    /// Whether a committed record waits at the head.
    pub fn has_data(&self) -> bool {
        self.cursor.quarantine.is_none()
            && self.check_not_inherited().is_ok()
            && self.cursor.read != self.handle.core.mem.load64(OFF_TAIL, Ordering::Acquire)
            && self.handle.core.committed_at(self.cursor.read)
    }

    /// Waits until a committed record is at the head or `timeout` passes: spins briefly,
    /// yields, then sleeps on the header futex. Producers wake it only when it is marked
    /// sleeping and the fill crosses the wake watermark (or a record is urgent, or the ring is
    /// closed), so below the watermark it sleeps out the timeout: use the flush interval.
    /// No lost wake-ups: the sleeping mark and the tail are ordered with SeqCst against the
    /// producers' tail CAS and their check of the mark.
    pub fn wait_for_data(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        for _ in 0..SPIN_ITERATIONS {
            if self.has_data() {
                return true;
            }
            std::hint::spin_loop();
        }
        for _ in 0..YIELD_ITERATIONS {
            if self.has_data() {
                return true;
            }
            std::thread::yield_now();
        }
        let core = &self.handle.core;
        let Some(word) = core.futex_word() else {
            return self.has_data();
        };
        loop {
            let now = Instant::now();
            if now >= deadline || self.cursor.quarantine.is_some() {
                return self.has_data();
            }
            core.mem
                .store32(OFF_CONSUMER_STATE, CONSUMER_SLEEPING, Ordering::SeqCst);
            let tail = core.mem.load64(OFF_TAIL, Ordering::SeqCst);
            if self.has_data() || core.is_closed() {
                core.mem
                    .store32(OFF_CONSUMER_STATE, CONSUMER_AWAKE, Ordering::Relaxed);
                return self.has_data();
            }
            let mut nap = deadline - now;
            if tail.wrapping_sub(self.cursor.read) >= core.params.wake_watermark {
                // Enough is claimed to have woken us, but the head record is still being written
                // (or its writer died): poll gently instead of sleeping out the whole timeout.
                nap = nap.min(IN_PROGRESS_NAP);
            }
            futex::wait(word, CONSUMER_SLEEPING, nap);
            core.mem
                .store32(OFF_CONSUMER_STATE, CONSUMER_AWAKE, Ordering::Relaxed);
            if self.has_data() {
                return true;
            }
        }
    }

    /// Whether the producer can still write, from the ring's liveness lock (held by the
    /// producing process until it dies, see docs/design.md "Ring lifecycle") and the closed flag.
    /// Works across PID namespaces. [`Liveness::Unknown`] if the lock cannot be probed now.
    pub fn producer_liveness(&self) -> Liveness {
        let closed = self.handle.core.is_closed();
        let probe = if self.in_process {
            LockProbe::Held
        } else {
            self.handle.mapping.probe_producer()
        };
        match probe {
            LockProbe::Free => Liveness::Dead,
            LockProbe::Held if closed => Liveness::Closed,
            LockProbe::Held => Liveness::Alive,
            LockProbe::Unknown(_) => Liveness::Unknown,
        }
    }

    /// Checks (`fstat`) that the ring file still covers the whole mapping, before a drain pass:
    /// a named ring truncated while mapped would crash this process with `SIGBUS` on the next
    /// read past its new end. A shrunken ring is quarantined (nothing more is read from it).
    pub fn verify_backing(&mut self) -> Result<(), RingError> {
        if let Some(reason) = &self.cursor.quarantine {
            return Err(RingError::Quarantined {
                reason: reason.clone(),
            });
        }
        if let Err(e) = self.handle.mapping.check_len() {
            if matches!(e, RingError::WrongSize { .. }) {
                self.cursor.quarantine = Some(e.to_string());
            }
            return Err(e);
        }
        Ok(())
    }

    /// Skips abandoned claims at the head (a negative length, or a claimed range still zero),
    /// counting them. Only when the producer is dead ([`RingError::ProducerAlive`] otherwise): a
    /// live producer may still be writing; and only once everything read is released (does
    /// nothing otherwise). Stops at the next committed record; call
    /// [`Consumer::drain`] and this in turn, or use [`Consumer::recover`].
    pub fn recover_abandoned(&mut self) -> Result<RecoveryReport, RingError> {
        self.require_dead()?;
        let skipped = self.handle.core.skip_abandoned(&mut self.cursor);
        Ok(RecoveryReport {
            abandoned_records: skipped.records,
            abandoned_bytes: skipped.bytes,
            quarantined: self.cursor.quarantine.is_some(),
            ..RecoveryReport::default()
        })
    }

    /// Recovers a dead producer's ring completely: drains every committed record into `f`,
    /// skipping and counting abandoned claims, until the head reaches the tail (or the ring is
    /// found malformed and quarantined). Afterwards the file can be removed.
    pub fn recover(&mut self, mut f: impl FnMut(Record<'_>)) -> Result<RecoveryReport, RingError> {
        self.require_dead()?;
        let mut report = RecoveryReport::default();
        loop {
            if self.cursor.quarantine.is_some() {
                break;
            }
            let drained = self.drain(usize::MAX, usize::MAX, &mut f)?;
            report.records_recovered += drained.records;
            report.bytes_recovered += drained.bytes;
            report.checksum_failures += drained.checksum_failures;
            let skipped = self.handle.core.skip_abandoned(&mut self.cursor);
            report.abandoned_records += skipped.records;
            report.abandoned_bytes += skipped.bytes;
            let progressed =
                drained.records + drained.checksum_failures + drained.padding_bytes + skipped.bytes
                    > 0;
            if !progressed {
                break;
            }
        }
        report.quarantined = self.cursor.quarantine.is_some();
        Ok(report)
    }

    fn check_not_inherited(&self) -> Result<(), RingError> {
        if process::current_fork_generation() == self.fork_generation {
            Ok(())
        } else {
            Err(RingError::InheritedAcrossFork)
        }
    }

    fn require_dead(&self) -> Result<(), RingError> {
        self.check_not_inherited()?;
        if self.in_process {
            // Our own process is the producer: it is alive by definition, but a claim cannot be
            // in progress only if the caller knows all producers stopped. Refuse, like for any
            // live producer.
            return Err(RingError::ProducerAlive {
                pid: self.handle.creator_pid,
            });
        }
        match self.handle.mapping.probe_producer() {
            LockProbe::Free => Ok(()),
            LockProbe::Held => Err(RingError::ProducerAlive {
                pid: self.handle.creator_pid,
            }),
            LockProbe::Unknown(errno) => Err(RingError::LivenessUnknown { errno }),
        }
    }

    /// Counters from the ring header.
    pub fn stats(&self) -> RingStats {
        read_stats(&self.handle.core)
    }

    /// Whether malformed contents made this consumer stop reading the ring.
    pub fn is_quarantined(&self) -> bool {
        self.cursor.quarantine.is_some()
    }

    /// Why the ring was quarantined.
    pub fn quarantine_reason(&self) -> Option<&str> {
        self.cursor.quarantine.as_deref()
    }

    /// Bytes claimed by producers and not yet consumed (0 once fully drained).
    pub fn pending_bytes(&self) -> u64 {
        self.handle.core.used_bytes()
    }

    /// Path of a named ring.
    pub fn path(&self) -> Option<&Path> {
        self.handle.mapping.path.as_deref()
    }

    /// Pid of the process that created the ring.
    pub fn producer_pid(&self) -> u32 {
        self.handle.creator_pid
    }

    /// Unlinks a named ring's file (after a final drain or recovery) and drops the consumer.
    /// Does nothing in a child that inherited the consumer across `fork()`.
    pub fn remove_file(self) -> std::io::Result<()> {
        if self.check_not_inherited().is_err() {
            return Ok(());
        }
        match self.path() {
            Some(path) => std::fs::remove_file(path),
            None => Ok(()),
        }
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        if self.check_not_inherited().is_ok() {
            // Unlock explicitly rather than only closing the fd: a child forked by another thread
            // of this process holds a copy of the fd until its exec closes it (close-on-exec), and
            // the lock belongs to the open file description, so closing ours alone would leave the
            // ring locked for that window and a new consumer would see `ConsumerExists`.
            backing::unlock_consumer(&self.handle.mapping.file);
            if self.in_process {
                self.handle.consumer_taken.store(false, Ordering::Release);
            }
        }
    }
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("path", &self.path())
            .field("head", &self.cursor.head)
            .finish()
    }
}
