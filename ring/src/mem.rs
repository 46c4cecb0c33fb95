//! The memory the ring protocol runs on, behind a small trait.
//!
//! The protocol (`protocol.rs`) only ever touches memory through [`RingMem`]: atomic loads, stores
//! and CAS on header words, 32-bit atomics on record headers, and byte copies into ranges the
//! caller owns. Production implements it over the shared mapping ([`MappedMem`]); the model tests
//! implement it over heap atomics so that `shuttle` can explore the interleavings of the very same
//! protocol code.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::layout::HEADER_LEN;

/// CRC-32C (Castagnoli). `crc-fast` folds with PCLMULQDQ / PMULL and is about 2.5x faster than
/// the `crc32c` crate from 2 KiB up (measured, see docs/benchmarks.md).
#[inline]
pub(crate) fn crc32c(bytes: &[u8]) -> u32 {
    crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32Iscsi, bytes) as u32
}

/// Word-level access to a ring's header and data region.
///
/// Header offsets are byte offsets into the header page, aligned to the access size; the hot
/// 32-bit word (the consumer-state futex) is alone in its 8-byte word. Data offsets are byte offsets into the data region;
/// 32-bit accesses are 4-byte aligned. Implementations must stay memory-safe for any offset
/// (the protocol validates offsets, implementations must not trust that).
pub trait RingMem {
    /// Data region size in bytes.
    fn capacity(&self) -> usize;
    /// Atomic load of a 64-bit header word.
    fn load64(&self, off: usize, order: Ordering) -> u64;
    /// Atomic store of a 64-bit header word.
    fn store64(&self, off: usize, value: u64, order: Ordering);
    /// Atomic compare-and-exchange of a 64-bit header word.
    fn cas64(
        &self,
        off: usize,
        current: u64,
        new: u64,
        success: Ordering,
        failure: Ordering,
    ) -> Result<u64, u64>;
    /// Atomic add on a 64-bit header word; returns the previous value.
    fn add64(&self, off: usize, value: u64, order: Ordering) -> u64;
    /// Atomic maximum on a 64-bit header word.
    fn max64(&self, off: usize, value: u64, order: Ordering) -> u64;
    /// Atomic load of a 32-bit header word.
    fn load32(&self, off: usize, order: Ordering) -> u32;
    /// Atomic store of a 32-bit header word.
    fn store32(&self, off: usize, value: u32, order: Ordering);
    /// Atomic compare-and-exchange of a 32-bit header word.
    fn cas32(
        &self,
        off: usize,
        current: u32,
        new: u32,
        success: Ordering,
        failure: Ordering,
    ) -> Result<u32, u32>;
    /// Atomic load of a 32-bit word of the data region.
    fn data_load32(&self, off: usize, order: Ordering) -> u32;
    /// Atomic store of a 32-bit word of the data region.
    fn data_store32(&self, off: usize, value: u32, order: Ordering);
    /// Copies `src` into the data region at `off` (a range the caller has claimed).
    fn data_write(&self, off: usize, src: &[u8]);
    /// Copies data region bytes at `off` into `dst`.
    fn data_read(&self, off: usize, dst: &mut [u8]);
    /// Zeroes `len` bytes of the data region at `off`.
    fn data_zero(&self, off: usize, len: usize);
    /// CRC-32C of `len` data bytes at `off`.
    fn data_crc32c(&self, off: usize, len: usize) -> u32 {
        let mut bytes = vec![0u8; len];
        self.data_read(off, &mut bytes);
        crc32c(&bytes)
    }
    /// Base pointer of the data region when it is real memory that can be lent out as slices
    /// (zero-copy drain and in-place serialization); `None` for model memory.
    fn data_ptr(&self) -> Option<NonNull<u8>>;
}

/// [`RingMem`] over a mapping of `HEADER_LEN + capacity` bytes.
pub(crate) struct MappedMem {
    base: NonNull<u8>,
    capacity: usize,
}

// SAFETY: `MappedMem` is a pointer into a shared mapping that every access goes through atomics
// or through byte ranges whose ownership the ring protocol hands out; the mapping itself is kept
// alive by the owner of the `MappedMem` (see `backing::Mapping`).
unsafe impl Send for MappedMem {}
// SAFETY: as above; concurrent access is what the protocol is designed for.
unsafe impl Sync for MappedMem {}

impl MappedMem {
    /// # Safety
    /// `base` must point to a live, page-aligned, read-write mapping of at least
    /// `HEADER_LEN + capacity` bytes that outlives the returned value.
    pub(crate) unsafe fn new(base: NonNull<u8>, capacity: usize) -> Self {
        Self { base, capacity }
    }

    #[inline]
    fn header_word<T>(&self, off: usize, size: usize) -> *mut T {
        assert!(
            off.is_multiple_of(size) && off + size <= HEADER_LEN,
            "header offset {off} out of range"
        );
        // SAFETY: checked above that the word lies inside the header page of the mapping.
        unsafe { self.base.as_ptr().add(off).cast() }
    }

    #[inline]
    fn data_at(&self, off: usize, len: usize) -> *mut u8 {
        assert!(
            off <= self.capacity && len <= self.capacity - off,
            "data range {off}+{len} out of range"
        );
        // SAFETY: checked above that the range lies inside the data region of the mapping.
        unsafe { self.base.as_ptr().add(HEADER_LEN + off) }
    }

    #[inline]
    fn a64(&self, off: usize) -> &AtomicU64 {
        let p = self.header_word::<u64>(off, 8);
        // SAFETY: `p` is 8-aligned (page-aligned base, offset checked to be a multiple of 8), inside the mapping, and
        // the mapping is only ever accessed atomically at this offset.
        unsafe { AtomicU64::from_ptr(p) }
    }

    #[inline]
    fn a32(&self, off: usize) -> &AtomicU32 {
        let p = self.header_word::<u32>(off, 4);
        // SAFETY: as for `a64`, with 4-byte alignment.
        unsafe { AtomicU32::from_ptr(p) }
    }

    #[inline]
    fn d32(&self, off: usize) -> &AtomicU32 {
        assert!(off.is_multiple_of(4), "unaligned data word {off}");
        let p = self.data_at(off, 4);
        // SAFETY: in range (checked by `data_at`), 4-aligned (page-aligned data region).
        unsafe { AtomicU32::from_ptr(p.cast()) }
    }
}

impl RingMem for MappedMem {
    #[inline]
    fn capacity(&self) -> usize {
        self.capacity
    }
    #[inline]
    fn load64(&self, off: usize, order: Ordering) -> u64 {
        self.a64(off).load(order)
    }
    #[inline]
    fn store64(&self, off: usize, value: u64, order: Ordering) {
        self.a64(off).store(value, order)
    }
    #[inline]
    fn cas64(
        &self,
        off: usize,
        current: u64,
        new: u64,
        success: Ordering,
        failure: Ordering,
    ) -> Result<u64, u64> {
        self.a64(off)
            .compare_exchange(current, new, success, failure)
    }
    #[inline]
    fn add64(&self, off: usize, value: u64, order: Ordering) -> u64 {
        self.a64(off).fetch_add(value, order)
    }
    #[inline]
    fn max64(&self, off: usize, value: u64, order: Ordering) -> u64 {
        self.a64(off).fetch_max(value, order)
    }
    #[inline]
    fn load32(&self, off: usize, order: Ordering) -> u32 {
        self.a32(off).load(order)
    }
    #[inline]
    fn store32(&self, off: usize, value: u32, order: Ordering) {
        self.a32(off).store(value, order)
    }
    #[inline]
    fn cas32(
        &self,
        off: usize,
        current: u32,
        new: u32,
        success: Ordering,
        failure: Ordering,
    ) -> Result<u32, u32> {
        self.a32(off)
            .compare_exchange(current, new, success, failure)
    }
    #[inline]
    fn data_load32(&self, off: usize, order: Ordering) -> u32 {
        self.d32(off).load(order)
    }
    #[inline]
    fn data_store32(&self, off: usize, value: u32, order: Ordering) {
        self.d32(off).store(value, order)
    }
    #[inline]
    fn data_write(&self, off: usize, src: &[u8]) {
        let dst = self.data_at(off, src.len());
        // SAFETY: `dst..dst+len` is inside the data region (checked by `data_at`); the protocol
        // gives this range to exactly one writer, and `src` is ordinary memory that cannot
        // overlap the mapping's claimed range.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len()) }
    }
    #[inline]
    fn data_read(&self, off: usize, dst: &mut [u8]) {
        let src = self.data_at(off, dst.len());
        // SAFETY: in range (checked by `data_at`); `dst` is caller memory outside the mapping.
        unsafe { std::ptr::copy_nonoverlapping(src, dst.as_mut_ptr(), dst.len()) }
    }
    #[inline]
    fn data_zero(&self, off: usize, len: usize) {
        let dst = self.data_at(off, len);
        // SAFETY: in range (checked by `data_at`); only the consumer zeroes, and only the range
        // it has consumed and not yet released to producers.
        unsafe { std::ptr::write_bytes(dst, 0, len) }
    }
    #[inline]
    fn data_crc32c(&self, off: usize, len: usize) -> u32 {
        let p = self.data_at(off, len);
        // SAFETY: in range (checked by `data_at`); the bytes belong to a record that this party
        // owns (producer before commit) or reads under the protocol (consumer after Acquire).
        let bytes = unsafe { std::slice::from_raw_parts(p, len) };
        crc32c(bytes)
    }
    #[inline]
    fn data_ptr(&self) -> Option<NonNull<u8>> {
        NonNull::new(self.data_at(0, 0))
    }
}
