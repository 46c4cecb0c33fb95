//! Cross-process and crash-injection tests with real producer processes
//! (`drift-ring-test-producer`) and the consumer in the test process.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use common::{OrderCheck, TempDir, payload};
use drift_ring::{AttachOptions, Consumer, Liveness};

const HELPER: &str = env!("CARGO_BIN_EXE_drift-ring-test-producer");
const MAX: usize = 300;

struct Spawned {
    child: Child,
    lines: BufReader<ChildStdout>,
    path: PathBuf,
}

/// A failing test must not leave producer processes behind.
impl Drop for Spawned {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn spawn(dir: &TempDir, args: &[&str]) -> Spawned {
    let mut child = Command::new(HELPER)
        .arg(format!("dir={}", dir.path().display()))
        .arg(format!("max={MAX}"))
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the producer helper");
    let mut lines = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    lines.read_line(&mut first).unwrap();
    let path = PathBuf::from(
        first
            .trim()
            .strip_prefix("PATH ")
            .unwrap_or_else(|| panic!("unexpected helper output {first:?}")),
    );
    Spawned { child, lines, path }
}

fn read_line(lines: &mut BufReader<ChildStdout>) -> String {
    let mut line = String::new();
    lines.read_line(&mut line).unwrap();
    line.trim().to_owned()
}

fn attach(path: &Path) -> Consumer {
    Consumer::attach(path, &AttachOptions::default()).unwrap()
}

/// Drains into `order`, verifying every byte; returns the number of records.
fn drain_checked(consumer: &mut Consumer, order: &mut OrderCheck) -> u64 {
    let summary = consumer
        .drain(usize::MAX, usize::MAX, |r| {
            let (w, seq) = payload::verify(r.payload, MAX).unwrap();
            order.see(w, seq);
        })
        .unwrap();
    assert_eq!(summary.checksum_failures, 0);
    assert!(!summary.quarantined, "{:?}", consumer.quarantine_reason());
    summary.records
}

#[test]
fn producer_processes_feed_a_consumer_in_the_test() {
    let dir = TempDir::new("xproc");
    const THREADS: u64 = 2;
    const RECORDS: u64 = 20_000;
    let mut producers: Vec<_> = (0..3)
        .map(|_| {
            spawn(
                &dir,
                &[
                    "mode=normal",
                    "threads=2",
                    "records=20000",
                    "capacity=65536",
                ],
            )
        })
        .collect();
    let mut rings: Vec<(Consumer, OrderCheck)> = producers
        .iter()
        .map(|p| (attach(&p.path), OrderCheck::default()))
        .collect();

    // A consumer restart half-way: drop one consumer (its lock goes away) and attach again;
    // it resumes from the head stored in the ring, so nothing is delivered twice.
    while rings[0].1.total < 1000 {
        let (c, o) = &mut rings[0];
        drain_checked(c, o);
    }
    let (first, order) = rings.remove(0);
    drop(first);
    rings.insert(0, (attach(&producers[0].path), order));

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut moved = 0;
        for (consumer, order) in rings.iter_mut() {
            moved += drain_checked(consumer, order);
        }
        let finished = rings
            .iter()
            .all(|(c, o)| o.total == THREADS * RECORDS && c.producer_liveness() != Liveness::Alive);
        if finished {
            break;
        }
        assert!(Instant::now() < deadline, "cross-process drain timed out");
        if moved == 0 {
            rings[0].0.wait_for_data(Duration::from_millis(1));
        }
    }
    for p in producers.iter_mut() {
        assert_eq!(read_line(&mut p.lines), "DONE");
        assert!(p.child.wait().unwrap().success());
    }
    for ((consumer, order), p) in rings.into_iter().zip(&producers) {
        assert_eq!(order.total, THREADS * RECORDS);
        let stats = consumer.stats();
        assert_eq!(stats.records_written, THREADS * RECORDS);
        assert_eq!(stats.records_read, THREADS * RECORDS);
        assert!(
            stats.closed,
            "a producer that exits cleanly closes its ring"
        );
        assert_eq!(consumer.producer_liveness(), Liveness::Dead);
        consumer.remove_file().unwrap();
        assert!(!p.path.exists());
    }
    assert!(
        drift_ring::list_rings(dir.path()).unwrap().is_empty(),
        "no residue"
    );
}

/// Producers killed at a deterministic point between claim and commit: the consumer recovers
/// every committed record (before and after the abandoned claim), skips and counts the
/// abandoned one, exports nothing torn, and removes the file.
fn crash_at(point: &str) {
    let dir = TempDir::new(point);
    let mut p = spawn(
        &dir,
        &[&format!("mode={point}"), "records=100", "capacity=65536"],
    );
    let status = p.child.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "{point}: helper must die by SIGKILL ({status:?})"
    );
    let mut consumer = attach(&p.path);
    assert_eq!(consumer.producer_liveness(), Liveness::Dead);
    let mut order = OrderCheck::default();
    // Normal draining stops at the abandoned claim...
    drain_checked(&mut consumer, &mut order);
    assert_eq!(order.total, 100, "{point}: records before the claim");
    assert!(consumer.pending_bytes() > 0);
    // ...recovery skips it and delivers the rest.
    let report = consumer
        .recover(|r| {
            let (w, seq) = payload::verify(r.payload, MAX).unwrap();
            order.see(w, seq);
        })
        .unwrap();
    assert_eq!(report.abandoned_records, 1, "{point}: {report:?}");
    assert!(
        !report.quarantined,
        "{point}: {:?}",
        consumer.quarantine_reason()
    );
    assert_eq!(report.records_recovered, 100);
    assert_eq!(order.total, 200);
    assert_eq!(consumer.pending_bytes(), 0);
    let stats = consumer.stats();
    assert_eq!(stats.abandoned_records, 1);
    assert_eq!(stats.records_read, 200);
    assert!(!stats.closed, "a killed producer never closed its ring");
    consumer.remove_file().unwrap();
    assert!(!p.path.exists());
}

#[test]
fn crash_after_claim_before_header() {
    crash_at("crash-after-claim");
}

#[test]
fn crash_mid_payload() {
    crash_at("crash-mid-payload");
}

#[test]
fn crash_before_commit() {
    crash_at("crash-before-commit");
}

/// Producers with two writer threads killed with SIGKILL at varying times while the consumer
/// drains concurrently: no torn record is ever exported, at most one claim per writer thread is
/// abandoned, and recovery never wedges.
#[test]
fn random_sigkill_while_draining() {
    let dir = TempDir::new("sigkill");
    for (round, delay_ms) in [7u64, 23, 41, 2, 60].into_iter().enumerate() {
        let mut p = spawn(&dir, &["mode=forever", "threads=2", "capacity=16384"]);
        assert_eq!(read_line(&mut p.lines), "READY");
        let mut consumer = attach(&p.path);
        let mut order = OrderCheck::default();
        // Kill only once the writers are running: `delay_ms` after the first record arrives.
        let started = Instant::now();
        while order.total == 0 {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "round {round}: the producer wrote nothing"
            );
            drain_checked(&mut consumer, &mut order);
        }
        let until = Instant::now() + Duration::from_millis(delay_ms);
        while Instant::now() < until {
            drain_checked(&mut consumer, &mut order);
        }
        let pid = p.child.id() as libc::pid_t;
        // SAFETY: kill(2) on our own child's pid (not yet reaped, so the pid cannot be reused).
        assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
        assert_eq!(p.child.wait().unwrap().signal(), Some(libc::SIGKILL));
        assert_eq!(consumer.producer_liveness(), Liveness::Dead);
        let started = Instant::now();
        let report = consumer
            .recover(|r| {
                let (w, seq) = payload::verify(r.payload, MAX).unwrap();
                order.see(w, seq);
            })
            .unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "recovery must not wedge"
        );
        assert!(
            !report.quarantined,
            "round {round}: {:?}",
            consumer.quarantine_reason()
        );
        assert!(report.abandoned_records <= 2, "round {round}: {report:?}");
        assert_eq!(consumer.pending_bytes(), 0);
        consumer.remove_file().unwrap();
    }
}

/// A child forked from a producer process cannot write into the parent's ring, and dropping
/// its inherited handle neither closes nor removes the parent's ring.
#[test]
fn forked_child_cannot_write_into_the_parents_ring() {
    let dir = TempDir::new("fork");
    let mut p = spawn(&dir, &["mode=fork"]);
    assert!(
        p.child.wait().unwrap().success(),
        "the helper checks the child's refusal"
    );
    let mut consumer = attach(&p.path);
    let mut got = Vec::new();
    consumer
        .drain(usize::MAX, usize::MAX, |r| got.push(r.payload.to_vec()))
        .unwrap();
    assert_eq!(
        got,
        vec![b"parent-before".to_vec(), b"parent-after".to_vec()]
    );
    consumer.remove_file().unwrap();
}
