//! A mapped ring shared by the producer handles and an in-process consumer.

use std::sync::atomic::AtomicBool;

use crate::backing::Mapping;
use crate::mem::MappedMem;
use crate::protocol::RingCore;

/// The protocol over a live mapping. `core` borrows memory owned by `mapping`; both are dropped
/// together (fields drop in declaration order, and `MappedMem` has no destructor).
pub(crate) struct RingHandle {
    pub core: RingCore<MappedMem>,
    pub mapping: Mapping,
    pub creator_pid: u32,
    /// Set while an in-process consumer exists (`Consumer::from_producer`).
    pub consumer_taken: AtomicBool,
}

impl RingHandle {
    pub(crate) fn new(
        mapping: Mapping,
        core_params: crate::protocol::RingParams,
        creator_pid: u32,
        // Part of the ring's identity (and its file name); liveness no longer uses it: the
        // producer's liveness lock does (see `process`).
        _creator_start_ticks: u64,
    ) -> Self {
        let core = RingCore::new(mapping.mem(), core_params);
        Self {
            core,
            mapping,
            creator_pid,
            consumer_taken: AtomicBool::new(false),
        }
    }
}
