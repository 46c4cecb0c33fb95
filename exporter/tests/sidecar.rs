//! The sidecar with real producer processes (`drift-exporter produce`): three producers, one
//! killed with SIGKILL mid-stream. Every span it committed is delivered (a gap-free prefix of
//! its sequence), its ring is recovered and removed, and the other two are unaffected.

#![warn(clippy::undocumented_unsafe_blocks)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::ProducerReport;
use common::{temp_dir, test_config};
use drift_exporter::SinkConfig;
use drift_exporter::sidecar::Sidecar;

const EXE: &str = env!("CARGO_BIN_EXE_drift-exporter");
const COUNT: u64 = 1800;

#[test]
fn three_producers_one_killed_mid_stream() {
    let ring_dir = temp_dir("sidecar");
    // span id = 4 hex digits of producer index + 12 of its sequence number.
    let delivered: Arc<Mutex<BTreeMap<u32, Vec<u64>>>> = Arc::default();
    let sink_seen = delivered.clone();
    let sink = SinkConfig::Callback(Arc::new(move |bytes: Vec<u8>| {
        use prost::Message;
        let request =
            drift_core_rs::tusk_drift_schemas::tusk::drift::backend::v1::ExportSpansRequest::decode(bytes.as_slice())
                .unwrap();
        let mut seen = sink_seen.lock().unwrap();
        for span in request.spans {
            let producer = u32::from_str_radix(&span.span_id[..4], 16).unwrap();
            let seq = u64::from_str_radix(&span.span_id[4..], 16).unwrap();
            seen.entry(producer).or_default().push(seq);
        }
    }));
    let sidecar = Sidecar::start(&test_config(ring_dir.clone(), sink)).unwrap();

    let mut children: Vec<_> = (0..3)
        .map(|index| {
            Command::new(EXE)
                .args([
                    "produce",
                    "--index",
                    &index.to_string(),
                    "--count",
                    &COUNT.to_string(),
                ])
                .args(["--seconds", "60", "--rate", "1500", "--report-every", "20"])
                .args(["--max-payload-bytes", "2048"])
                .arg("--ring-dir")
                .arg(&ring_dir)
                .stdout(Stdio::piped())
                .spawn()
                .expect("spawn producer")
        })
        .collect();

    // Kill producer 1 once it has committed a few hundred spans.
    let victim_pid = children[1].id();
    let mut victim_out = BufReader::new(children[1].stdout.take().unwrap());
    let mut committed_before_kill = 0u64;
    let mut line = String::new();
    while committed_before_kill < 400 {
        line.clear();
        assert!(
            victim_out.read_line(&mut line).unwrap() > 0,
            "producer 1 ended early"
        );
        if let Some(n) = line.trim().strip_prefix("pushed ") {
            committed_before_kill = n.parse().unwrap();
        }
    }
    // SAFETY: kill(2) on a child we spawned and have not reaped, so the pid is still ours.
    assert_eq!(unsafe { libc::kill(victim_pid as i32, libc::SIGKILL) }, 0);
    let status = children[1].wait().unwrap();
    assert!(!status.success());

    // The dead ring is recovered and removed while the others keep running.
    let deadline = Instant::now() + Duration::from_secs(60);
    let victim_ring = |dir: &std::path::Path| {
        drift_ring::list_rings(dir)
            .unwrap_or_default()
            .into_iter()
            .any(|path| path.to_string_lossy().contains(&format!(".{victim_pid}.")))
    };
    while victim_ring(&ring_dir) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!victim_ring(&ring_dir), "dead producer's ring removed");

    let mut reports = Vec::new();
    for index in [0, 2] {
        let child = children.remove(if index == 0 { 0 } else { 1 });
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "producer {index} failed");
        let text = String::from_utf8(output.stdout).unwrap();
        let report: ProducerReport = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert_eq!(
            (report.accepted, report.dropped),
            (COUNT, 0),
            "producer {index}"
        );
        reports.push(report);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while !drift_ring::list_rings(&ring_dir)
        .unwrap_or_default()
        .is_empty()
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        drift_ring::list_rings(&ring_dir).unwrap().is_empty(),
        "every ring removed"
    );
    assert!(sidecar.force_flush(Duration::from_secs(60)));

    let seen = delivered.lock().unwrap().clone();
    for index in [0u32, 2] {
        let seqs = &seen[&index];
        let unique: BTreeSet<u64> = seqs.iter().copied().collect();
        assert_eq!(unique.len(), seqs.len(), "producer {index}: no duplicates");
        assert_eq!(unique, (0..COUNT).collect(), "producer {index}: every span");
    }
    let victim = &seen[&1];
    let unique: BTreeSet<u64> = victim.iter().copied().collect();
    assert_eq!(unique.len(), victim.len(), "killed producer: no duplicates");
    let delivered_count = unique.len() as u64;
    assert!(
        delivered_count >= committed_before_kill,
        "{delivered_count} < {committed_before_kill}"
    );
    assert_eq!(
        unique,
        (0..delivered_count).collect(),
        "killed producer: a gap-free prefix"
    );

    let health = sidecar.health();
    assert_eq!(health.pushed, 2 * COUNT + delivered_count);
    assert_eq!(health.exported, health.pushed);
    let rings = sidecar.rings();
    assert_eq!(rings.counters.rings_attached_total, 3);
    assert_eq!(rings.counters.rings_removed, 3);
    assert!(rings.counters.dead_producers >= 1);
    assert!(sidecar.shutdown(Duration::from_secs(60)));
    std::fs::remove_dir_all(ring_dir).ok();
}

#[test]
fn an_exporter_in_sidecar_mode_is_drained_by_the_sidecar() {
    let ring_dir = temp_dir("sidecar-mode");
    let delivered = Arc::new(Mutex::new(0usize));
    let seen = delivered.clone();
    let sink = SinkConfig::Callback(Arc::new(move |bytes: Vec<u8>| {
        use prost::Message;
        let request =
            drift_core_rs::tusk_drift_schemas::tusk::drift::backend::v1::ExportSpansRequest::decode(bytes.as_slice())
                .unwrap();
        *seen.lock().unwrap() += request.spans.len();
    }));
    let sidecar = Sidecar::start(&test_config(ring_dir.clone(), sink)).unwrap();
    let exporter =
        drift_exporter::Exporter::start(test_config(ring_dir.clone(), SinkConfig::Sidecar))
            .unwrap();
    let ring_path = exporter.ring_path().expect("a named ring in sidecar mode");
    assert!(ring_path.starts_with(&ring_dir));
    let payloads = common::fixtures_of(&["2k"]);
    for n in 0..50 {
        let span = common::OwnedSpan::from_payload(
            n,
            &payloads[n % payloads.len()],
            drift_exporter::SdkFlavor::Node,
        );
        exporter.push_span(&span.record()).unwrap();
    }
    assert!(
        exporter.force_flush(Duration::from_secs(60)),
        "the sidecar read the ring"
    );
    let health = exporter.health();
    assert_eq!(
        (health.pushed, health.exported, health.in_flight),
        (50, 50, 0),
        "{health:?}"
    );
    assert!(exporter.shutdown(Duration::from_secs(60)));
    // The closed ring is drained and removed by the sidecar.
    let deadline = Instant::now() + Duration::from_secs(60);
    while ring_path.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!ring_path.exists());
    assert!(sidecar.force_flush(Duration::from_secs(60)));
    assert_eq!(*delivered.lock().unwrap(), 50);
    assert!(sidecar.shutdown(Duration::from_secs(60)));
    std::fs::remove_dir_all(ring_dir).ok();
}

#[test]
fn run_stats_and_sigterm_with_the_binary() {
    let ring_dir = temp_dir("run-bin");
    let traces = temp_dir("run-bin-traces");
    let config = ring_dir.join("exporter.toml");
    // The TOML says api; the flag wins.
    std::fs::write(&config, "sink = \"api\"\nschedule_delay_millis = 100\n").unwrap();
    let mut run = Command::new(EXE)
        .args(["run", "--sink", "files"])
        .arg("--config")
        .arg(&config)
        .arg("--ring-dir")
        .arg(&ring_dir)
        .arg("--traces-dir")
        .arg(&traces)
        .env("TUSK_OBSERVABLE_SERVICE_ID", "svc-from-env")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let producer = Command::new(EXE)
        .args([
            "produce",
            "--count",
            "200",
            "--rate",
            "0",
            "--max-payload-bytes",
            "2048",
        ])
        .arg("--ring-dir")
        .arg(&ring_dir)
        .output()
        .unwrap();
    assert!(producer.status.success());
    let files = || std::fs::read_dir(&traces).map_or(0, |entries| entries.count());
    let lines = || -> usize {
        std::fs::read_dir(&traces)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|entry| {
                        std::fs::read_to_string(entry.path())
                            .unwrap_or_default()
                            .lines()
                            .count()
                    })
                    .sum()
            })
            .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while lines() < 200 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(lines(), 200, "every span written by the sidecar");
    assert_eq!(files(), 50, "four spans per trace, one file per trace");

    // `stats` reads the running sidecar's snapshot (written every second).
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut table = String::new();
    while Instant::now() < deadline {
        let stats = Command::new(EXE)
            .args(["stats", "--ring-dir"])
            .arg(&ring_dir)
            .output()
            .unwrap();
        assert!(stats.status.success());
        table = String::from_utf8(stats.stdout).unwrap();
        if table.contains("exported") && table.contains(" 200") {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(table.contains("sidecar pid"), "{table}");
    assert!(table.contains("dropped by reason"), "{table}");

    // SAFETY: kill(2) on a child we spawned and have not reaped.
    assert_eq!(unsafe { libc::kill(run.id() as i32, libc::SIGTERM) }, 0);
    let status = run.wait().unwrap();
    assert!(status.success(), "clean exit on SIGTERM");
    let mut stderr = String::new();
    std::io::Read::read_to_string(run.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("exported 200"), "{stderr}");
    std::fs::remove_dir_all(ring_dir).ok();
    std::fs::remove_dir_all(traces).ok();
}
