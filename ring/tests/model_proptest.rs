//! Property test of the real ring (single thread, tiny capacity) against a `VecDeque` model:
//! random sequences of push, claim+abort, claim+truncated commit and drain. The model predicts
//! every `Full` / `TooLarge`, the padding at the wrap, and exactly which records each drain
//! returns; the ring must agree on all of it.

use std::collections::VecDeque;

use drift_ring::{Consumer, Producer, PushError, RingConfig};
use proptest::prelude::*;

const CAP: u64 = 256;

#[derive(Debug, Clone)]
enum Op {
    Push { len: usize, record_type: u16 },
    ClaimAbort { len: usize },
    ClaimTruncate { len: usize, keep: usize },
    Drain { max: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0usize..130, 1u16..5).prop_map(|(len, record_type)| Op::Push { len, record_type }),
        1 => (0usize..120).prop_map(|len| Op::ClaimAbort { len }),
        1 => (0usize..120, 0usize..120).prop_map(|(len, keep)| Op::ClaimTruncate { len, keep }),
        3 => (0usize..4).prop_map(|max| Op::Drain { max }),
    ]
}

#[derive(Debug)]
enum Entry {
    Record {
        record_type: u16,
        data: Vec<u8>,
        end: u64,
    },
    Pad {
        end: u64,
    },
}

/// The model: positions and the queue of what lies between head and tail.
struct Model {
    head: u64,
    tail: u64,
    max: usize,
    queue: VecDeque<Entry>,
}

fn framed(len: usize) -> u64 {
    (16 + len as u64).div_ceil(8) * 8
}

impl Model {
    /// Predicts a claim; on success returns the record position, pushing the wrap padding.
    fn claim(&mut self, len: usize) -> Result<u64, PushError> {
        if len > self.max {
            return Err(PushError::TooLarge);
        }
        let need = framed(len);
        let to_end = CAP - self.tail % CAP;
        let pad = if need > to_end { to_end } else { 0 };
        if need + pad > CAP - (self.tail - self.head) {
            return Err(PushError::Full);
        }
        if pad > 0 {
            self.queue.push_back(Entry::Pad {
                end: self.tail + pad,
            });
        }
        let pos = self.tail + pad;
        self.tail = pos + need;
        Ok(pos)
    }

    fn drain(&mut self, max: usize) -> Vec<(u16, Vec<u8>)> {
        let mut out = Vec::new();
        while out.len() < max {
            match self.queue.pop_front() {
                None => break,
                Some(Entry::Pad { end }) => self.head = end,
                Some(Entry::Record {
                    record_type,
                    data,
                    end,
                }) => {
                    self.head = end;
                    out.push((record_type, data));
                }
            }
        }
        out
    }
}

fn bytes(n: usize, salt: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 13 + salt) as u8).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn ring_matches_vecdeque_model(ops in prop::collection::vec(op(), 1..200), checksum in any::<bool>()) {
        let cfg = RingConfig { checksum, ..RingConfig::with_capacity(CAP as usize) };
        let (producer, _fd) = Producer::create_memfd(&cfg).unwrap();
        let mut consumer = Consumer::from_producer(&producer).unwrap();
        let mut model = Model { head: 0, tail: 0, max: producer.max_record_bytes(), queue: VecDeque::new() };
        for (i, op) in ops.into_iter().enumerate() {
            match op {
                Op::Push { len, record_type } => {
                    let data = bytes(len, i);
                    let expected = model.claim(len).map(|pos| {
                        model.queue.push_back(Entry::Record { record_type, data: data.clone(), end: pos + framed(len) });
                    });
                    prop_assert_eq!(producer.try_push(record_type, &data), expected);
                }
                Op::ClaimAbort { len } => {
                    let expected = model.claim(len).map(|pos| model.queue.push_back(Entry::Pad { end: pos + framed(len) }));
                    let claim = producer.try_claim(1, len);
                    prop_assert_eq!(claim.as_ref().err().copied(), expected.err());
                    if let Ok(mut slot) = claim {
                        slot.fill(0xAB);
                    }
                }
                Op::ClaimTruncate { len, keep } => {
                    let keep = keep.min(len);
                    let data = bytes(keep, i);
                    let expected = model.claim(len).map(|pos| {
                        model.queue.push_back(Entry::Record { record_type: 9, data: data.clone(), end: pos + framed(keep) });
                        if framed(keep) < framed(len) {
                            model.queue.push_back(Entry::Pad { end: pos + framed(len) });
                        }
                    });
                    match producer.try_claim(9, len) {
                        Ok(mut slot) => {
                            prop_assert!(expected.is_ok());
                            slot[..keep].copy_from_slice(&data);
                            slot.commit_truncated(keep);
                        }
                        Err(e) => prop_assert_eq!(Err(e), expected),
                    }
                }
                Op::Drain { max } => {
                    let expected = model.drain(max);
                    let mut got = Vec::new();
                    let summary = consumer.drain(max, usize::MAX, |r| got.push((r.record_type, r.payload.to_vec()))).unwrap();
                    prop_assert!(!summary.quarantined);
                    prop_assert_eq!(got, expected);
                }
            }
            prop_assert_eq!(producer.stats().used_bytes, model.tail - model.head);
        }
        // Draining everything leaves an empty ring and consistent counters.
        let rest = model.drain(usize::MAX);
        let mut got = Vec::new();
        consumer.drain(usize::MAX, usize::MAX, |r| got.push((r.record_type, r.payload.to_vec()))).unwrap();
        prop_assert_eq!(got, rest);
        let stats = consumer.stats();
        prop_assert_eq!(stats.used_bytes, 0);
        prop_assert_eq!(stats.records_written, stats.records_read);
        prop_assert_eq!(stats.checksum_failures, 0);
    }
}
