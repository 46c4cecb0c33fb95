//! Ring creation and attach options.

use std::path::PathBuf;

use crate::error::RingError;
use crate::layout::{MAX_CAPACITY, MIN_CAPACITY, max_payload_for_capacity};

/// How to create a ring ([`crate::Producer::create`], [`crate::Producer::create_memfd`]).
#[derive(Debug, Clone)]
pub struct RingConfig {
    /// Data region size in bytes: a power of two in `64 ..= 1 GiB`. Default 4 MiB.
    pub capacity_bytes: usize,
    /// Largest payload accepted; bigger records are dropped as `TooLarge`. At most
    /// `capacity_bytes / 2 - 16` (a framed record must fit in half the ring). Default 1 MiB.
    pub max_record_bytes: usize,
    /// CRC-32C over each record's payload and header fields. Default on.
    pub checksum: bool,
    /// A producer wakes a sleeping consumer only once this many bytes are waiting (or for an
    /// urgent record). `None` = a quarter of the capacity.
    pub wake_watermark_bytes: Option<usize>,
    /// Directory for named rings. `None` = [`crate::default_ring_dir`] (a private 0700 directory
    /// under `/dev/shm`, else `$XDG_RUNTIME_DIR`, else the temp dir).
    pub dir: Option<PathBuf>,
    /// File name prefix: files are named `<prefix>.<pid>.<start>.<random>.ring`.
    pub name_prefix: String,
}

impl Default for RingConfig {
    fn default() -> Self {
        Self {
            capacity_bytes: 4 << 20,
            max_record_bytes: 1 << 20,
            checksum: true,
            wake_watermark_bytes: None,
            dir: None,
            name_prefix: "drift".to_owned(),
        }
    }
}

impl RingConfig {
    /// A config with the given capacity and the largest record size it allows (capped at 1 MiB).
    pub fn with_capacity(capacity_bytes: usize) -> Self {
        Self {
            capacity_bytes,
            max_record_bytes: max_payload_for_capacity(capacity_bytes.max(MIN_CAPACITY))
                .min(1 << 20),
            ..Self::default()
        }
    }

    pub(crate) fn validate(&self) -> Result<(), RingError> {
        let cap = self.capacity_bytes;
        if !cap.is_power_of_two() || !(MIN_CAPACITY..=MAX_CAPACITY).contains(&cap) {
            return Err(RingError::InvalidConfig {
                field: "capacity_bytes",
                reason: format!("{cap} is not a power of two in {MIN_CAPACITY}..={MAX_CAPACITY}"),
            });
        }
        let max = max_payload_for_capacity(cap);
        if self.max_record_bytes == 0 || self.max_record_bytes > max {
            return Err(RingError::InvalidConfig {
                field: "max_record_bytes",
                reason: format!(
                    "{} must be in 1..={max} for a capacity of {cap}",
                    self.max_record_bytes
                ),
            });
        }
        if let Some(w) = self.wake_watermark_bytes
            && (w == 0 || w > cap)
        {
            return Err(RingError::InvalidConfig {
                field: "wake_watermark_bytes",
                reason: format!("{w} must be in 1..={cap}"),
            });
        }
        let prefix_ok = !self.name_prefix.is_empty()
            && self.name_prefix.len() <= 64
            && self
                .name_prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !prefix_ok {
            return Err(RingError::InvalidConfig {
                field: "name_prefix",
                reason: format!(
                    "{:?}: 1 to 64 characters of [A-Za-z0-9_-]",
                    self.name_prefix
                ),
            });
        }
        Ok(())
    }

    pub(crate) fn watermark(&self) -> u64 {
        self.wake_watermark_bytes.unwrap_or(self.capacity_bytes / 4) as u64
    }
}

/// What [`crate::Consumer::attach`] accepts.
#[derive(Debug, Clone, Default)]
pub struct AttachOptions {
    /// Owner the ring file must have. `None` = the effective uid of this process.
    pub expected_uid: Option<u32>,
    /// Largest ring file (header + capacity) this consumer maps. A header claiming more is
    /// refused with [`RingError::OverCap`] before anything is mapped. `None` = the layout's
    /// limit (1 GiB + header).
    pub max_ring_bytes: Option<u64>,
}
