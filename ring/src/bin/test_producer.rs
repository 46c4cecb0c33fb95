//! Producer process for drift-ring's cross-process and crash-injection tests (not shipped for
//! production use). Creates a named ring, prints `PATH <path>` on stdout, then writes
//! deterministic records (see `tests/common/payload.rs`) according to `mode`:
//!
//! * `normal`: `threads` writers push `records` records each (retrying while full), then exit.
//! * `crash-after-claim`, `crash-mid-payload`, `crash-before-commit`: `records` records, then a
//!   claim abandoned at that point, then `records` more from another thread, then `SIGKILL`
//!   to itself: a deterministic crash point.
//! * `forever`: `threads` writers push until the test kills the process.
//! * `fork`: pushes, takes an in-process consumer, forks; the child checks that the inherited
//!   producer refuses to push and the inherited consumer refuses to drain, and drops both; the
//!   parent checks it still holds the consumer lock and pushes again.
//!
//! Arguments are `key=value`: `dir`, `mode`, `threads`, `records`, `max` (payload bytes),
//! `capacity`.

#[path = "../../tests/common/payload.rs"]
mod payload;

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use drift_ring::{AttachOptions, Consumer, Liveness, Producer, PushError, RingConfig, RingError};

const RECORD_TYPE: u16 = 2;

struct Args {
    dir: PathBuf,
    mode: String,
    threads: u8,
    records: u32,
    max: usize,
    capacity: usize,
}

fn parse_args() -> Result<Args, String> {
    let pairs: HashMap<String, String> = std::env::args()
        .skip(1)
        .map(|a| {
            a.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or(format!("bad argument {a}"))
        })
        .collect::<Result<_, _>>()?;
    let get = |k: &str, default: &str| pairs.get(k).cloned().unwrap_or_else(|| default.to_owned());
    let num = |k: &str, default: &str| {
        get(k, default)
            .parse::<u64>()
            .map_err(|e| format!("{k}: {e}"))
    };
    Ok(Args {
        dir: PathBuf::from(pairs.get("dir").ok_or("dir= is required")?),
        mode: get("mode", "normal"),
        threads: num("threads", "1")? as u8,
        records: num("records", "1000")? as u32,
        max: num("max", "300")? as usize,
        capacity: num("capacity", "65536")? as usize,
    })
}

/// Pushes record `seq` of `writer`, retrying while the ring is full (bounded).
fn push_retrying(
    producer: &Producer,
    writer: u8,
    seq: u32,
    max: usize,
    buf: &mut Vec<u8>,
) -> Result<(), String> {
    let len = payload::length(writer, seq, max);
    buf.resize(len, 0);
    payload::fill(buf, writer, seq);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match producer.try_push(RECORD_TYPE, buf) {
            Ok(()) => return Ok(()),
            Err(PushError::Full | PushError::Contention) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_micros(50))
            }
            Err(e) => return Err(format!("push {writer}/{seq}: {e}")),
        }
    }
}

fn push_range(
    producer: &Producer,
    writer: u8,
    seqs: std::ops::Range<u32>,
    max: usize,
) -> Result<(), String> {
    let mut buf = Vec::new();
    seqs.into_iter()
        .try_for_each(|seq| push_retrying(producer, writer, seq, max, &mut buf))
}

fn kill_self() -> ! {
    // SAFETY: sending a signal to our own pid has no memory-safety preconditions.
    unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    unreachable!("SIGKILL cannot be caught")
}

fn crash(producer: &Producer, args: &Args, point: &str) -> Result<(), String> {
    push_range(producer, 0, 0..args.records, args.max)?;
    let data = payload::make(0, args.records, args.max);
    // Keep the claim alive across the kill: it must never be committed or aborted.
    let claim = match point {
        "crash-after-claim" => {
            producer
                .debug_reserve_without_header(data.len())
                .map_err(|e| e.to_string())?;
            None
        }
        _ => Some(
            producer
                .try_claim(RECORD_TYPE, data.len())
                .map_err(|e| e.to_string())?,
        ),
    };
    let mut claim = claim;
    if let Some(slot) = claim.as_mut() {
        let upto = if point == "crash-mid-payload" {
            data.len() / 2
        } else {
            data.len()
        };
        slot[..upto].copy_from_slice(&data[..upto]);
    }
    // Records committed after the abandoned claim, by another thread.
    let other = producer.clone();
    let (records, max) = (args.records, args.max);
    std::thread::spawn(move || push_range(&other, 1, 0..records, max))
        .join()
        .map_err(|_| "writer panicked")??;
    std::mem::forget(claim);
    kill_self()
}

fn fork_check(producer: &Producer) -> Result<(), String> {
    producer
        .try_push(RECORD_TYPE, b"parent-before")
        .map_err(|e| e.to_string())?;
    // An in-process consumer (holding the ring's consumer lock) is inherited by the child too.
    let consumer = Consumer::from_producer(producer).map_err(|e| e.to_string())?;
    // SAFETY: the process is single-threaded here; the child only calls async-signal-safe
    // operations plus our push (which returns at once) before `_exit`.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err("fork failed".into());
    }
    if pid == 0 {
        let refused = producer.try_push(RECORD_TYPE, b"child") == Err(PushError::Forked)
            && !producer.owned_by_this_process();
        let inherited = producer.clone();
        drop(inherited);
        let mut consumer = consumer;
        let refused = refused
            && matches!(
                consumer.drain(usize::MAX, usize::MAX, |_| {}),
                Err(RingError::InheritedAcrossFork)
            );
        drop(consumer); // must not release the parent's consumer lock
        // SAFETY: leaves the child immediately without running the parent's destructors.
        unsafe { libc::_exit(if refused { 0 } else { 3 }) };
    }
    let mut status = 0;
    // SAFETY: waits for the child we just forked.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        return Err(format!("child failed: status {status}"));
    }
    let path = producer.path().expect("named ring");
    match Consumer::attach(path, &AttachOptions::default()) {
        Err(RingError::ConsumerExists { .. }) => {}
        other => return Err(format!("the parent's consumer lock was lost: {other:?}")),
    }
    drop(consumer);
    producer
        .try_push(RECORD_TYPE, b"parent-after")
        .map_err(|e| e.to_string())
}

/// `create-loop`: creates and unlinks rings for ever (the test kills it at random times).
fn create_loop(cfg: &RingConfig) -> Result<(), String> {
    println!("READY");
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    loop {
        let producer = Producer::create(cfg).map_err(|e| e.to_string())?;
        producer.unlink().map_err(|e| e.to_string())?;
    }
}

/// `watch`: attaches to every ring of `dir`, then lowers `RLIMIT_NOFILE` so that no file can
/// be opened (every new open fails with `EMFILE`) and checks liveness `records` times and
/// sweeps the directory. Prints `LIVENESS alive=<n> dead=<n> unknown=<n>` and
/// `SWEEP removed=<n> unknown=<n> set_aside=<ok|err>`.
fn watch(args: &Args) -> Result<(), String> {
    let rings = drift_ring::list_rings(&args.dir).map_err(|e| e.to_string())?;
    let consumers: Vec<Consumer> = rings
        .iter()
        .map(|p| Consumer::attach(p, &AttachOptions::default()).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    // Lower the soft limit below the descriptors already open: every open now fails.
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid, initialised struct.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(format!("getrlimit: {}", std::io::Error::last_os_error()));
    }
    limit.rlim_cur = 3;
    // SAFETY: as above.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(format!("setrlimit: {}", std::io::Error::last_os_error()));
    }
    let emfile = std::fs::File::open("/dev/null")
        .err()
        .and_then(|e| e.raw_os_error());
    let (mut alive, mut dead, mut unknown) = (0, 0, 0);
    for _ in 0..args.records {
        for c in &consumers {
            match c.producer_liveness() {
                Liveness::Alive | Liveness::Closed => alive += 1,
                Liveness::Dead => dead += 1,
                Liveness::Unknown => unknown += 1,
            }
        }
    }
    let sweep = drift_ring::sweep_temp_files(&args.dir);
    let aside = rings
        .first()
        .map(|p| drift_ring::set_aside_invalid(p).is_ok());
    println!("EMFILE {}", emfile == Some(libc::EMFILE));
    println!("LIVENESS alive={alive} dead={dead} unknown={unknown}");
    match sweep {
        Ok(r) => println!("SWEEP removed={} unknown={}", r.removed, r.unknown),
        Err(e) => println!("SWEEP error={}", e.raw_os_error().unwrap_or(0)),
    }
    println!("SET_ASIDE {aside:?}");
    std::io::stdout().flush().map_err(|e| e.to_string())
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let cfg = RingConfig {
        dir: Some(args.dir.clone()),
        ..RingConfig::with_capacity(args.capacity)
    };
    match args.mode.as_str() {
        "create-loop" => return create_loop(&cfg),
        "watch" => return watch(&args),
        _ => {}
    }
    let producer = Producer::create(&cfg).map_err(|e| e.to_string())?;
    println!("PATH {}", producer.path().expect("named ring").display());
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    match args.mode.as_str() {
        "normal" => {
            let writers: Vec<_> = (0..args.threads)
                .map(|w| {
                    let (producer, records, max) = (producer.clone(), args.records, args.max);
                    std::thread::spawn(move || push_range(&producer, w, 0..records, max))
                })
                .collect();
            for w in writers {
                w.join().map_err(|_| "writer panicked")??;
            }
            println!("DONE");
            Ok(())
        }
        "forever" => {
            let writers: Vec<_> = (0..args.threads)
                .map(|w| {
                    let (producer, max) = (producer.clone(), args.max);
                    std::thread::spawn(move || {
                        let mut buf = Vec::new();
                        for seq in 0.. {
                            let len = payload::length(w, seq, max);
                            buf.resize(len, 0);
                            payload::fill(&mut buf, w, seq);
                            let _ = producer.try_push(RECORD_TYPE, &buf);
                        }
                    })
                })
                .collect();
            println!("READY");
            std::io::stdout().flush().map_err(|e| e.to_string())?;
            for w in writers {
                let _ = w.join();
            }
            Ok(())
        }
        "fork" => fork_check(&producer),
        "idle" => {
            // `records` records, then wait for stdin to close (the test ends the producer).
            let mut buf = Vec::new();
            for seq in 0..args.records {
                let len = payload::length(0, seq, args.max);
                buf.resize(len, 0);
                payload::fill(&mut buf, 0, seq);
                producer
                    .try_push(RECORD_TYPE, &buf)
                    .map_err(|e| e.to_string())?;
            }
            println!("READY");
            std::io::stdout().flush().map_err(|e| e.to_string())?;
            let mut sink = Vec::new();
            let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
            Ok(())
        }
        point @ ("crash-after-claim" | "crash-mid-payload" | "crash-before-commit") => {
            crash(&producer, &args, point)
        }
        other => Err(format!("unknown mode {other}")),
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("drift-ring-test-producer: {e}");
            ExitCode::FAILURE
        }
    }
}
