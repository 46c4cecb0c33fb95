//! A full disk under the file sink, without mount rights: a child process (this test binary)
//! lowers its own `RLIMIT_FSIZE` so every append past 48 KiB fails with `EFBIG` (`SIGXFSZ`
//! ignored), pushes spans, and finds its flush refused; then the parent "frees space" (the child
//! raises the limit) and every span is delivered exactly once, with no torn line in any file at
//! any point. `scripts/long-runs.sh` runs the same on a real 3 MiB tmpfs. Waits are for events.

#![warn(clippy::undocumented_unsafe_blocks)]

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{OwnedSpan, fixtures_of, temp_dir, test_config};
use drift_exporter::{Exporter, FileSinkConfig, SdkFlavor, SinkConfig};

const CHILD_ENV: &str = "DRIFT_FULL_DISK_CHILD";
/// Set by `scripts/long-runs.sh` to a directory on a small tmpfs: the disk is then really full
/// (a filler file takes all but 48 KiB of it) instead of the child's `RLIMIT_FSIZE`.
const TMPFS_ENV: &str = "DRIFT_FULL_DISK_DIR";
const COUNT: u64 = 200;
const LIMIT_BYTES: u64 = 48 << 10;

fn say(line: &str) {
    let text = format!("\n{line}\n");
    // SAFETY: write(2) on fd 1 with a valid buffer of the given length.
    unsafe { libc::write(1, text.as_ptr().cast(), text.len()) };
}

fn set_file_size_limit(soft: u64) {
    let limit = libc::rlimit {
        rlim_cur: soft,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit with a valid struct; lowering the soft limit needs no privilege, and
    // raising it again up to the (unchanged, infinite) hard limit neither.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_FSIZE, &limit) }, 0);
}

/// The child: see the module comment. Does nothing in a normal test run.
#[test]
fn child_process() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (ring_dir, traces) = spec.split_once(';').unwrap();
    let mut config = test_config(
        PathBuf::from(ring_dir),
        SinkConfig::Files(FileSinkConfig {
            dir: PathBuf::from(traces),
        }),
    );
    config.batch.schedule_delay = Duration::from_millis(10);
    config.batch.max_export_batch_size = 20;
    // The ring is created (and its space reserved) before the disk "fills".
    let exporter = Exporter::start(config).unwrap();
    // SAFETY: ignoring SIGXFSZ makes an over-limit write fail with EFBIG instead of killing us.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    let real_disk = std::env::var_os(TMPFS_ENV).is_some();
    if !real_disk {
        set_file_size_limit(LIMIT_BYTES);
    }
    let payload = fixtures_of(&["200b"]).swap_remove(0);
    for seq in 0..COUNT {
        let mut span = OwnedSpan::from_payload(seq as usize, &payload, SdkFlavor::Python);
        span.trace_id = format!("{:032x}", 0xf011);
        span.span_id = format!("{seq:016x}");
        exporter.push_span(&span.record()).unwrap();
    }
    // The disk is full: the flush cannot be confirmed, whatever its budget.
    let flushed = exporter.force_flush(Duration::from_secs(3));
    let health = exporter.health();
    say(&format!(
        "full flushed={flushed} exported={} dropped={}",
        health.exported, health.dropped_total
    ));
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap();
    if !real_disk {
        set_file_size_limit(libc::RLIM_INFINITY);
    }
    let until = Instant::now() + Duration::from_secs(90);
    while !exporter.force_flush(Duration::from_secs(60)) {
        assert!(
            Instant::now() < until,
            "never delivered: {:?}",
            exporter.health()
        );
    }
    let health = exporter.health();
    say(&format!(
        "done exported={} dropped={} in_flight={}",
        health.exported, health.dropped_total, health.in_flight
    ));
    assert!(exporter.shutdown(Duration::from_secs(60)));
}

/// Every line of every file under `dir` parses (no torn line); span id -> times written.
fn lines(dir: &Path) -> BTreeMap<String, u64> {
    let mut seen = BTreeMap::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.is_empty() || text.ends_with('\n'),
            "torn tail in {path:?}"
        );
        for line in text.lines() {
            let value: serde_json::Value = serde_json::from_str(line).expect("a whole line");
            *seen
                .entry(value["spanId"].as_str().unwrap().to_string())
                .or_insert(0) += 1;
        }
    }
    seen
}

fn read_until(stdout: &mut impl BufRead, prefix: &str) -> String {
    let mut line = String::new();
    loop {
        line.clear();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "child ended");
        if line.starts_with(prefix) {
            return line.trim().to_string();
        }
    }
}

#[test]
fn a_full_disk_tears_no_line_and_every_span_is_delivered_once_space_returns() {
    let base = temp_dir("full-disk");
    let ring_dir = base.join("rings");
    let tmpfs = std::env::var_os(TMPFS_ENV).map(PathBuf::from);
    let traces = match &tmpfs {
        Some(dir) => dir.join("traces"),
        None => base.join("traces"),
    };
    // A real full disk: a filler takes everything but 48 KiB.
    let filler = tmpfs.as_ref().map(|dir| {
        let path = dir.join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 4096];
        while file.write_all(&chunk).is_ok() {}
        let len = file.metadata().unwrap().len();
        file.set_len(len.saturating_sub(LIMIT_BYTES)).unwrap();
        path
    });
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(
            CHILD_ENV,
            format!("{};{}", ring_dir.display(), traces.display()),
        )
        .env("DRIFT_EXPORTER_QUIET", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let full = read_until(&mut stdout, "full");
    assert!(full.starts_with("full flushed=false"), "{full}");
    assert!(
        full.ends_with("dropped=0"),
        "nothing dropped while the disk is full: {full}"
    );
    let before = lines(&traces);
    assert!(
        (before.len() as u64) < COUNT,
        "the limit stopped some writes"
    );
    let total: u64 = std::fs::read_dir(&traces)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(
        filler.is_some() || total <= LIMIT_BYTES,
        "{total} bytes written past the limit"
    );
    // Space returns.
    if let Some(filler) = &filler {
        std::fs::remove_file(filler).unwrap();
    }
    child.stdin.take().unwrap().write_all(b"space\n").unwrap();
    let done = read_until(&mut stdout, "done");
    assert_eq!(done, format!("done exported={COUNT} dropped=0 in_flight=0"));
    assert!(child.wait().unwrap().success());
    let after = lines(&traces);
    assert_eq!(after.len() as u64, COUNT, "every span delivered");
    assert!(after.values().all(|&n| n == 1), "each span exactly once");
    println!(
        "full disk ({}): {} of {COUNT} lines written while full, none torn; all {COUNT} delivered once after",
        if filler.is_some() {
            "tmpfs"
        } else {
            "RLIMIT_FSIZE"
        },
        before.len()
    );
    if tmpfs.is_some() {
        std::fs::remove_dir_all(&traces).ok();
    }
    std::fs::remove_dir_all(&base).ok();
}
