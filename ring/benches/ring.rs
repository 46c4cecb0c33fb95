//! Ring push and push+drain against `crossbeam_queue::ArrayQueue<Vec<u8>>` and a plain memcpy of
//! the same bytes, for 64 B, 256 B, 2 KiB and 20 KiB records, with 1 and 2 producer threads.
//!
//! `cargo bench -p drift-ring --bench ring` (figures in docs/benchmarks.md).

use std::hint::black_box;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use crossbeam_queue::ArrayQueue;
use drift_ring::{Consumer, Producer, PushError, RingConfig};

const SIZES: [usize; 4] = [64, 256, 2048, 20 * 1024];
const RING_BYTES: usize = 4 << 20;

fn ring(checksum: bool) -> (Producer, Consumer) {
    let cfg = RingConfig {
        checksum,
        ..RingConfig::with_capacity(RING_BYTES)
    };
    let (producer, _fd) = Producer::create_memfd(&cfg).expect("memfd ring");
    let consumer = Consumer::from_producer(&producer).expect("consumer");
    (producer, consumer)
}

/// Records pushed between two (untimed) drains in the push-only benches: well below capacity.
fn batch_for(size: usize) -> u64 {
    ((RING_BYTES / 4) / (size + 16)).clamp(8, 512) as u64
}

fn drain_all(consumer: &mut Consumer) -> u64 {
    let mut n = 0;
    consumer
        .drain(usize::MAX, usize::MAX, |r| {
            black_box(r.payload);
            n += 1;
        })
        .expect("drain");
    n
}

/// Single producer, push cost only: batches of pushes are timed, the drains between them not.
fn push_only(c: &mut Criterion) {
    let mut group = c.benchmark_group("push_1p");
    for size in SIZES {
        let payload = vec![0xA5u8; size];
        group.throughput(Throughput::Bytes(size as u64));
        for checksum in [true, false] {
            let name = if checksum {
                "ring_crc32c"
            } else {
                "ring_no_checksum"
            };
            let (producer, mut consumer) = ring(checksum);
            let batch = batch_for(size);
            group.bench_function(BenchmarkId::new(name, size), |b| {
                b.iter_custom(|iters| {
                    let mut timed = Duration::ZERO;
                    let mut left = iters;
                    while left > 0 {
                        let n = left.min(batch);
                        let start = Instant::now();
                        for _ in 0..n {
                            producer.try_push(2, black_box(&payload)).expect("room");
                        }
                        timed += start.elapsed();
                        drain_all(&mut consumer);
                        left -= n;
                    }
                    timed
                })
            });
        }
        let queue = ArrayQueue::<Vec<u8>>::new(batch_for(size) as usize);
        group.bench_function(BenchmarkId::new("arrayqueue_vec", size), |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(queue.capacity() as u64);
                    let start = Instant::now();
                    for _ in 0..n {
                        queue.push(black_box(&payload).to_vec()).expect("room");
                    }
                    timed += start.elapsed();
                    while let Some(v) = queue.pop() {
                        black_box(v);
                    }
                    left -= n;
                }
                timed
            })
        });
        let mut dst = vec![0u8; size];
        group.bench_function(BenchmarkId::new("memcpy", size), |b| {
            b.iter(|| {
                dst.copy_from_slice(black_box(&payload));
                black_box(&mut dst);
            })
        });
    }
    group.finish();
}

/// Single thread pushes a batch and drains it (both timed): the whole round trip per record.
fn push_drain_one_thread(c: &mut Criterion) {
    let mut group = c.benchmark_group("push_drain_1p");
    for size in SIZES {
        let payload = vec![0x5Au8; size];
        group.throughput(Throughput::Bytes(size as u64));
        let (producer, mut consumer) = ring(true);
        let batch = batch_for(size);
        group.bench_function(BenchmarkId::new("ring_crc32c", size), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                let mut left = iters;
                while left > 0 {
                    let n = left.min(batch);
                    for _ in 0..n {
                        producer.try_push(2, black_box(&payload)).expect("room");
                    }
                    drain_all(&mut consumer);
                    left -= n;
                }
                start.elapsed()
            })
        });
        let queue = ArrayQueue::<Vec<u8>>::new(batch as usize);
        group.bench_function(BenchmarkId::new("arrayqueue_vec", size), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                let mut left = iters;
                while left > 0 {
                    let n = left.min(batch);
                    for _ in 0..n {
                        queue.push(black_box(&payload).to_vec()).expect("room");
                    }
                    while let Some(v) = queue.pop() {
                        black_box(&v);
                    }
                    left -= n;
                }
                start.elapsed()
            })
        });
    }
    group.finish();
}

/// Producer threads that live for a whole benchmark: each `start(n)` makes every thread run its
/// job `n` times (no thread spawn inside the timed region).
struct Writers {
    go: Vec<mpsc::Sender<u64>>,
    done: mpsc::Receiver<()>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Writers {
    fn new(count: usize, job: impl Fn() + Send + Clone + 'static) -> Writers {
        let (done_tx, done) = mpsc::channel();
        let (mut go, mut threads) = (Vec::new(), Vec::new());
        for _ in 0..count {
            let (tx, rx) = mpsc::channel::<u64>();
            let (job, done_tx) = (job.clone(), done_tx.clone());
            threads.push(std::thread::spawn(move || {
                for n in rx {
                    for _ in 0..n {
                        job();
                    }
                    done_tx.send(()).expect("bench alive");
                }
            }));
            go.push(tx);
        }
        Writers { go, done, threads }
    }

    fn start(&self, per_thread: u64) {
        self.go
            .iter()
            .for_each(|tx| tx.send(per_thread).expect("writer alive"));
    }

    fn wait(&self) {
        self.go
            .iter()
            .for_each(|_| self.done.recv().expect("writer alive"));
    }
}

impl Drop for Writers {
    fn drop(&mut self) {
        self.go.clear();
        self.threads
            .drain(..)
            .for_each(|t| t.join().expect("writer"));
    }
}

/// Records each of the two writers pushes per round in the two-thread benches.
fn round_for(size: usize) -> u64 {
    ((RING_BYTES / 4) / (size + 16) / 2).clamp(8, 8192) as u64
}

/// Two producer threads push concurrently (contending on the tail CAS, or on the queue), then
/// this thread drains the round; the whole round is timed, per record. Rounds fit the ring, so
/// nobody waits for space: the machine has two cores, and a third busy thread would turn the
/// figure into a measure of the scheduler.
fn push_drain_two_threads(c: &mut Criterion) {
    let mut group = c.benchmark_group("push_drain_2p");
    for size in SIZES {
        let payload = Arc::new(vec![0x3Cu8; size]);
        let round = round_for(size);
        group.throughput(Throughput::Bytes(size as u64));
        {
            let (producer, mut consumer) = ring(true);
            let payload = payload.clone();
            let writers = Writers::new(2, move || {
                while let Err(e) = producer.try_push(2, &payload) {
                    assert_eq!(e, PushError::Contention, "rounds fit the ring");
                }
            });
            group.bench_function(BenchmarkId::new("ring_crc32c", size), |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    let mut done = 0;
                    while done < iters {
                        let per_thread = (iters - done).div_ceil(2).min(round);
                        writers.start(per_thread);
                        writers.wait();
                        done += drain_all(&mut consumer);
                    }
                    start.elapsed()
                })
            });
        }
        {
            let queue = Arc::new(ArrayQueue::<Vec<u8>>::new(2 * round as usize));
            let (q, payload) = (queue.clone(), payload.clone());
            let writers = Writers::new(2, move || {
                q.push(payload.to_vec()).expect("rounds fit the queue");
            });
            group.bench_function(BenchmarkId::new("arrayqueue_vec", size), |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    let mut done = 0;
                    while done < iters {
                        let per_thread = (iters - done).div_ceil(2).min(round);
                        writers.start(per_thread);
                        writers.wait();
                        while let Some(v) = queue.pop() {
                            black_box(&v);
                            done += 1;
                        }
                    }
                    start.elapsed()
                })
            });
        }
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

criterion_group! { name = benches; config = config(); targets = push_only, push_drain_one_thread, push_drain_two_threads }
criterion_main!(benches);
