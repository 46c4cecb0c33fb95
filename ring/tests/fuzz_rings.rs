//! Fuzz-style property tests: arbitrary bytes as a ring (header and data) fed to attach, drain
//! and dead-producer recovery. Whatever the bytes, nothing may panic, hang or read out of
//! bounds: attach refuses with an error, or the consumer drains/quarantines and terminates.
//! (cargo-fuzz needs a nightly toolchain, so the same property runs here under proptest.)

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::TempDir;
use drift_ring::{AttachOptions, Consumer, HEADER_LEN, Liveness, Producer, RingConfig};
use proptest::prelude::*;

const CAP: usize = 512;

/// A real ring image with some committed records, an abandoned claim and a wrap, whose
/// creator pid is 0 (so it reads as a dead producer).
fn base_image(dir: &Path) -> Vec<u8> {
    let producer = Producer::create(&RingConfig {
        dir: Some(dir.to_owned()),
        ..RingConfig::with_capacity(CAP)
    })
    .unwrap();
    let mut consumer = Consumer::from_producer(&producer).unwrap();
    for i in 0..10u8 {
        producer.try_push(2, &vec![i; 20 + i as usize * 3]).unwrap();
        if i == 6 {
            consumer.drain(5, usize::MAX, |_| {}).unwrap();
        }
    }
    std::mem::forget(producer.try_claim(2, 30).unwrap()); // a claim that is never finished
    producer.try_push(2, b"after").unwrap();
    let path = producer.path().unwrap().to_owned();
    let mut image = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    image[0x24..0x28].copy_from_slice(&0u32.to_ne_bytes()); // creator pid 0: dead
    image
}

fn write_ring(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    std::fs::write(&path, bytes).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// Attach, drain and recover with bounded loops; every outcome except a panic or a hang is fine.
fn exercise(path: &Path) {
    let Ok(mut consumer) = Consumer::attach(path, &AttachOptions::default()) else {
        return;
    };
    let mut delivered = 0u64;
    for _ in 0..(CAP / 8 + 2) {
        match consumer.drain(usize::MAX, usize::MAX, |r| {
            delivered += r.payload.len() as u64
        }) {
            Ok(s) if s.records + s.checksum_failures + s.padding_bytes == 0 => break,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    if consumer.producer_liveness() == Liveness::Dead {
        let _ = consumer.recover_abandoned();
        let _ = consumer.recover(|r| delivered += r.payload.len() as u64);
        assert!(
            consumer.is_quarantined() || consumer.pending_bytes() == 0,
            "recovery must finish the ring or quarantine it"
        );
    }
    let _ = consumer.stats();
    let _ = consumer.wait_for_data(std::time::Duration::from_millis(0));
    assert!(delivered <= (CAP as u64) * 2);
}

fn mutation() -> impl Strategy<Value = (usize, u8)> {
    (0usize..HEADER_LEN + CAP, any::<u8>())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    /// Random byte changes anywhere in a real ring (indices, counters, records, padding).
    #[test]
    fn mutated_real_rings_never_panic(mutations in prop::collection::vec(mutation(), 1..24), hot in prop::collection::vec((0usize..0x400, any::<u64>()), 0..4)) {
        let dir = TempDir::new("fuzz-mut");
        let mut image = base_image(dir.path());
        for (at, value) in mutations {
            image[at] = value;
        }
        // Also smash whole 64-bit header words (head, tail, cache, counters).
        for (at, value) in hot {
            let at = at & !7;
            image[at..at + 8].copy_from_slice(&value.to_ne_bytes());
        }
        exercise(&write_ring(dir.path(), "m.ring", &image));
    }

    /// A valid static header with an arbitrary data region and arbitrary indices.
    #[test]
    fn arbitrary_data_regions_never_panic(data in prop::collection::vec(any::<u8>(), CAP), head in any::<u64>(), tail_delta in 0u64..(CAP as u64 + 64), align in any::<bool>()) {
        let dir = TempDir::new("fuzz-data");
        let mut image = base_image(dir.path());
        image[HEADER_LEN..].copy_from_slice(&data);
        let head = if align { head & !7 } else { head };
        let tail = head.wrapping_add(if align { tail_delta & !7 } else { tail_delta });
        image[0x80..0x88].copy_from_slice(&tail.to_ne_bytes());
        image[0x180..0x188].copy_from_slice(&head.to_ne_bytes());
        exercise(&write_ring(dir.path(), "d.ring", &image));
    }

    /// Completely arbitrary files (any length, any bytes; a correct magic half of the time).
    #[test]
    fn arbitrary_files_are_refused_or_handled(mut bytes in prop::collection::vec(any::<u8>(), 0..(HEADER_LEN + CAP + 64)), magic in any::<bool>()) {
        if magic && bytes.len() >= 12 {
            bytes[..8].copy_from_slice(&drift_ring::MAGIC);
            bytes[8..12].copy_from_slice(&drift_ring::LAYOUT_VERSION.to_ne_bytes());
        }
        let dir = TempDir::new("fuzz-any");
        exercise(&write_ring(dir.path(), "a.ring", &bytes));
    }
}

/// The unmodified base image recovers completely: committed records delivered, the unfinished
/// claim counted as abandoned, nothing left.
#[test]
fn base_image_recovers_cleanly() {
    let dir = TempDir::new("fuzz-base");
    let image = base_image(dir.path());
    let path = write_ring(dir.path(), "b.ring", &image);
    let mut consumer = Consumer::attach(&path, &AttachOptions::default()).unwrap();
    assert_eq!(consumer.producer_liveness(), Liveness::Dead);
    let mut got = Vec::new();
    let report = consumer.recover(|r| got.push(r.payload.to_vec())).unwrap();
    assert_eq!(report.abandoned_records, 1);
    assert!(!report.quarantined);
    assert_eq!(got.len(), 10 - 5 + 1);
    assert_eq!(got.last().unwrap(), b"after");
    assert_eq!(consumer.pending_bytes(), 0);
    consumer.remove_file().unwrap();
    assert!(!path.exists());
}
