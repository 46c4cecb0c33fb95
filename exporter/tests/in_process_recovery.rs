//! In-process mode survives its process: an application process (this test binary run as a
//! child, an in-process `Exporter` with a file sink) is SIGKILLed or SIGTERMed (default action,
//! no handler) with spans pushed and surely not exported (a schedule delay of ten minutes);
//! its next start, or a sidecar pointed at the ring directory, delivers every one of them
//! exactly once. Producers killed at seeded random points (including inside ring creation)
//! lose nothing they reported accepted. Every wait is for an event, with a generous deadline.

#![warn(clippy::undocumented_unsafe_blocks)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use common::{OwnedSpan, fixtures_of, temp_dir, test_config};
use drift_exporter::{Exporter, ExporterConfig, FileSinkConfig, SdkFlavor, SinkConfig};

const EXE: &str = env!("CARGO_BIN_EXE_drift-exporter");
const CHILD_ENV: &str = "DRIFT_RECOVERY_CHILD";
const DEADLINE: Duration = Duration::from_secs(90);

fn files_config(ring_dir: &Path, traces: &Path, service: &str, delay: Duration) -> ExporterConfig {
    let mut config = test_config(
        ring_dir.to_path_buf(),
        SinkConfig::Files(FileSinkConfig {
            dir: traces.to_path_buf(),
        }),
    );
    config.service.observable_service_id = service.into();
    config.batch.schedule_delay = delay;
    config.batch.max_export_batch_size = 50;
    config
}

/// Span `seq` of child `tag`: the span id carries both (`tag` in the first 4 hex digits).
fn span(tag: u16, seq: u64) -> OwnedSpan {
    static PAYLOAD: std::sync::OnceLock<common::Payload> = std::sync::OnceLock::new();
    let payload = PAYLOAD.get_or_init(|| fixtures_of(&["200b"]).swap_remove(0));
    let mut span = OwnedSpan::from_payload(seq as usize, payload, SdkFlavor::Python);
    span.span_id = format!("{tag:04x}{seq:012x}");
    // Few trace files: one per child.
    span.trace_id = format!("{:032x}", 0x7000 + u128::from(tag));
    span
}

/// Writes a line to stdout with one `write(2)`: unbuffered, so what the parent reads is what
/// happened before a kill. Starts with a newline: the test harness's `test child_process ... `
/// has none.
fn say(line: &str) {
    let text = format!("\n{line}\n");
    // SAFETY: write(2) on fd 1 with a valid buffer of the given length.
    unsafe { libc::write(1, text.as_ptr().cast(), text.len()) };
}

/// The child side, run by the parent as `<this test binary> --exact child_process`. Does
/// nothing in a normal test run.
#[test]
fn child_process() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut parts = spec.split(';');
    let mode = parts.next().unwrap().to_string();
    let ring_dir = PathBuf::from(parts.next().unwrap());
    let traces = PathBuf::from(parts.next().unwrap());
    let tag: u16 = parts.next().unwrap().parse().unwrap();
    let count: u64 = parts.next().unwrap().parse().unwrap();
    let delay = if mode == "hold" {
        // Nothing is exported on a timer: whatever is pushed is surely still in the ring.
        Duration::from_secs(600)
    } else {
        Duration::from_millis(10)
    };
    let mut config = files_config(&ring_dir, &traces, "svc-recovery", delay);
    if mode == "hold" {
        // Nor by size: the whole hold fits one batch that is never cut.
        config.batch.max_export_batch_size = 100_000;
        config.batch.max_export_batch_bytes = 256 << 20;
    }
    let exporter = Exporter::start(config).unwrap();
    for seq in 0..count {
        let span = span(tag, seq);
        let accepted = exporter.push_span(&span.record()).is_ok();
        if mode == "stream" {
            say(&format!("{} {seq}", if accepted { "a" } else { "d" }));
        } else {
            assert!(accepted);
        }
    }
    let health = exporter.health();
    say(&format!(
        "ready pushed={} exported={}",
        health.pushed, health.exported
    ));
    // Wait to be killed.
    loop {
        std::thread::park();
    }
}

/// A child process killed (SIGKILL) and reaped when dropped, so a failing test leaves none.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl std::ops::Deref for Guard {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Guard {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

fn spawn_child(mode: &str, ring_dir: &Path, traces: &Path, tag: u16, count: u64) -> Guard {
    spawn_child_env(mode, ring_dir, traces, tag, count, None)
}

fn spawn_child_env(
    mode: &str,
    ring_dir: &Path,
    traces: &Path,
    tag: u16,
    count: u64,
    crash_at: Option<&str>,
) -> Guard {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "--exact",
            "child_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(
            CHILD_ENV,
            format!(
                "{mode};{};{};{tag};{count}",
                ring_dir.display(),
                traces.display()
            ),
        )
        .env("DRIFT_EXPORTER_QUIET", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(stage) = crash_at {
        command.env("DRIFT_RING_CRASH_AT", stage);
    }
    Guard(command.spawn().expect("spawn child"))
}

/// Reads the child's lines until one starts with `prefix`.
fn read_until(stdout: &mut BufReader<ChildStdout>, prefix: &str) -> String {
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "child ended before {prefix:?}"
        );
        if line.starts_with(prefix) {
            return line.trim().to_string();
        }
    }
}

fn kill(child: &mut Child, sig: i32) {
    // SAFETY: kill(2) on a child we spawned and have not reaped, so the pid is still ours.
    assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(sig), "died of the signal, no handler");
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + DEADLINE;
    while !done() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Span ids (as `(tag, seq)`) of every complete line under `dir` (recursively), with how often
/// each was written. Panics on a torn or unparsable line.
fn delivered(dir: &Path) -> BTreeMap<(u16, u64), u64> {
    let mut seen = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                // Ring directories hold rings, not trace files.
                if path.file_name().is_none_or(|name| name != "rings") {
                    stack.push(path);
                }
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(
                text.is_empty() || text.ends_with('\n'),
                "torn tail in {path:?}"
            );
            for line in text.lines() {
                let value: serde_json::Value = serde_json::from_str(line).expect("whole line");
                let id = value["spanId"].as_str().unwrap();
                let tag = u16::from_str_radix(&id[..4], 16).unwrap();
                let seq = u64::from_str_radix(&id[4..], 16).unwrap();
                *seen.entry((tag, seq)).or_insert(0) += 1;
            }
        }
    }
    seen
}

fn rings(dir: &Path) -> Vec<PathBuf> {
    drift_ring::list_rings(dir).unwrap_or_default()
}

/// A child pushes `count` spans and is killed with `sig` before exporting any.
fn leave_spans_behind(ring_dir: &Path, traces: &Path, sig: i32, count: u64) {
    let mut child = spawn_child("hold", ring_dir, traces, 1, count);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let ready = read_until(&mut stdout, "ready");
    assert_eq!(ready, format!("ready pushed={count} exported=0"));
    kill(&mut child, sig);
    assert_eq!(rings(ring_dir).len(), 1, "the dead process's ring stays");
    assert!(
        delivered(traces).is_empty(),
        "nothing was exported before the kill"
    );
}

fn next_start_delivers(sig: i32, tag: &str) {
    const COUNT: u64 = 300;
    let base = temp_dir(tag);
    let ring_dir = base.join("rings");
    let killed_traces = base.join("killed");
    leave_spans_behind(&ring_dir, &killed_traces, sig, COUNT);

    // Another service's start leaves the ring alone.
    let other_traces = base.join("other");
    let other = Exporter::start(files_config(
        &ring_dir,
        &other_traces,
        "another-service",
        Duration::from_millis(10),
    ))
    .unwrap();
    assert!(other.force_flush(DEADLINE));
    assert_eq!(other.health().recovered, 0);
    assert!(other.shutdown(DEADLINE));

    // The next start of the same service delivers every span, exactly once.
    let traces = base.join("next");
    let next = Exporter::start(files_config(
        &ring_dir,
        &traces,
        "svc-recovery",
        Duration::from_millis(10),
    ))
    .unwrap();
    wait_for("the dead ring's spans delivered", || {
        next.force_flush(DEADLINE) && next.health().exported == COUNT
    });
    let health = next.health();
    assert_eq!((health.pushed, health.recovered), (0, COUNT));
    assert_eq!(health.dropped_total, 0);
    let seen = delivered(&traces);
    let expected: BTreeSet<(u16, u64)> = (0..COUNT).map(|seq| (1, seq)).collect();
    assert_eq!(seen.keys().copied().collect::<BTreeSet<_>>(), expected);
    assert!(seen.values().all(|&n| n == 1), "each span once");
    wait_for("the emptied dead ring removed", || {
        rings(&ring_dir).len() == 1
    });
    assert!(next.shutdown(DEADLINE));
    assert!(
        rings(&ring_dir).is_empty(),
        "a clean shutdown removes its ring"
    );
    assert!(delivered(&other_traces).is_empty());
    std::fs::remove_dir_all(&base).ok();
}

#[test]
fn spans_of_a_sigkilled_process_are_delivered_by_its_next_start() {
    next_start_delivers(libc::SIGKILL, "recover-kill");
}

#[test]
fn spans_of_a_sigtermed_process_are_delivered_by_its_next_start() {
    next_start_delivers(libc::SIGTERM, "recover-term");
}

fn sidecar_delivers(sig: i32, tag: &str) {
    const COUNT: u64 = 300;
    let base = temp_dir(tag);
    let ring_dir = base.join("rings");
    leave_spans_behind(&ring_dir, &base.join("killed"), sig, COUNT);
    let traces = base.join("sidecar");
    let mut sidecar = Guard(
        Command::new(EXE)
            .arg("run")
            .arg("--ring-dir")
            .arg(&ring_dir)
            .args(["--sink", "files", "--traces-dir"])
            .arg(&traces)
            .args(["--schedule-delay-millis", "10"])
            .env("DRIFT_EXPORTER_QUIET", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("the sidecar delivered and removed the ring", || {
        rings(&ring_dir).is_empty() && delivered(&traces).len() as u64 == COUNT
    });
    // SAFETY: kill(2) on our own unreaped child.
    unsafe { libc::kill(sidecar.id() as i32, libc::SIGTERM) };
    sidecar.wait().unwrap();
    let seen = delivered(&traces);
    assert_eq!(seen.len() as u64, COUNT);
    assert!(seen.values().all(|&n| n == 1), "each span once");
    std::fs::remove_dir_all(&base).ok();
}

#[test]
fn spans_of_a_sigkilled_process_are_delivered_by_a_sidecar() {
    sidecar_delivers(libc::SIGKILL, "sidecar-kill");
}

#[test]
fn spans_of_a_sigtermed_process_are_delivered_by_a_sidecar() {
    sidecar_delivers(libc::SIGTERM, "sidecar-term");
}

#[test]
fn two_live_starts_never_drain_the_same_dead_ring() {
    const COUNT: u64 = 200;
    let base = temp_dir("recover-two");
    let ring_dir = base.join("rings");
    leave_spans_behind(&ring_dir, &base.join("killed"), libc::SIGKILL, COUNT);
    let config = |name: &str| {
        files_config(
            &ring_dir,
            &base.join(name),
            "svc-recovery",
            Duration::from_millis(10),
        )
    };
    let first = Exporter::start(config("first")).unwrap();
    let second = Exporter::start(config("second")).unwrap();
    wait_for("the dead ring delivered", || {
        first.force_flush(DEADLINE)
            && second.force_flush(DEADLINE)
            && first.health().exported + second.health().exported == COUNT
    });
    // One of them took the ring (the consumer lock), the other found it taken.
    let recovered = (first.health().recovered, second.health().recovered);
    assert!(
        recovered == (COUNT, 0) || recovered == (0, COUNT),
        "{recovered:?}"
    );
    let seen = delivered(&base);
    assert_eq!(seen.len() as u64, COUNT);
    assert!(seen.values().all(|&n| n == 1));
    assert!(first.shutdown(DEADLINE) && second.shutdown(DEADLINE));
    std::fs::remove_dir_all(&base).ok();
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// Where ring creation can be interrupted (`DRIFT_RING_CRASH_AT`, see `ring/src/process.rs`).
const CREATION_STAGES: [&str; 5] = ["created", "locked", "sized", "header", "published"];

/// Records a consumer can have read and not had confirmed: the send queue (8 batches with the
/// file sink), the batch in the sender, the open batch and one drain chunk (256 records).
const WINDOW: u64 = (8 + 2) * 50 + 256;

#[test]
fn producers_sigkilled_at_random_points_lose_nothing() {
    // `scripts/long-runs.sh` raises the kills; CI runs the short version.
    let kills = env_number("DRIFT_RECOVERY_KILLS", 30);
    let seed = env_number("DRIFT_RECOVERY_SEED", 0x00d1_ed10);
    let base = temp_dir("recover-random");
    let ring_dir = base.join("rings");
    std::fs::create_dir_all(&ring_dir).unwrap();
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    // Per child: spans it reported accepted, dropped (counted), and the highest seq it tried.
    let mut accepted: BTreeMap<u16, BTreeSet<u64>> = BTreeMap::new();
    let mut dropped = 0u64;
    let mut creation_kills = 0;
    // One traces directory for every process, as for an application restarted in place: a line
    // torn by a kill mid-append is cut by the next start's file sink before its first write.
    let traces = base.join("traces");
    for kill_index in 0..kills {
        let tag = kill_index as u16 + 1;
        let roll = next();
        if roll % 5 == 0 {
            // Killed inside ring creation, at a seeded stage.
            let stage = CREATION_STAGES[(roll / 5) as usize % CREATION_STAGES.len()];
            let mut child =
                spawn_child_env("stream", &ring_dir, &traces, tag, 1 << 40, Some(stage));
            let status = child.wait().unwrap();
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(status.signal(), Some(libc::SIGKILL), "crashed at {stage}");
            creation_kills += 1;
            continue;
        }
        // Killed after a seeded number of pushes, while it exports and recovers.
        let lines = 1 + next() % 600;
        let mut child = spawn_child("stream", &ring_dir, &traces, tag, 1 << 40);
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        let mut read = 0;
        let mut killed = false;
        loop {
            line.clear();
            if stdout.read_line(&mut line).unwrap() == 0 {
                // EOF: the child is dead and every line it wrote before is read.
                assert!(killed, "child {tag} ended by itself");
                break;
            }
            let mut parts = line.split_whitespace();
            match (
                parts.next(),
                parts.next().and_then(|s| s.parse::<u64>().ok()),
            ) {
                (Some("a"), Some(seq)) => {
                    accepted.entry(tag).or_default().insert(seq);
                    read += 1;
                }
                (Some("d"), Some(_)) => {
                    dropped += 1;
                    read += 1;
                }
                _ => {} // the test harness's own output
            }
            if read >= lines && !killed {
                // Lines still in the pipe are read after the kill: they were written before.
                kill(&mut child, libc::SIGKILL);
                killed = true;
            }
        }
    }
    // The final start delivers whatever is left. It pushes one span of its own (tag 0), so its
    // file sink surely writes, cutting any torn tail first.
    let last = Exporter::start(files_config(
        &ring_dir,
        &traces,
        "svc-recovery",
        Duration::from_millis(10),
    ))
    .unwrap();
    last.push_span(&span(0, 0).record()).unwrap();
    wait_for("every dead ring delivered and removed", || {
        last.force_flush(DEADLINE) && rings(&ring_dir).len() == 1
    });
    let final_health = last.health();
    assert!(last.shutdown(DEADLINE));
    assert!(rings(&ring_dir).is_empty());
    println!("final start: {final_health:?}");

    let seen = delivered(&base);
    let mut duplicates = 0;
    let mut unreported = 0;
    assert_eq!(seen.get(&(0, 0)), Some(&1), "the final start's own span");
    for (&(tag, seq), &times) in seen.iter().filter(|((tag, _), _)| *tag != 0) {
        duplicates += times - 1;
        let reported = accepted.get(&tag).is_some_and(|set| set.contains(&seq));
        if !reported {
            // Accepted by the ring but killed before it said so: at most one per kill.
            unreported += 1;
        }
    }
    let mut lost = 0;
    for (tag, seqs) in &accepted {
        let missing: Vec<u64> = seqs
            .iter()
            .copied()
            .filter(|seq| !seen.contains_key(&(*tag, *seq)))
            .collect();
        if !missing.is_empty() {
            println!(
                "child {tag}: {} of {} accepted spans missing, seqs {:?}..{:?}",
                missing.len(),
                seqs.len(),
                missing.first(),
                missing.last()
            );
        }
        lost += missing.len() as u64;
    }
    let reported: u64 = accepted.values().map(|s| s.len() as u64).sum();
    println!(
        "random kills: {kills} ({creation_kills} inside ring creation), accepted {reported}, \
         dropped {dropped}, delivered {}, lost {lost}, duplicates {duplicates} (bound {}), \
         accepted but unreported {unreported}",
        seen.len() - 1,
        kills * WINDOW
    );
    assert_eq!(lost, 0, "every span reported accepted is delivered");
    assert!(
        unreported <= kills,
        "{unreported} unreported for {kills} kills"
    );
    assert!(duplicates <= kills * WINDOW, "{duplicates} duplicates");
    std::fs::remove_dir_all(&base).ok();
}
