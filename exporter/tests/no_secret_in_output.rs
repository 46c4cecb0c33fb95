//! No secret in any output, with real processes: a backend on 127.0.0.1 that echoes the request
//! headers (`x-api-key` included) in its 5xx bodies, a `drift-exporter run` sidecar delivering a
//! producer process's spans to it. The key appears in nothing the sidecar writes: stdout,
//! stderr, files in the ring directory (the stats snapshot), `stats` and `stats --json`.

#![warn(clippy::undocumented_unsafe_blocks)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::mock_backend::{MockBackend, Reply};
use common::temp_dir;

const EXE: &str = env!("CARGO_BIN_EXE_drift-exporter");
const KEY: &str = "tusk-SECRET-key-0123456789abcdef";
const ECHOES: usize = 6;

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(90);
    while !done() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Every file under `dir` (recursively), as bytes.
fn all_files(dir: &Path, out: &mut Vec<(std::path::PathBuf, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all_files(&path, out);
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((path, bytes));
        }
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[test]
fn a_backend_echoing_the_key_in_5xx_bodies_gets_it_into_no_output() {
    let backend = MockBackend::start();
    backend.script((0..ECHOES).map(|i| Reply::EchoHeaders(if i % 2 == 0 { 503 } else { 500 })));
    let base = temp_dir("no-secret");
    let ring_dir = base.join("rings");
    std::fs::create_dir_all(&ring_dir).unwrap();
    let stdout_path = base.join("sidecar.stdout");
    let stderr_path = base.join("sidecar.stderr");
    let mut sidecar = Command::new(EXE)
        .arg("run")
        .arg("--ring-dir")
        .arg(&ring_dir)
        .args(["--sink", "api", "--api-url", &backend.base_url()])
        .args(["--api-key", KEY])
        .args([
            "--schedule-delay-millis",
            "20",
            "--max-export-batch-size",
            "50",
        ])
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let producer = Command::new(EXE)
        .args([
            "produce",
            "--index",
            "0",
            "--count",
            "200",
            "--seconds",
            "60",
        ])
        .args(["--max-payload-bytes", "1024"])
        .arg("--ring-dir")
        .arg(&ring_dir)
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert!(producer.status.success());
    let text = String::from_utf8(producer.stdout).unwrap();
    let report: common::ProducerReport =
        serde_json::from_str(text.lines().last().unwrap()).unwrap();
    wait_for("every accepted span delivered after the echoes", || {
        let delivered: usize = backend
            .accepted()
            .iter()
            .map(|r| r.request.spans.len())
            .sum();
        delivered as u64 >= report.accepted
    });
    let stats_table = Command::new(EXE)
        .args(["stats", "--ring-dir"])
        .arg(&ring_dir)
        .output()
        .unwrap();
    wait_for("the stats snapshot", || {
        Command::new(EXE)
            .args(["stats", "--json", "--ring-dir"])
            .arg(&ring_dir)
            .output()
            .is_ok_and(|out| out.status.success())
    });
    let stats_json = Command::new(EXE)
        .args(["stats", "--json", "--ring-dir"])
        .arg(&ring_dir)
        .output()
        .unwrap();
    // SAFETY: kill(2) on our own unreaped child.
    unsafe { libc::kill(sidecar.id() as i32, libc::SIGTERM) };
    assert!(sidecar.wait().unwrap().success());

    // The echoes happened: the backend saw the key, the sidecar met the failures and logged them.
    let received = backend.all_received();
    assert!(
        received
            .iter()
            .filter(|r| !r.accepted)
            .all(|r| r.headers.iter().any(|(k, v)| k == "x-api-key" && v == KEY))
    );
    assert!(received.iter().filter(|r| !r.accepted).count() >= ECHOES);
    let stderr = std::fs::read(&stderr_path).unwrap();
    assert!(
        contains(&stderr, "503") || contains(&stderr, "500"),
        "the failures were logged: {}",
        String::from_utf8_lossy(&stderr)
    );

    let mut outputs = vec![
        ("stats table".into(), stats_table.stdout),
        ("stats table stderr".into(), stats_table.stderr),
        ("stats --json".into(), stats_json.stdout),
    ];
    all_files(&base, &mut outputs);
    for (name, bytes) in &outputs {
        assert!(!contains(bytes, KEY), "the key leaked into {name:?}");
        assert!(
            !contains(bytes, &KEY[KEY.len() - 16..]),
            "part of the key leaked into {name:?}"
        );
    }
    std::fs::remove_dir_all(&base).ok();
}
