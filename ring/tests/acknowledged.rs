//! Acknowledged consumption: `read` leaves records in the ring until `release`; a new consumer
//! re-reads what was not released and counts it `redelivered`; a full ring of unreleased
//! records makes producers drop (counted), never overwrite.

mod common;

use common::TempDir;
use drift_ring::{AttachOptions, Consumer, Producer, PushError, RingError};

fn read_all(consumer: &mut Consumer) -> Vec<(Vec<u8>, u64, bool)> {
    let mut seen = Vec::new();
    consumer
        .read(usize::MAX, usize::MAX, |r| {
            seen.push((r.payload.to_vec(), r.end, r.redelivered))
        })
        .unwrap();
    seen
}

#[test]
fn read_does_not_free_space_until_release() {
    let dir = TempDir::new("ack-space");
    let producer = Producer::create(&dir.config(1024)).unwrap();
    let mut consumer =
        Consumer::attach(producer.path().unwrap(), &AttachOptions::default()).unwrap();
    let mut pushed = 0u64;
    while producer.try_push(2, &[7u8; 40]).is_ok() {
        pushed += 1;
    }
    let seen = read_all(&mut consumer);
    assert_eq!(seen.len() as u64, pushed);
    // Read but not released: still full, the producer drops and counts.
    assert_eq!(producer.try_push(2, &[1u8; 40]), Err(PushError::Full));
    assert!(consumer.has_unreleased());
    // Release the first half: room for about that many again.
    let half = seen[seen.len() / 2 - 1].1;
    consumer
        .release(half, (seen.len() / 2) as u64, 0, 0)
        .unwrap();
    assert!(producer.try_push(2, &[1u8; 40]).is_ok());
    // Releasing outside [head, read] is refused.
    assert!(matches!(
        consumer.release(half + (1 << 20), 0, 0, 0),
        Err(RingError::BadRelease { .. })
    ));
    let last = seen.last().unwrap().1;
    consumer
        .release(last, (seen.len() - seen.len() / 2) as u64, 0, 0)
        .unwrap();
    let stats = consumer.stats();
    assert_eq!(stats.confirmed_records, pushed);
    assert_eq!(
        stats.dropped_full_records, 2,
        "the filling loop's last push and one more"
    );
    let (total, confirmed, dropped, in_ring) = stats.accounting();
    assert_eq!(total, confirmed + dropped + in_ring, "{stats:?}");
    assert_eq!(in_ring, 1);
}

#[test]
fn a_new_consumer_redelivers_what_was_not_released() {
    let dir = TempDir::new("ack-redeliver");
    let producer = Producer::create(&dir.config(1 << 16)).unwrap();
    let path = producer.path().unwrap().to_path_buf();
    for n in 0..10u8 {
        producer.try_push(2, &[n; 24]).unwrap();
    }
    let mut first = Consumer::attach(&path, &AttachOptions::default()).unwrap();
    let seen = read_all(&mut first);
    assert_eq!(seen.len(), 10);
    assert!(seen.iter().all(|(_, _, redelivered)| !redelivered));
    // Confirm 4, then "crash" with 6 read and unconfirmed.
    first.release(seen[3].1, 4, 0, 0).unwrap();
    drop(first);
    for n in 10..12u8 {
        producer.try_push(2, &[n; 24]).unwrap();
    }
    let mut second = Consumer::attach(&path, &AttachOptions::default()).unwrap();
    let again = read_all(&mut second);
    let firsts: Vec<u8> = again.iter().map(|(p, _, _)| p[0]).collect();
    assert_eq!(firsts, (4..12).collect::<Vec<u8>>());
    let redelivered: Vec<bool> = again.iter().map(|(_, _, r)| *r).collect();
    assert_eq!(redelivered, [[true; 6].as_slice(), &[false; 2]].concat());
    second.release(again.last().unwrap().1, 7, 1, 0).unwrap();
    let stats = second.stats();
    assert_eq!(stats.redelivered_records, 6);
    assert_eq!(stats.records_read, 12, "each record counted read once");
    assert_eq!(stats.confirmed_records, 11);
    assert_eq!(stats.export_failed_records, 1);
    assert_eq!(stats.consumer_attaches, 2);
    assert_eq!(stats.used_bytes, 0);
    let (total, confirmed, dropped, in_ring) = stats.accounting();
    assert_eq!((total, confirmed, dropped, in_ring), (12, 11, 1, 0));
    second.remove_file().unwrap();
}

#[test]
fn drain_still_consumes_on_read() {
    let dir = TempDir::new("ack-drain");
    let producer = Producer::create(&dir.config(1 << 12)).unwrap();
    let mut consumer = Consumer::from_producer(&producer).unwrap();
    for _ in 0..1000 {
        producer.try_push(2, &[3u8; 100]).unwrap();
        let summary = consumer.drain(usize::MAX, usize::MAX, |_| {}).unwrap();
        assert_eq!(summary.records, 1);
    }
    let stats = consumer.stats();
    assert_eq!(stats.confirmed_records, 1000);
    assert_eq!(stats.used_bytes, 0);
}

#[test]
fn padding_after_the_last_record_is_released_with_it() {
    let dir = TempDir::new("ack-pad");
    let producer = Producer::create(&dir.config(256)).unwrap();
    let mut consumer = Consumer::from_producer(&producer).unwrap();
    // Wrap several times: each lap ends with a padding record.
    for lap in 0..20u8 {
        producer.try_push(2, &[lap; 72]).unwrap();
        let seen = read_all(&mut consumer);
        assert_eq!(seen.len(), 1);
        consumer.release(seen[0].1, 1, 0, 0).unwrap();
        assert!(!consumer.has_unreleased());
    }
    // An aborted claim alone (padding, nothing handed out) is released at once by `read`.
    let claim = producer.try_claim(2, 8).unwrap();
    claim.abort();
    assert!(read_all(&mut consumer).is_empty());
    assert_eq!(consumer.stats().used_bytes, 0);
}
