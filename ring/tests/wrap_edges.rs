//! Wrap-around and boundary cases on a tiny (256-byte) ring: a record that exactly fills the
//! end, padding at the wrap, a record larger than the remaining tail, capacity-sized and
//! oversize records, truncated commits, closing, and consumer wake-ups.

mod common;

use std::time::{Duration, Instant};

use drift_ring::{
    Consumer, FLAG_URGENT, Liveness, Producer, PushError, RECORD_HEADER_LEN, RingConfig,
};

const CAP: usize = 256;

fn tiny() -> (Producer, Consumer) {
    let (producer, _fd) = Producer::create_memfd(&RingConfig::with_capacity(CAP)).unwrap();
    let consumer = Consumer::from_producer(&producer).unwrap();
    (producer, consumer)
}

fn drain_payloads(consumer: &mut Consumer, max: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let summary = consumer
        .drain(max, usize::MAX, |r| out.push(r.payload.to_vec()))
        .unwrap();
    assert!(!summary.quarantined);
    out
}

/// Payload length whose framed record is exactly `framed` bytes.
fn payload_for(framed: usize) -> usize {
    framed - RECORD_HEADER_LEN
}

#[test]
fn record_exactly_filling_the_end_needs_no_padding() {
    let (producer, mut consumer) = tiny();
    for i in 0..4u8 {
        producer.try_push(2, &vec![i; payload_for(64)]).unwrap();
    }
    assert_eq!(
        producer.try_push(2, &[9]),
        Err(PushError::Full),
        "ring is exactly full"
    );
    assert_eq!(drain_payloads(&mut consumer, 10).len(), 4);
    producer.try_push(2, &[42; 10]).unwrap(); // starts again at offset 0
    let mut seqs = Vec::new();
    consumer
        .drain(10, usize::MAX, |r| seqs.push((r.seq, r.payload.to_vec())))
        .unwrap();
    assert_eq!(seqs, vec![((CAP / 8) as u32, vec![42; 10])]);
    let stats = consumer.stats();
    assert_eq!(stats.padding_bytes, 0);
    assert_eq!(stats.dropped_full_records, 1);
    assert_eq!(stats.dropped_full_bytes, 24);
}

#[test]
fn record_crossing_the_end_is_preceded_by_padding() {
    let (producer, mut consumer) = tiny();
    for _ in 0..3 {
        producer.try_push(2, &[1; 48]).unwrap(); // 3 x 64 bytes: tail at 192
    }
    assert_eq!(drain_payloads(&mut consumer, 10).len(), 3);
    producer.try_push(2, &[7; 80]).unwrap(); // 96 bytes do not fit in the last 64: pad + wrap
    let mut got = Vec::new();
    consumer
        .drain(10, usize::MAX, |r| got.push((r.seq, r.payload.len())))
        .unwrap();
    assert_eq!(got, vec![((CAP / 8) as u32, 80)]);
    let stats = consumer.stats();
    assert_eq!(stats.padding_bytes, 64);
    assert_eq!(stats.used_bytes, 0);
}

#[test]
fn record_larger_than_the_tail_waits_for_the_start_to_be_free() {
    let (producer, mut consumer) = tiny();
    for _ in 0..3 {
        producer.try_push(2, &[1; 48]).unwrap(); // tail at 192
    }
    assert_eq!(drain_payloads(&mut consumer, 1).len(), 1); // head at 64
    // 96 bytes need the 64 at the end (padding) plus 96 at the start, where only 64 are free.
    assert_eq!(producer.try_push(2, &[7; 80]), Err(PushError::Full));
    assert_eq!(drain_payloads(&mut consumer, 1).len(), 1); // head at 128
    producer.try_push(2, &[7; 80]).unwrap();
    let got = drain_payloads(&mut consumer, 10);
    assert_eq!(got.iter().map(Vec::len).collect::<Vec<_>>(), vec![48, 80]);
}

#[test]
fn capacity_sized_and_oversize_records_are_refused_and_counted() {
    let (producer, mut consumer) = tiny();
    let max = producer.max_record_bytes();
    assert_eq!(max, CAP / 2 - RECORD_HEADER_LEN);
    assert_eq!(
        producer.try_push(2, &vec![0; CAP]),
        Err(PushError::TooLarge)
    );
    assert_eq!(
        producer.try_push(2, &vec![0; max + 1]),
        Err(PushError::TooLarge)
    );
    assert!(matches!(
        producer.try_claim(2, CAP * 4),
        Err(PushError::TooLarge)
    ));
    // The largest record fits an empty ring wherever the tail stands.
    for shift in 0..CAP / 8 {
        producer.try_push(2, &vec![3; max]).unwrap();
        assert_eq!(drain_payloads(&mut consumer, 10), vec![vec![3u8; max]]);
        producer.try_push(2, &[]).unwrap(); // moves the tail by 16
        assert_eq!(
            drain_payloads(&mut consumer, 10),
            vec![Vec::<u8>::new()],
            "shift {shift}"
        );
    }
    assert_eq!(consumer.stats().dropped_too_large, 3);
    assert_eq!(consumer.stats().dropped_full_records, 0);
}

#[test]
fn truncated_commit_pads_the_rest_of_the_claim() {
    let (producer, mut consumer) = tiny();
    let mut slot = producer.try_claim(5, 100).unwrap();
    assert!(slot.iter().all(|b| *b == 0), "slots start zeroed");
    slot[..3].copy_from_slice(b"abc");
    slot.commit_truncated(3);
    producer.try_push(5, b"next").unwrap();
    assert_eq!(
        drain_payloads(&mut consumer, 10),
        vec![b"abc".to_vec(), b"next".to_vec()]
    );
    assert_eq!(consumer.stats().padding_bytes, (16 + 104 - 24) as u64);
}

#[test]
fn aborted_claims_are_skipped() {
    let (producer, mut consumer) = tiny();
    producer.try_claim(5, 30).unwrap().abort();
    drop(producer.try_claim(5, 10).unwrap());
    producer.try_push(5, b"kept").unwrap();
    assert_eq!(drain_payloads(&mut consumer, 10), vec![b"kept".to_vec()]);
    assert_eq!(consumer.stats().aborted_claims, 2);
}

#[test]
fn reserved_types_and_closed_rings_are_refused() {
    let (producer, consumer) = tiny();
    assert_eq!(producer.try_push(0, b"x"), Err(PushError::InvalidType(0)));
    assert_eq!(
        producer.try_push(0xFFFF, b"x"),
        Err(PushError::InvalidType(0xFFFF))
    );
    assert_eq!(consumer.producer_liveness(), Liveness::Alive);
    producer.close();
    assert_eq!(producer.try_push(2, b"x"), Err(PushError::Closed));
    assert_eq!(consumer.producer_liveness(), Liveness::Closed);
    let stats = consumer.stats();
    assert!(stats.closed);
    assert_eq!(stats.dropped_closed, 1);
}

#[test]
fn second_consumer_is_refused() {
    let (producer, consumer) = tiny();
    assert!(matches!(
        Consumer::from_producer(&producer),
        Err(drift_ring::RingError::ConsumerExists { .. })
    ));
    drop(consumer);
    Consumer::from_producer(&producer).unwrap();
}

#[test]
fn max_bytes_limits_a_batch_but_always_delivers_one() {
    let (producer, mut consumer) = tiny();
    for _ in 0..3 {
        producer.try_push(2, &[1; 40]).unwrap();
    }
    assert_eq!(consumer.drain(10, 1, |_| {}).unwrap().records, 1);
    assert_eq!(consumer.drain(10, 80, |_| {}).unwrap().records, 2);
}

/// A sleeping consumer is woken by an urgent record and by crossing the watermark; below the
/// watermark nobody wakes it (it sleeps its timeout out, then sees the data). Each push happens
/// once the consumer is seen asleep, and wakes are read from the ring's counter, so the outcome
/// does not depend on timing; the long timeouts are only deadlines for a broken wake.
#[test]
fn sleeping_consumer_wakes_on_urgent_record_and_watermark() {
    let cfg = RingConfig {
        wake_watermark_bytes: Some(1024),
        ..RingConfig::with_capacity(1 << 16)
    };
    let (producer, _fd) = Producer::create_memfd(&cfg).unwrap();
    let mut consumer = Consumer::from_producer(&producer).unwrap();

    let (tx, rx) = std::sync::mpsc::channel::<&'static str>();
    let feeder = {
        let producer = producer.clone();
        std::thread::spawn(move || {
            for what in rx {
                wait_until_consumer_sleeps(&producer);
                match what {
                    "urgent" => producer
                        .try_push_with_flags(2, FLAG_URGENT, b"now")
                        .unwrap(),
                    "bulk" => {
                        for _ in 0..40 {
                            producer.try_push(2, &[0; 40]).unwrap();
                        }
                    }
                    _ => producer.try_push(2, b"small").unwrap(),
                }
            }
        })
    };
    for (what, records) in [("urgent", 1), ("bulk", 40)] {
        let wakes_before = consumer.stats().wakeups_sent;
        tx.send(what).unwrap();
        let started = Instant::now();
        assert!(consumer.wait_for_data(Duration::from_secs(120)));
        assert_eq!(
            consumer.stats().wakeups_sent,
            wakes_before + 1,
            "{what}: the producer must wake the sleeping consumer"
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{what}: woken only by the timeout"
        );
        // Drain all of this step's records, so that none of them is pushed during the next one.
        let mut drained = 0;
        while drained < records {
            consumer.wait_for_data(Duration::from_millis(10));
            drained += consumer
                .drain(usize::MAX, usize::MAX, |_| {})
                .unwrap()
                .records;
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{what}: records missing"
            );
        }
        assert_eq!(drained, records);
    }
    let wakes_before = consumer.stats().wakeups_sent;
    tx.send("small").unwrap();
    assert!(
        consumer.wait_for_data(Duration::from_millis(300)),
        "data is there at the timeout"
    );
    drop(tx);
    feeder.join().unwrap();
    assert_eq!(
        consumer.stats().wakeups_sent,
        wakes_before,
        "below the watermark nobody wakes the consumer"
    );
}

/// Blocks until the ring's consumer is asleep on its futex (deadline: a minute).
fn wait_until_consumer_sleeps(producer: &Producer) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !producer.consumer_is_sleeping() {
        assert!(
            Instant::now() < deadline,
            "the consumer never went to sleep"
        );
        std::thread::yield_now();
    }
}

/// A memfd ring handed over as an fd: the consumer attaches through it (owner and header checks
/// apply; a wrong expected owner is refused).
#[test]
fn memfd_ring_is_attached_through_its_fd() {
    use drift_ring::{AttachOptions, RingError};
    let (producer, fd) = Producer::create_memfd(&RingConfig::with_capacity(4096)).unwrap();
    assert!(producer.path().is_none());
    producer.try_push(4, b"over the fd").unwrap();
    let wrong = AttachOptions {
        expected_uid: Some(4242),
        ..AttachOptions::default()
    };
    let dup = fd.try_clone().unwrap();
    assert!(matches!(
        Consumer::attach_fd(dup, &wrong),
        Err(RingError::WrongOwner { .. })
    ));
    let mut consumer = Consumer::attach_fd(fd, &AttachOptions::default()).unwrap();
    assert_eq!(
        drain_payloads(&mut consumer, 10),
        vec![b"over the fd".to_vec()]
    );
    assert!(matches!(
        Consumer::from_producer(&producer),
        Err(RingError::ConsumerExists { .. })
    ));
    consumer.remove_file().unwrap(); // nothing to unlink for a memfd
}

/// A closed ring wakes a sleeping consumer at once.
#[test]
fn closing_wakes_the_consumer() {
    let (producer, consumer) = tiny();
    let closer = std::thread::spawn(move || {
        wait_until_consumer_sleeps(&producer);
        producer.close();
        producer
    });
    let started = Instant::now();
    assert!(!consumer.wait_for_data(Duration::from_secs(120)));
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "woken only by the timeout"
    );
    assert_eq!(
        consumer.stats().wakeups_sent,
        1,
        "the close woke the consumer"
    );
    let producer = closer.join().unwrap();
    assert_eq!(producer.try_push(2, b"late"), Err(PushError::Closed));
}
