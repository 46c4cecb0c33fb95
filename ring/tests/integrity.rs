//! Corruption of committed records, checked byte by byte: a payload that no longer matches its
//! checksum is skipped and counted; broken framing quarantines the ring (records before it are
//! still delivered, nothing after it is read, and the quarantine survives a consumer restart).
//! Also the step-wise recovery API on a ring whose producer is dead.

mod common;

use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Path, PathBuf};

use common::TempDir;
use drift_ring::{
    AttachOptions, Consumer, HEADER_LEN, Liveness, Producer, RECORD_HEADER_LEN, RingConfig,
    RingError,
};

/// A ring file with three 40-byte records (framed 56 bytes each) whose creator pid reads as dead.
fn ring_with_three_records(dir: &TempDir) -> PathBuf {
    let cfg = RingConfig {
        dir: Some(dir.path().to_owned()),
        ..RingConfig::with_capacity(4096)
    };
    let producer = Producer::create(&cfg).unwrap();
    for i in 0..3u8 {
        producer.try_push(2, &[i; 40]).unwrap();
    }
    let path = producer.path().unwrap().to_owned();
    let copy = dir.path().join("copy.ring");
    std::fs::copy(&path, &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o600)).unwrap();
    poke(&copy, 0x24, &0u32.to_ne_bytes()); // creator pid 0: dead
    producer.unlink().unwrap();
    copy
}

fn poke(path: &Path, offset: u64, bytes: &[u8]) {
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.write_all_at(bytes, offset).unwrap();
}

fn record_offset(index: u64) -> u64 {
    HEADER_LEN as u64 + index * 56
}

fn drain(consumer: &mut Consumer) -> Result<Vec<u8>, RingError> {
    let mut firsts = Vec::new();
    consumer.drain(usize::MAX, usize::MAX, |r| firsts.push(r.payload[0]))?;
    Ok(firsts)
}

#[test]
fn flipped_payload_byte_is_skipped_and_counted() {
    let dir = TempDir::new("integrity-crc");
    let path = ring_with_three_records(&dir);
    poke(
        &path,
        record_offset(1) + RECORD_HEADER_LEN as u64 + 7,
        &[0xEE],
    );
    let mut consumer = Consumer::attach(&path, &AttachOptions::default()).unwrap();
    assert_eq!(drain(&mut consumer).unwrap(), vec![0, 2]);
    let stats = consumer.stats();
    assert_eq!(stats.checksum_failures, 1);
    assert_eq!(stats.records_read, 2);
    assert!(!consumer.is_quarantined());
}

#[test]
fn flipped_header_field_is_caught_by_the_checksum() {
    let dir = TempDir::new("integrity-flags");
    let path = ring_with_three_records(&dir);
    poke(&path, record_offset(0) + 6, &[0x01]); // flags of record 0
    let mut consumer = Consumer::attach(&path, &AttachOptions::default()).unwrap();
    assert_eq!(drain(&mut consumer).unwrap(), vec![1, 2]);
    assert_eq!(consumer.stats().checksum_failures, 1);
}

#[test]
fn broken_framing_quarantines_the_ring() {
    let dir = TempDir::new("integrity-frame");
    let path = ring_with_three_records(&dir);
    poke(&path, record_offset(1), &100_000i32.to_ne_bytes()); // absurd length
    let mut consumer = Consumer::attach(&path, &AttachOptions::default()).unwrap();
    let mut firsts = Vec::new();
    let summary = consumer
        .drain(usize::MAX, usize::MAX, |r| firsts.push(r.payload[0]))
        .unwrap();
    assert_eq!(firsts, vec![0], "records before the damage are delivered");
    assert!(summary.quarantined);
    assert!(consumer.is_quarantined());
    assert!(consumer.quarantine_reason().unwrap().contains("length"));
    assert!(matches!(
        drain(&mut consumer),
        Err(RingError::Quarantined { .. })
    ));
    assert_eq!(consumer.stats().malformed_records, 1);
    assert!(consumer.stats().quarantined);
    // Recovery does not read past the damage either: it reports the quarantine.
    let report = consumer
        .recover(|_| panic!("nothing after the damage"))
        .unwrap();
    assert!(report.quarantined);
    assert_eq!(report.records_recovered + report.abandoned_records, 0);
    drop(consumer);
    // A restarted consumer sees the quarantine recorded in the header.
    let consumer = Consumer::attach(&path, &AttachOptions::default()).unwrap();
    assert!(consumer.is_quarantined());
}

#[test]
fn wrong_sequence_number_quarantines_the_ring() {
    let dir = TempDir::new("integrity-seq");
    let path = ring_with_three_records(&dir);
    poke(&path, record_offset(2) + 12, &12345u32.to_ne_bytes());
    let mut consumer = Consumer::attach(&path, &AttachOptions::default()).unwrap();
    let summary = consumer.drain(usize::MAX, usize::MAX, |_| {}).unwrap();
    assert_eq!(summary.records, 2);
    assert!(summary.quarantined);
}

#[test]
fn stepwise_recovery_of_a_dead_producers_ring() {
    let dir = TempDir::new("integrity-steps");
    let path = ring_with_three_records(&dir);
    // Turn record 1 into an abandoned claim: its length negative, as a writer killed mid-payload.
    poke(
        &path,
        record_offset(1),
        &(-((RECORD_HEADER_LEN + 40) as i32)).to_ne_bytes(),
    );
    let mut consumer = Consumer::attach(&path, &AttachOptions::default()).unwrap();
    assert_eq!(consumer.producer_liveness(), Liveness::Dead);
    assert_eq!(
        drain(&mut consumer).unwrap(),
        vec![0],
        "draining stops at the claim"
    );
    let step = consumer.recover_abandoned().unwrap();
    assert_eq!((step.abandoned_records, step.abandoned_bytes), (1, 56));
    assert_eq!(drain(&mut consumer).unwrap(), vec![2]);
    assert_eq!(consumer.pending_bytes(), 0);
    assert_eq!(consumer.stats().abandoned_records, 1);
    consumer.remove_file().unwrap();
    assert!(!path.exists());
}

#[test]
fn recovery_is_refused_while_the_producer_lives() {
    let dir = TempDir::new("integrity-alive");
    let producer = Producer::create(&dir.config(4096)).unwrap();
    let mut consumer =
        Consumer::attach(producer.path().unwrap(), &AttachOptions::default()).unwrap();
    assert_eq!(consumer.producer_liveness(), Liveness::Alive);
    assert!(matches!(
        consumer.recover_abandoned(),
        Err(RingError::ProducerAlive { .. })
    ));
    assert!(matches!(
        consumer.recover(|_| {}),
        Err(RingError::ProducerAlive { .. })
    ));
}
