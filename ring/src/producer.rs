//! The producer side: many threads of one process push records; nothing here blocks or
//! allocates per record.

use std::ops::{Deref, DerefMut};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::Arc;

use crate::backing::{self, euid, now_unix_ns, random_id};
use crate::config::RingConfig;
use crate::error::{PushError, RingError};
use crate::handle::RingHandle;
use crate::layout::RECORD_TYPE_PAD;
use crate::mem::RingMem;
use crate::process;
use crate::protocol::{CreatorIdentity, Reservation, RingParams};
use crate::stats::{RingStats, read_stats};

/// The writing end of a ring. `Clone + Send + Sync`: clones share one ring, and any number of
/// threads of the creating process may push concurrently.
///
/// When the last clone is dropped in the creating process the ring is marked closed (the
/// consumer drains what is left). The file is never unlinked by the producer: the consumer
/// removes it ([`crate::Consumer::remove_file`]) once drained, or [`Producer::unlink`] does.
/// A handle inherited by a child after `fork()` refuses to push ([`PushError::Forked`]) and
/// dropping it touches nothing.
#[derive(Clone)]
pub struct Producer {
    inner: Arc<ProducerInner>,
}

struct ProducerInner {
    handle: Arc<RingHandle>,
    fork_generation: u64,
}

impl Drop for ProducerInner {
    fn drop(&mut self) {
        if process::current_fork_generation() == self.fork_generation {
            self.handle.core.close();
        }
    }
}

impl Producer {
    /// Creates a named ring: a new file (`O_CREAT|O_EXCL|O_NOFOLLOW`, mode 0600) in a private
    /// directory, space reserved with `fallocate` (a full `/dev/shm` fails here with
    /// [`RingError::NoSpace`]), mapped and initialised under a temporary name, then renamed to
    /// its final name. The process holds the ring's liveness lock until it dies.
    pub fn create(cfg: &RingConfig) -> Result<Producer, RingError> {
        cfg.validate()?;
        let fork_generation = process::fork_generation();
        let pid = std::process::id();
        let start_ticks = process::own_start_ticks();
        let (mapping, ring_id) = backing::create_named(cfg, pid, start_ticks, random_id())?;
        let producer = Self::init(mapping, cfg, pid, start_ticks, ring_id, fork_generation);
        // The file gets its final name only now, with a complete header and the liveness lock
        // held (see docs/design.md, "Ring lifecycle").
        backing::publish(&producer.inner.handle.mapping)?;
        Ok(producer)
    }

    /// Creates an anonymous ring in a sealed memfd. Returns the producer and a duplicate of the
    /// fd (close-on-exec) to hand to a consumer process (for example over `SCM_RIGHTS`), which
    /// opens it with [`crate::Consumer::attach_fd`].
    pub fn create_memfd(cfg: &RingConfig) -> Result<(Producer, OwnedFd), RingError> {
        cfg.validate()?;
        let fork_generation = process::fork_generation();
        let pid = std::process::id();
        let start_ticks = process::own_start_ticks();
        let ring_id = random_id();
        let mapping = backing::create_memfd(cfg)?;
        let fd = backing::dup_fd(&mapping.file)?;
        Ok((
            Self::init(mapping, cfg, pid, start_ticks, ring_id, fork_generation),
            fd,
        ))
    }

    fn init(
        mapping: backing::Mapping,
        cfg: &RingConfig,
        pid: u32,
        start_ticks: u64,
        ring_id: u64,
        fork_generation: u64,
    ) -> Producer {
        let params = RingParams {
            capacity: cfg.capacity_bytes as u64,
            max_payload: cfg.max_record_bytes as u32,
            checksum: cfg.checksum,
            wake_watermark: cfg.watermark(),
        };
        let handle = RingHandle::new(mapping, params, pid, start_ticks);
        handle.core.init_header(&CreatorIdentity {
            uid: euid(),
            pid,
            start_ticks,
            created_unix_ns: now_unix_ns(),
            ring_id,
        });
        Producer {
            inner: Arc::new(ProducerInner {
                handle: Arc::new(handle),
                fork_generation,
            }),
        }
    }

    #[inline]
    fn check_owner(&self, record_type: u16) -> Result<(), PushError> {
        if process::current_fork_generation() != self.inner.fork_generation {
            return Err(PushError::Forked);
        }
        if record_type == 0 || record_type == RECORD_TYPE_PAD {
            return Err(PushError::InvalidType(record_type));
        }
        Ok(())
    }

    /// Copies `payload` into the ring as one record of `record_type` (1 ..= 0xFFFE).
    /// Returns at once; a refusal is counted in the header by reason.
    #[inline]
    pub fn try_push(&self, record_type: u16, payload: &[u8]) -> Result<(), PushError> {
        self.try_push_with_flags(record_type, 0, payload)
    }

    /// [`Producer::try_push`] with record flags ([`crate::FLAG_URGENT`] wakes the consumer).
    #[inline]
    pub fn try_push_with_flags(
        &self,
        record_type: u16,
        flags: u16,
        payload: &[u8],
    ) -> Result<(), PushError> {
        self.check_owner(record_type)?;
        let core = &self.inner.handle.core;
        let r = core.reserve(payload.len())?;
        core.mem.data_write(core.payload_offset(&r), payload);
        core.commit(&r, record_type, flags, payload.len() as u32);
        Ok(())
    }

    /// Claims a slot of exactly `len` payload bytes for in-place serialization. The slot starts
    /// zeroed. Call [`Claim::commit`] (or [`Claim::commit_truncated`] if fewer bytes were
    /// needed); dropping the claim, including by a panic, turns it into padding.
    #[inline]
    pub fn try_claim(&self, record_type: u16, len: usize) -> Result<Claim<'_>, PushError> {
        self.check_owner(record_type)?;
        let core = &self.inner.handle.core;
        let reservation = core.reserve(len)?;
        Ok(Claim {
            producer: self,
            reservation,
            record_type,
            flags: 0,
            done: false,
        })
    }

    /// Path of a named ring (`None` for a memfd ring).
    pub fn path(&self) -> Option<&Path> {
        self.inner.handle.mapping.path.as_deref()
    }

    /// Counters from the ring header.
    pub fn stats(&self) -> RingStats {
        read_stats(&self.inner.handle.core)
    }

    /// Largest payload this ring accepts.
    pub fn max_record_bytes(&self) -> usize {
        self.inner.handle.core.params.max_payload as usize
    }

    /// Marks the ring closed: later pushes fail with [`PushError::Closed`]; wakes the consumer.
    /// Does nothing in a forked child.
    pub fn close(&self) {
        if self.owned_by_this_process() {
            self.inner.handle.core.close();
        }
    }

    /// Whether the consumer is asleep on the header futex right now (it then wakes only for an
    /// urgent record, the fill watermark, a close or its timeout). An observation for tests and
    /// monitoring: the consumer may wake the next instant.
    pub fn consumer_is_sleeping(&self) -> bool {
        self.inner.handle.core.consumer_is_sleeping()
    }

    /// Wakes a sleeping consumer now, whatever the fill level (for a flush).
    pub fn wake_consumer(&self) {
        if self.owned_by_this_process() {
            self.inner.handle.core.wake_now();
        }
    }

    /// False in a child process that inherited this handle through `fork()`.
    #[inline]
    pub fn owned_by_this_process(&self) -> bool {
        process::current_fork_generation() == self.inner.fork_generation
    }

    /// Removes a named ring's file (the mapping stays valid). For rings no consumer will remove.
    pub fn unlink(&self) -> std::io::Result<()> {
        match (self.owned_by_this_process(), self.path()) {
            (true, Some(path)) => std::fs::remove_file(path),
            _ => Ok(()),
        }
    }

    pub(crate) fn handle(&self) -> &Arc<RingHandle> {
        &self.inner.handle
    }

    /// Test hook for crash injection: claims space (CAS on the tail) without writing any record
    /// header, the state a producer killed right after its CAS leaves behind. Not for production.
    #[doc(hidden)]
    pub fn debug_reserve_without_header(&self, len: usize) -> Result<(), PushError> {
        self.check_owner(1)?;
        self.inner
            .handle
            .core
            .reserve_without_header(len)
            .map(|_| ())
    }
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("path", &self.path())
            .field("capacity", &self.inner.handle.core.params.capacity)
            .finish()
    }
}

/// A claimed slot. Derefs to the slot's payload bytes (`&mut [u8]` of the claimed length,
/// initially zero). Nothing is visible to the consumer until [`Claim::commit`].
pub struct Claim<'a> {
    producer: &'a Producer,
    reservation: Reservation,
    record_type: u16,
    flags: u16,
    done: bool,
}

impl Claim<'_> {
    /// Sets the record flags (for example [`crate::FLAG_URGENT`]).
    pub fn set_flags(&mut self, flags: u16) {
        self.flags = flags;
    }

    /// Publishes the whole slot as the record.
    #[inline]
    pub fn commit(mut self) {
        self.finish(self.reservation.payload_len);
    }

    /// Publishes only the first `len` bytes (clamped to the slot length); the rest of the claim
    /// becomes padding. For serializers that claim an upper bound.
    #[inline]
    pub fn commit_truncated(mut self, len: usize) {
        let len = len.min(self.reservation.payload_len as usize) as u32;
        self.finish(len);
    }

    #[inline]
    fn finish(&mut self, len: u32) {
        self.done = true;
        self.producer.inner.handle.core.commit(
            &self.reservation,
            self.record_type,
            self.flags,
            len,
        );
    }

    /// Gives the claim up explicitly (the same as dropping it).
    pub fn abort(self) {}

    fn slot_ptr(&self) -> *mut u8 {
        let core = &self.producer.inner.handle.core;
        let base = core
            .mem
            .data_ptr()
            .expect("a mapped ring always has a data pointer");
        // SAFETY: the payload offset lies inside the data region (the reservation was computed
        // from the validated capacity), so the resulting pointer stays inside the mapping.
        unsafe { base.as_ptr().add(core.payload_offset(&self.reservation)) }
    }
}

impl Deref for Claim<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: the claimed range `[payload, payload + len)` lies inside the data region and
        // belongs to this claim alone until commit or abort (the protocol's CAS guarantees no
        // other producer and the consumer does not read past an uncommitted length).
        unsafe {
            std::slice::from_raw_parts(self.slot_ptr(), self.reservation.payload_len as usize)
        }
    }
}

impl DerefMut for Claim<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as for `deref`; `&mut self` makes this the only live view of the slot.
        unsafe {
            std::slice::from_raw_parts_mut(self.slot_ptr(), self.reservation.payload_len as usize)
        }
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.producer.inner.handle.core.abort(&self.reservation);
        }
    }
}
