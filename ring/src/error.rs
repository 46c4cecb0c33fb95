//! The crate's error enum and the hot-path push outcome.

use std::io;
use std::path::PathBuf;

/// Why a push did not happen. Returned at once; every reason except [`PushError::Forked`] and
/// [`PushError::InvalidType`] is also counted in the ring header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// Not enough free space right now (the record is dropped, counted as `dropped_full`).
    #[error("ring is full")]
    Full,
    /// The payload exceeds the ring's maximum record size (counted as `dropped_too_large`).
    #[error("record larger than the ring's maximum record size")]
    TooLarge,
    /// The ring was closed by its producer (counted as `dropped_closed`).
    #[error("ring is closed")]
    Closed,
    /// Other producers won the tail CAS too many times in a row (counted as `dropped_contention`).
    #[error("too much contention on the ring tail")]
    Contention,
    /// This handle was inherited across `fork()`; the child must create its own ring. Not counted
    /// (the header belongs to the parent's ring).
    #[error("producer handle was inherited across fork")]
    Forked,
    /// The record type is reserved (0 or 0xFFFF).
    #[error("record type {0} is reserved")]
    InvalidType(u16),
}

/// Errors of ring creation, attach and consumption.
#[derive(Debug, thiserror::Error)]
pub enum RingError {
    /// A configuration value is out of range.
    #[error("invalid ring configuration: {field}: {reason}")]
    InvalidConfig { field: &'static str, reason: String },
    /// An I/O operation on the ring file or directory failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Not enough space to reserve the ring (for example a full `/dev/shm`).
    #[error("no space to reserve {bytes} bytes for ring {}", path.display())]
    NoSpace { path: PathBuf, bytes: u64 },
    /// The ring directory is not a private directory of this user.
    #[error("unsafe ring directory {}: {reason}", path.display())]
    UnsafeDirectory { path: PathBuf, reason: String },
    /// Attach refused: the path is a symbolic link.
    #[error("refusing to attach {}: it is a symbolic link", path.display())]
    Symlink { path: PathBuf },
    /// Attach refused: not a regular file.
    #[error("refusing to attach {}: not a regular file", path.display())]
    NotRegularFile { path: PathBuf },
    /// Attach refused: the file belongs to another user.
    #[error("refusing to attach {}: owned by uid {actual}, expected uid {expected}", path.display())]
    WrongOwner {
        path: PathBuf,
        expected: u32,
        actual: u32,
    },
    /// Attach refused: the file is writable by group or others.
    #[error("refusing to attach {}: mode {mode:o} is group- or world-writable", path.display())]
    InsecureMode { path: PathBuf, mode: u32 },
    /// Attach refused: the magic bytes are not a drift ring's.
    #[error("refusing to attach {}: bad magic", path.display())]
    BadMagic { path: PathBuf },
    /// Attach refused: unknown layout version.
    #[error("refusing to attach {}: layout version {found}, this build reads {expected}", path.display())]
    UnsupportedVersion {
        path: PathBuf,
        found: u32,
        expected: u32,
    },
    /// Attach refused: a header field is inconsistent (capacity, sizes, ...).
    #[error("refusing to attach {}: invalid header: {reason}", path.display())]
    InvalidHeader { path: PathBuf, reason: String },
    /// Attach refused: the file size does not match the header.
    #[error("refusing to attach {}: file is {actual} bytes, header says {expected}", path.display())]
    WrongSize {
        path: PathBuf,
        expected: u64,
        actual: u64,
    },
    /// The ring is larger than the consumer's cap ([`crate::AttachOptions::max_ring_bytes`]).
    #[error("refusing to attach {}: {bytes} bytes exceed the cap of {cap}", path.display())]
    OverCap { path: PathBuf, bytes: u64, cap: u64 },
    /// The producer's liveness lock could not be probed: nothing is known, try again later.
    #[error("liveness of the producer cannot be checked now (os error {errno})")]
    LivenessUnknown { errno: i32 },
    /// Another consumer holds this ring.
    #[error("ring {} already has a consumer", path.display())]
    ConsumerExists { path: PathBuf },
    /// The ring was quarantined because its contents are malformed; nothing more is read from it.
    #[error("ring is quarantined: {reason}")]
    Quarantined { reason: String },
    /// [`crate::Consumer::release`] got a position outside `[head, read]`.
    #[error("release to position {position} outside the read range [{head}, {read}]")]
    BadRelease { position: u64, head: u64, read: u64 },
    /// This consumer was inherited across `fork()`; only the process that created it may drain.
    #[error("consumer handle was inherited across fork")]
    InheritedAcrossFork,
    /// Recovery refused because the producer process is still alive.
    #[error("producer process {pid} is still alive")]
    ProducerAlive { pid: u32 },
}

impl RingError {
    /// Whether attaching failed for a reason that retrying cannot change while the file stays
    /// as it is (not a ring, wrong version, size or owner), as opposed to a transient one (an
    /// I/O error such as `EMFILE`, another consumer, a cap).
    pub fn is_invalid_file(&self) -> bool {
        matches!(
            self,
            RingError::Symlink { .. }
                | RingError::NotRegularFile { .. }
                | RingError::WrongOwner { .. }
                | RingError::InsecureMode { .. }
                | RingError::BadMagic { .. }
                | RingError::UnsupportedVersion { .. }
                | RingError::InvalidHeader { .. }
                | RingError::WrongSize { .. }
        )
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
