//! drift-ring: a shared-memory MPSC ring of variable-length byte records that never blocks a
//! producer.
//!
//! * [`Producer`] (`Clone + Send + Sync`): many threads of one process push records with
//!   [`Producer::try_push`] (copy) or [`Producer::try_claim`] (serialize in place). A push never
//!   waits, never allocates; a full ring, an oversize record, a closed ring or heavy contention
//!   return a [`PushError`] at once and are counted in the ring header.
//! * [`Consumer`] (one per ring): drains committed records in order ([`Consumer::drain`]),
//!   zero-copy, with every length and offset bounds-checked and the CRC-32C verified; sleeps on a
//!   futex between batches ([`Consumer::wait_for_data`]); recovers a dead producer's ring
//!   ([`Consumer::recover`]).
//! * Backing memory is a file we create ourselves (`O_CREAT|O_EXCL|O_NOFOLLOW`, 0600, in a
//!   private 0700 directory, space reserved with `fallocate`) or a sealed memfd, mapped with
//!   `memmap2`. Attach validates owner, mode, magic, version and sizes.
//!
//! The layout and protocol are described in `docs/design.md` (section "Ring").
//!
//! ```
//! use drift_ring::{Consumer, Producer, RingConfig};
//! let dir = std::env::temp_dir().join(format!("drift-ring-doc-{}", std::process::id()));
//! let cfg = RingConfig { dir: Some(dir.clone()), ..RingConfig::with_capacity(1 << 16) };
//! let producer = Producer::create(&cfg).unwrap();
//! producer.try_push(2, b"hello").unwrap();
//! let mut slot = producer.try_claim(2, 5).unwrap();
//! slot.copy_from_slice(b"world");
//! slot.commit();
//! let mut consumer = Consumer::from_producer(&producer).unwrap();
//! let mut seen = Vec::new();
//! consumer.drain(64, 1 << 20, |r| seen.push(r.payload.to_vec())).unwrap();
//! assert_eq!(seen, [b"hello".to_vec(), b"world".to_vec()]);
//! consumer.remove_file().unwrap();
//! # std::fs::remove_dir(&dir).ok();
//! ```
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod backing;
mod config;
mod consumer;
mod error;
mod futex;
mod handle;
mod layout;
mod mem;
mod process;
mod producer;
mod protocol;
mod sigbus;
mod stats;

#[cfg(test)]
mod model_tests;

pub use backing::{
    INVALID_FILE_SUFFIX, RING_FILE_SUFFIX, SweepReport, TEMP_FILE_SUFFIX, check_ring_dir,
    default_ring_dir, list_rings, probe_file, set_aside_invalid, sweep_temp_files,
};
pub use config::{AttachOptions, RingConfig};
pub use consumer::{Consumer, DrainSummary, Liveness, Record, RecoveryReport};
pub use error::{PushError, RingError};
pub use layout::{
    FLAG_URGENT, HEADER_LEN, LAYOUT_VERSION, MAGIC, RECORD_HEADER_LEN, RECORD_TYPE_PAD,
    max_payload_for_capacity,
};
pub use process::LockProbe;
pub use producer::{Claim, Producer};
pub use sigbus::survived_faults;
pub use stats::RingStats;
