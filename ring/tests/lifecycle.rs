//! Ring lifecycle that fails safe (issue 11): liveness proven by the producer's lock (never by
//! an error in looking), atomic creation, reaping of dead creators' files, bounded mapping and
//! shrink safety. Real producer processes (`drift-ring-test-producer`).

mod common;

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use common::{TempDir, payload};
use drift_ring::{
    AttachOptions, Consumer, Liveness, LockProbe, Producer, RingError, TEMP_FILE_SUFFIX,
    list_rings, probe_file, set_aside_invalid, sweep_temp_files,
};

const HELPER: &str = env!("CARGO_BIN_EXE_drift-ring-test-producer");
const MAX: usize = 300;

struct Spawned {
    child: Child,
    lines: BufReader<ChildStdout>,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Spawned {
    fn line(&mut self) -> String {
        let mut line = String::new();
        self.lines.read_line(&mut line).unwrap();
        line.trim().to_owned()
    }

    /// Ends an `idle` producer (closes its stdin) and waits for it.
    fn finish(&mut self) {
        drop(self.child.stdin.take());
        assert!(self.child.wait().unwrap().success());
    }
}

fn command(program: &str, pre: &[&str], dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(pre)
        .arg(format!("dir={}", dir.display()))
        .arg(format!("max={MAX}"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    cmd
}

fn spawn_cmd(mut cmd: Command) -> std::io::Result<Spawned> {
    let mut child = cmd.spawn()?;
    let lines = BufReader::new(child.stdout.take().unwrap());
    Ok(Spawned { child, lines })
}

fn spawn(dir: &Path, args: &[&str]) -> Spawned {
    spawn_cmd(command(HELPER, &[], dir, args)).expect("spawn the producer helper")
}

/// An `idle` producer with `records` records; returns it and its ring's path.
fn idle_producer(dir: &Path, records: u32) -> (Spawned, PathBuf) {
    let mut p = spawn(dir, &["mode=idle", &format!("records={records}")]);
    let path = PathBuf::from(p.line().strip_prefix("PATH ").unwrap());
    assert_eq!(p.line(), "READY");
    (p, path)
}

fn attach(path: &Path) -> Consumer {
    Consumer::attach(path, &AttachOptions::default()).unwrap()
}

fn drain_all(consumer: &mut Consumer) -> u64 {
    let mut n = 0;
    loop {
        let got = consumer
            .drain(1024, usize::MAX, |r| {
                payload::verify(r.payload, MAX).unwrap();
            })
            .unwrap()
            .records;
        if got == 0 {
            return n;
        }
        n += got;
    }
}

fn dir_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Cleans a directory as the sidecar does: sweeps dead creators' temporary files, recovers and
/// removes every ring (each must be a valid ring of a dead producer). Returns
/// `(temporary files removed, rings recovered)`.
fn reap_all_dead(dir: &Path) -> (u64, u64) {
    let swept = sweep_temp_files(dir).unwrap();
    assert_eq!(swept.in_progress + swept.unknown, 0, "{swept:?}");
    let mut recovered = 0;
    for path in list_rings(dir).unwrap() {
        let mut consumer = Consumer::attach(&path, &AttachOptions::default())
            .unwrap_or_else(|e| panic!("a file under a final ring name is not a ring: {e}"));
        assert_eq!(consumer.producer_liveness(), Liveness::Dead);
        consumer.recover(|_| {}).unwrap();
        consumer.remove_file().unwrap();
        recovered += 1;
    }
    (swept.removed, recovered)
}

#[test]
fn emfile_during_liveness_checks_never_means_dead() {
    let dir = TempDir::new("emfile");
    let mut producers: Vec<_> = (0..3).map(|_| idle_producer(dir.path(), 20)).collect();
    // A dead creator's temporary file the starved watcher cannot even open.
    let junk_temp = dir.path().join(format!(".drift.1.1.00{TEMP_FILE_SUFFIX}"));
    std::fs::write(&junk_temp, b"").unwrap();
    let out = command(HELPER, &[], dir.path(), &["mode=watch", "records=50"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text} {:?}", out.status);
    assert!(text.contains("EMFILE true"), "{text}");
    assert!(
        text.contains("LIVENESS alive=150 dead=0 unknown=0"),
        "{text}"
    );
    assert!(!text.contains("removed=1"), "{text}");
    assert!(text.contains("SET_ASIDE Some(false)"), "{text}");
    // Nothing was removed or renamed: every live producer's ring is where it was.
    for (_, path) in &producers {
        assert!(path.exists());
        assert_eq!(probe_file(path), LockProbe::Held);
    }
    assert!(junk_temp.exists());
    for (p, _) in &mut producers {
        p.finish();
    }
    let (removed, recovered) = reap_all_dead(dir.path());
    assert_eq!((removed, recovered), (1, 3));
    assert!(dir_entries(dir.path()).is_empty());
}

#[test]
fn producer_in_its_own_pid_namespace() {
    let dir = TempDir::new("pidns");
    let cmd = command(
        "unshare",
        &["--pid", "--fork", "--mount-proc", HELPER],
        dir.path(),
        &["mode=idle", "records=25"],
    );
    let mut p = match spawn_cmd(cmd) {
        Ok(p) => p,
        Err(e) => {
            println!("SKIPPED producer_in_its_own_pid_namespace: cannot run unshare: {e}");
            return;
        }
    };
    let first = p.line();
    let Some(path) = first.strip_prefix("PATH ").map(PathBuf::from) else {
        let mut err = String::new();
        let _ = p.child.wait();
        if let Some(mut e) = p.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        println!(
            "SKIPPED producer_in_its_own_pid_namespace: no PID namespace here ({first:?} {err})"
        );
        return;
    };
    assert_eq!(p.line(), "READY");
    let mut consumer = attach(&path);
    // The header's pid is the producer's pid in its own namespace, meaningless here: liveness
    // comes from the lock.
    assert_eq!(consumer.producer_liveness(), Liveness::Alive);
    assert_eq!(drain_all(&mut consumer), 25);
    assert!(matches!(
        consumer.recover_abandoned(),
        Err(RingError::ProducerAlive { .. })
    ));
    p.finish();
    assert_eq!(consumer.producer_liveness(), Liveness::Dead);
    consumer.recover(|_| {}).unwrap();
    consumer.remove_file().unwrap();
    assert!(dir_entries(dir.path()).is_empty());
}

/// Writes a ring file whose header claims a capacity of 1 GiB: the header of a real ring with
/// its capacity field rewritten.
fn huge_claim(dir: &Path, len: u64) -> PathBuf {
    let sub = dir.join("src");
    std::fs::create_dir(&sub).unwrap();
    std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o700)).unwrap();
    let cfg = drift_ring::RingConfig {
        dir: Some(sub.clone()),
        ..drift_ring::RingConfig::with_capacity(1 << 12)
    };
    let producer = Producer::create(&cfg).unwrap();
    let mut header = std::fs::read(producer.path().unwrap()).unwrap();
    header.truncate(drift_ring::HEADER_LEN);
    producer.unlink().unwrap();
    drop(producer);
    std::fs::remove_dir(&sub).unwrap();
    header[0x10..0x18].copy_from_slice(&(1u64 << 30).to_ne_bytes());
    let path = dir.join("drift.1.1.0000000000000001.ring");
    std::fs::write(&path, &header).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len)
        .unwrap();
    path
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
fn sparse_file_claiming_a_huge_capacity() {
    let dir = TempDir::new("sparse");
    // A 4 KiB file claiming 1 GiB: refused before anything is mapped.
    let small = huge_claim(dir.path(), 4096);
    assert!(matches!(
        Consumer::attach(&small, &AttachOptions::default()),
        Err(RingError::WrongSize { .. })
    ));
    std::fs::remove_file(&small).unwrap();
    // A sparse file of the claimed size: refused by the cap, before mapping.
    let sparse = huge_claim(dir.path(), (1 << 30) + drift_ring::HEADER_LEN as u64);
    let capped = AttachOptions {
        max_ring_bytes: Some(64 << 20),
        ..AttachOptions::default()
    };
    assert!(matches!(
        Consumer::attach(&sparse, &capped),
        Err(RingError::OverCap { .. })
    ));
    // Without a cap it maps, but never pre-faults: the resident size does not grow by the
    // claimed gigabyte.
    let before = rss_kib();
    let consumer = Consumer::attach(&sparse, &AttachOptions::default()).unwrap();
    let grown = rss_kib().saturating_sub(before);
    assert!(grown < 64 << 10, "attach faulted in {grown} KiB");
    drop(consumer);
}

#[test]
fn sigkill_at_each_creation_stage_leaves_nothing_behind() {
    let dir = TempDir::new("crashstage");
    for stage in ["created", "locked", "sized", "header", "published"] {
        let mut cmd = command(HELPER, &[], dir.path(), &["mode=idle", "records=0"]);
        cmd.env("DRIFT_RING_CRASH_AT", stage);
        let mut p = spawn_cmd(cmd).unwrap();
        let status = p.child.wait().unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL), "{stage}");
        let names = dir_entries(dir.path());
        assert_eq!(names.len(), 1, "{stage}: {names:?}");
        let published = stage == "published";
        assert_eq!(
            names[0].ends_with(TEMP_FILE_SUFFIX),
            !published,
            "{stage}: {names:?}"
        );
        assert_eq!(
            list_rings(dir.path()).unwrap().len(),
            usize::from(published)
        );
        let (removed, recovered) = reap_all_dead(dir.path());
        assert_eq!(
            (removed, recovered),
            (u64::from(!published), u64::from(published)),
            "{stage}"
        );
        assert!(dir_entries(dir.path()).is_empty(), "{stage}");
    }
}

/// xorshift64*: fixed-seed delays.
fn next(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

/// Producers creating rings in a loop, SIGKILLed at random (fixed-seed) moments; after each
/// kill every file under a final name is a valid ring and every leftover is reaped. The number
/// of kills is `DRIFT_RING_KILLS` (default 30; `scripts/ring-kill-test.sh` runs 1,000).
#[test]
fn random_sigkill_during_creation() {
    let kills: u32 = std::env::var("DRIFT_RING_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let dir = TempDir::new("randkill");
    let mut seed = 0x5EED_0011_u64;
    let (mut temps, mut rings, mut clean) = (0u64, 0u64, 0u64);
    for _ in 0..kills {
        let mut p = spawn(dir.path(), &["mode=create-loop", "capacity=4194304"]);
        assert_eq!(p.line(), "READY");
        let delay = next(&mut seed) % 3000;
        std::thread::sleep(Duration::from_micros(delay));
        p.child.kill().unwrap();
        assert_eq!(p.child.wait().unwrap().signal(), Some(libc::SIGKILL));
        let (removed, recovered) = reap_all_dead(dir.path());
        temps += removed;
        rings += recovered;
        clean += u64::from(removed + recovered == 0);
        assert!(dir_entries(dir.path()).is_empty());
    }
    println!(
        "RANDOM-KILL kills={kills} temp_files_removed={temps} rings_recovered={rings} \
         nothing_left={clean} files_left=0 invalid_rings=0"
    );
}

#[test]
fn junk_and_half_made_files() {
    let dir = TempDir::new("junk");
    // A half-made file under a final name (4 MiB of zeros, no header), creator dead.
    let zeros = dir.path().join("drift.4242.1.00000000000000aa.ring");
    std::fs::write(&zeros, vec![0u8; 4 << 20]).unwrap();
    let err = Consumer::attach(&zeros, &AttachOptions::default()).unwrap_err();
    assert!(err.is_invalid_file(), "{err}");
    let aside = set_aside_invalid(&zeros).unwrap();
    assert!(!zeros.exists() && aside.exists());
    assert!(list_rings(dir.path()).unwrap().is_empty());
    std::fs::remove_file(aside).unwrap();
    // A dead creator's temporary file: removed; a live ring: kept, its lock held.
    std::fs::write(
        dir.path().join(format!(".drift.1.1.01{TEMP_FILE_SUFFIX}")),
        b"x",
    )
    .unwrap();
    let producer = Producer::create(&dir.config(1 << 12)).unwrap();
    let live = producer.path().unwrap().to_owned();
    assert_eq!(probe_file(&live), LockProbe::Held);
    let swept = sweep_temp_files(dir.path()).unwrap();
    assert_eq!((swept.removed, swept.in_progress), (1, 0));
    assert_eq!(
        set_aside_invalid(&live).unwrap_err().raw_os_error(),
        Some(libc::EBUSY)
    );
    // A consumer attached by path in the producing process and dropped (closing a descriptor
    // drops the process's POSIX locks): the lock is taken again.
    drop(attach(&live));
    assert_eq!(probe_file(&live), LockProbe::Held);
    producer.unlink().unwrap();
}

#[test]
fn truncation_of_a_live_ring_while_draining_is_quarantined() {
    let dir = TempDir::new("shrink");
    let (mut p, path) = idle_producer(dir.path(), 40);
    let mut consumer = attach(&path);
    consumer.verify_backing().unwrap();
    assert_eq!(drain_all(&mut consumer), 40);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(4096)
        .unwrap();
    assert!(matches!(
        consumer.verify_backing(),
        Err(RingError::WrongSize { actual: 4096, .. })
    ));
    assert!(consumer.is_quarantined());
    assert!(consumer.drain(10, 1 << 20, |_| {}).is_err());
    // The producer lives on and its file is not removed.
    assert_eq!(consumer.producer_liveness(), Liveness::Alive);
    drop(consumer);
    assert!(path.exists());
    p.finish();
}

/// A truncation that lands in the middle of a drain pass (after the size check): the read past
/// the new end is survived (the rest of the mapping becomes zero pages, the drain stops) and the
/// next size check quarantines the ring.
#[test]
fn truncation_inside_a_drain_pass_is_survived() {
    let dir = TempDir::new("shrinkmid");
    let (mut p, path) = idle_producer(dir.path(), 40);
    let mut consumer = attach(&path);
    consumer.verify_backing().unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(4096)
        .unwrap();
    let before = drift_ring::survived_faults();
    // No size check before this pass: the data region is past the end of the file.
    let got = consumer.drain(1024, usize::MAX, |_| {}).unwrap();
    assert_eq!(got.records, 0);
    assert!(drift_ring::survived_faults() > before);
    assert!(matches!(
        consumer.verify_backing(),
        Err(RingError::WrongSize { .. })
    ));
    assert!(consumer.is_quarantined());
    assert_eq!(consumer.producer_liveness(), Liveness::Alive);
    drop(consumer);
    assert!(path.exists());
    p.finish();
}
