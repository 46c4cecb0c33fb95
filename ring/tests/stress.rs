//! Multi-thread stress: 4 producers x 100k records of random sizes, one consumer draining
//! concurrently. Every record that was not refused arrives exactly once, intact, in
//! per-producer order, and the header counters add up.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::{TempDir, payload};
use drift_ring::{Consumer, Producer, PushError};

const PRODUCERS: u8 = 4;
const RECORDS: u32 = 100_000;
const MAX_LEN: usize = 600;

#[test]
fn four_producers_one_consumer_exactly_once_in_order() {
    let dir = TempDir::new("stress");
    let producer = Producer::create(&dir.config(1 << 20)).unwrap();
    let mut consumer = Consumer::from_producer(&producer).unwrap();
    let finished = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(Barrier::new(PRODUCERS as usize + 1));

    let writers: Vec<_> = (0..PRODUCERS)
        .map(|w| {
            let (producer, finished, start) = (producer.clone(), finished.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                let mut dropped = vec![false; RECORDS as usize];
                let mut buf = vec![0u8; MAX_LEN];
                for seq in 0..RECORDS {
                    let len = payload::length(w, seq, MAX_LEN);
                    // Alternate the copy API and in-place serialization into the slot.
                    let result = if seq % 2 == 0 {
                        payload::fill(&mut buf[..len], w, seq);
                        producer.try_push(7, &buf[..len])
                    } else {
                        producer.try_claim(7, len).map(|mut slot| {
                            payload::fill(&mut slot, w, seq);
                            slot.commit();
                        })
                    };
                    match result {
                        Ok(()) => {}
                        Err(PushError::Full | PushError::Contention) => {
                            dropped[seq as usize] = true
                        }
                        Err(e) => panic!("unexpected {e}"),
                    }
                }
                finished.fetch_add(1, Ordering::SeqCst);
                dropped
            })
        })
        .collect();

    start.wait();
    let mut arrived: Vec<Vec<bool>> = (0..PRODUCERS)
        .map(|_| vec![false; RECORDS as usize])
        .collect();
    let mut order = common::OrderCheck::default();
    loop {
        let summary = consumer
            .drain(4096, 1 << 20, |r| {
                assert_eq!(r.record_type, 7);
                let (w, seq) = payload::verify(r.payload, MAX_LEN).unwrap();
                order.see(w, seq);
                assert!(!arrived[w as usize][seq as usize], "duplicate");
                arrived[w as usize][seq as usize] = true;
            })
            .unwrap();
        assert_eq!(summary.checksum_failures, 0);
        assert!(!summary.quarantined);
        if summary.records == 0 {
            if finished.load(Ordering::SeqCst) == PRODUCERS as usize
                && consumer.pending_bytes() == 0
            {
                break;
            }
            consumer.wait_for_data(Duration::from_millis(2));
        }
    }

    let mut total_dropped = 0u64;
    for (w, handle) in writers.into_iter().enumerate() {
        let dropped = handle.join().unwrap();
        for seq in 0..RECORDS as usize {
            assert_ne!(
                arrived[w][seq], dropped[seq],
                "writer {w} seq {seq}: must arrive iff not dropped"
            );
        }
        total_dropped += dropped.iter().filter(|d| **d).count() as u64;
    }
    let stats = consumer.stats();
    let attempted = PRODUCERS as u64 * RECORDS as u64;
    assert_eq!(order.total + total_dropped, attempted);
    assert_eq!(stats.records_written, order.total);
    assert_eq!(stats.records_read, order.total);
    assert_eq!(
        stats.records_written + stats.dropped_total(),
        attempted,
        "written + dropped = attempted"
    );
    assert_eq!(
        stats.dropped_full_records + stats.dropped_contention,
        total_dropped
    );
    assert_eq!(stats.bytes_written, stats.bytes_read);
    assert_eq!(stats.checksum_failures, 0);
    assert_eq!(stats.used_bytes, 0);
    assert!(stats.high_water_bytes <= stats.capacity_bytes);
    consumer.remove_file().unwrap();
}

/// Claims abandoned by a panic (unwinding through the serializer) become padding; the
/// consumer skips them and everything around them still arrives.
#[test]
fn panics_between_claim_and_commit_turn_into_padding() {
    let dir = TempDir::new("panic");
    let producer = Producer::create(&dir.config(1 << 16)).unwrap();
    let mut consumer = Consumer::from_producer(&producer).unwrap();
    let threads: Vec<_> = (0..2u8)
        .map(|w| {
            let producer = producer.clone();
            std::thread::spawn(move || {
                for seq in 0..2000u32 {
                    let data = payload::make(w, seq, 200);
                    let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        let mut slot = producer.try_claim(3, data.len()).unwrap();
                        slot[..2].copy_from_slice(&data[..2]);
                        if seq % 10 == 3 {
                            panic!("serializer failed");
                        }
                        slot.copy_from_slice(&data);
                        slot.commit();
                    }));
                    assert_eq!(attempt.is_err(), seq % 10 == 3);
                    while producer.stats().used_bytes > (1 << 15) {
                        std::thread::yield_now();
                    }
                }
            })
        })
        .collect();
    let mut order = common::OrderCheck::default();
    let mut done = false;
    while !done {
        done = threads.iter().all(|t| t.is_finished());
        consumer
            .drain(usize::MAX, usize::MAX, |r| {
                let (w, seq) = payload::verify(r.payload, 200).unwrap();
                assert_ne!(seq % 10, 3, "aborted claim delivered");
                order.see(w, seq);
            })
            .unwrap();
    }
    for t in threads {
        t.join().unwrap();
    }
    consumer
        .drain(usize::MAX, usize::MAX, |_| panic!("nothing left"))
        .unwrap();
    let stats = consumer.stats();
    assert_eq!(order.total, 2 * 1800);
    assert_eq!(stats.aborted_claims, 2 * 200);
    assert_eq!(stats.records_read, 2 * 1800);
    assert!(stats.padding_bytes > 0);
}
