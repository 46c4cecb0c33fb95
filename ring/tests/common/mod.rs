//! Helpers shared by the integration tests.

#![allow(dead_code)]

pub mod payload;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use drift_ring::RingConfig;

/// A private temporary directory, removed (with its contents) on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "drift-ring-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn config(&self, capacity: usize) -> RingConfig {
        RingConfig {
            dir: Some(self.0.clone()),
            ..RingConfig::with_capacity(capacity)
        }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Tracks per-writer order: every record exactly once, in order.
#[derive(Default)]
pub struct OrderCheck {
    next: std::collections::HashMap<u8, u32>,
    pub total: u64,
}

impl OrderCheck {
    /// Records that `(writer, seq)` arrived; `seq` must be greater than the last one seen.
    pub fn see(&mut self, writer: u8, seq: u32) {
        let next = self.next.entry(writer).or_insert(0);
        assert!(
            seq >= *next,
            "writer {writer}: seq {seq} after {} (duplicate or reordered)",
            *next
        );
        *next = seq + 1;
        self.total += 1;
    }
}
