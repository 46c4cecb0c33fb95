//! The sidecar with real producer processes (`drift-exporter produce`): three producers, one
//! killed with SIGKILL mid-stream. Every span it committed is delivered (a gap-free prefix of
//! its sequence), its ring is recovered and removed, and the other two are unaffected.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{temp_dir, test_config};
use drift_exporter::SinkConfig;
use drift_exporter::sidecar::Sidecar;
use drift_exporter::sidecar::demo::ProducerReport;

const EXE: &str = env!("CARGO_BIN_EXE_drift-exporter");
const COUNT: u64 = 2400;

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
                .args(["--seconds", "60", "--rate", "2000", "--report-every", "20"])
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
    let deadline = Instant::now() + Duration::from_secs(20);
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
    let deadline = Instant::now() + Duration::from_secs(20);
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
    assert!(sidecar.force_flush(Duration::from_secs(10)));

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
    assert!(sidecar.shutdown(Duration::from_secs(5)));
    std::fs::remove_dir_all(ring_dir).ok();
}
