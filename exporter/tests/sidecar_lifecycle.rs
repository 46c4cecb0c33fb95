//! The sidecar's side of the fail-safe ring lifecycle (issue 11): it refuses unsafe ring
//! directories as producers do, removes dead creators' temporary files, reports junk once and
//! sets it aside, and survives a live ring truncated under it (quarantined and counted).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{temp_dir, test_config};
use drift_exporter::SinkConfig;
use drift_exporter::sidecar::Sidecar;

const EXE: &str = env!("CARGO_BIN_EXE_drift-exporter");

fn counting_sink() -> (SinkConfig, Arc<AtomicU64>) {
    let delivered = Arc::new(AtomicU64::new(0));
    let seen = delivered.clone();
    let sink = SinkConfig::Callback(Arc::new(move |bytes: Vec<u8>| {
        use prost::Message;
        let request =
            drift_core_rs::tusk_drift_schemas::tusk::drift::backend::v1::ExportSpansRequest::decode(
                bytes.as_slice(),
            )
            .unwrap();
        seen.fetch_add(request.spans.len() as u64, Ordering::SeqCst);
    }));
    (sink, delivered)
}

fn producer(dir: &Path, index: u32, count: u64, rate: u64) -> Child {
    Command::new(EXE)
        .args(["produce", "--index", &index.to_string()])
        .args(["--count", &count.to_string(), "--seconds", "120"])
        .args(["--rate", &rate.to_string(), "--report-every", "1000000"])
        .arg("--ring-dir")
        .arg(dir)
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn producer")
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn unsafe_ring_directories_are_refused() {
    let base = temp_dir("unsafe-dir");
    let open = base.join("world");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (sink, _) = counting_sink();
    let err = Sidecar::start(&test_config(open.clone(), sink))
        .err()
        .expect("a world-writable ring directory is refused");
    assert!(err.to_string().contains("unsafe ring directory"), "{err}");
    let link = base.join("link");
    let private = base.join("private");
    std::fs::create_dir(&private).unwrap();
    std::os::unix::fs::symlink(&private, &link).unwrap();
    let (sink, _) = counting_sink();
    let err = Sidecar::start(&test_config(link, sink))
        .err()
        .expect("a symbolic link as ring directory is refused");
    assert!(err.to_string().contains("unsafe ring directory"), "{err}");
    std::fs::remove_dir_all(base).ok();
}

#[test]
fn junk_dead_temp_files_and_a_truncated_live_ring() {
    let dir = temp_dir("lifecycle");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    // Left by dead creators: a half-made file under a final name, a temporary file.
    let zeros = dir.join("drift.4242.1.00000000000000aa.ring");
    std::fs::write(&zeros, vec![0u8; 1 << 20]).unwrap();
    let temp = dir.join(".drift.4242.1.00000000000000bb.ring.tmp");
    std::fs::write(&temp, vec![0u8; 4096]).unwrap();
    let (sink, delivered) = counting_sink();
    let sidecar = Sidecar::start(&test_config(dir.clone(), sink)).unwrap();
    wait_for("junk handled", || {
        let c = sidecar.rings().counters;
        c.temp_files_removed == 1 && c.invalid_set_aside == 1
    });
    assert!(!zeros.exists() && !temp.exists());
    assert_eq!(sidecar.rings().counters.invalid_files, 1, "reported once");

    // A live producer whose ring is truncated under the sidecar.
    let mut victim = producer(&dir, 1, 1_000_000, 500);
    wait_for("the victim attached and exporting", || {
        delivered.load(Ordering::SeqCst) > 50
    });
    let ring = drift_ring::list_rings(&dir).unwrap().remove(0);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&ring)
        .unwrap()
        .set_len(4096)
        .unwrap();
    wait_for("the shrunken ring quarantined", || {
        sidecar.rings().counters.rings_shrunk == 1
    });
    let _ = victim.kill();
    let _ = victim.wait();

    // The sidecar lives on and delivers every span of a new producer.
    let before = delivered.load(Ordering::SeqCst);
    let mut fresh = producer(&dir, 2, 300, 0);
    assert!(fresh.wait().unwrap().success());
    wait_for("the fresh producer's spans", || {
        delivered.load(Ordering::SeqCst) >= before + 300
    });
    // The truncated file (its producer now dead) is set aside, nothing is left as a ring.
    wait_for("every ring gone", || {
        drift_ring::list_rings(&dir).unwrap().is_empty()
    });
    let counters = sidecar.rings().counters;
    assert_eq!(counters.rings_shrunk, 1);
    assert_eq!(
        counters.invalid_set_aside, 2,
        "the junk file and the truncated ring"
    );
    assert_eq!(counters.liveness_unknown, 0);
    assert!(sidecar.shutdown(Duration::from_secs(10)) || counters.records_lost_shrunk > 0);
    std::fs::remove_dir_all(dir).ok();
}
