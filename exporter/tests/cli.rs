//! The `drift-exporter` command line as an operator meets it: `run --help`, the log lines of a
//! real sidecar with real producer processes (text and JSON), the Prometheus endpoint checked
//! against `stats --json`, and `TUSK_API_URL`/`TUSK_API_KEY` reaching `run --sink api`.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::mock_backend::MockBackend;
use common::temp_dir;
use drift_exporter::OPTIONS;

const EXE: &str = env!("CARGO_BIN_EXE_drift-exporter");
const DEADLINE: Duration = Duration::from_secs(60);

/// A sidecar whose stderr lines arrive on a channel.
struct Sidecar {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Sidecar {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Sidecar {
        let mut command = Command::new(EXE);
        command
            .arg("run")
            .args(args)
            .env_remove("RUST_LOG")
            .env_remove("TUSK_LOG_LEVEL")
            .env_remove("TUSK_LOG_FORMAT")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("spawn sidecar");
        let stderr = child.stderr.take().unwrap();
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Sidecar {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a stderr line containing every one of `needles`; returns it.
    fn wait_line(&mut self, needles: &[&str]) -> String {
        if let Some(line) = self
            .seen
            .iter()
            .find(|line| needles.iter().all(|n| line.contains(n)))
        {
            return line.clone();
        }
        let until = Instant::now() + DEADLINE;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if needles.iter().all(|n| line.contains(n)) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no stderr line with {needles:?} within {DEADLINE:?}; saw:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Stops it (SIGTERM) and returns every stderr line.
    fn stop(mut self) -> Vec<String> {
        // SAFETY: kill(2) on a child we spawned and have not reaped.
        assert_eq!(
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) },
            0
        );
        assert!(
            self.child.wait().unwrap().success(),
            "clean exit on SIGTERM"
        );
        while let Ok(line) = self.lines.recv_timeout(DEADLINE) {
            self.seen.push(line);
        }
        self.seen
    }
}

fn produce(ring_dir: &Path, count: u64) -> Child {
    Command::new(EXE)
        .args(["produce", "--rate", "0", "--max-payload-bytes", "2048"])
        .args(["--count", &count.to_string()])
        .arg("--ring-dir")
        .arg(ring_dir)
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn producer")
}

fn private_dir(tag: &str) -> std::path::PathBuf {
    let dir = temp_dir(tag);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    dir
}

#[test]
fn run_help_describes_every_option_with_its_variable() {
    let output = Command::new(EXE).args(["run", "--help"]).output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    // Each option: `--flag <VALUE>`, then its description (same line or the next ones) ending
    // in `[env: …]`; a block ends at the next option or section heading.
    let mut described = BTreeMap::new();
    for block in help.split("\n      --").skip(1) {
        let mut lines = block.lines();
        let first = lines.next().unwrap();
        let flag = first.split(' ').next().unwrap().to_string();
        let mut text = first[flag.len()..].trim_start().to_string();
        if text.starts_with('<') {
            text = text
                .split_once('>')
                .map_or("", |(_, rest)| rest)
                .to_string();
        }
        for line in lines {
            if !line.starts_with(' ') || line.trim_start().starts_with('-') {
                break;
            }
            text.push(' ');
            text.push_str(line.trim());
        }
        described.insert(flag, text.trim().to_string());
    }
    for spec in &OPTIONS {
        let flag = spec.name.replace('_', "-");
        let text = described
            .get(&flag)
            .unwrap_or_else(|| panic!("--{flag} missing from run --help:\n{help}"));
        assert!(
            text.contains(&format!("[env: {}]", spec.env)),
            "--{flag} names {}: {text}",
            spec.env
        );
        let words = text.split("[env:").next().unwrap().trim();
        assert!(words.len() > 15, "--{flag} is described: {text:?}");
    }
    for (flag, text) in &described {
        if flag == "help" {
            continue;
        }
        assert!(
            text.contains("[env: TUSK_"),
            "--{flag} names its variable: {text}"
        );
        let words = text.split("[env:").next().unwrap().trim();
        assert!(words.len() > 15, "--{flag} is described: {text:?}");
    }
    for flag in [
        "ring-capacity-bytes",
        "max-retry-attempts",
        "metrics-addr",
        "log-level",
        "log-format",
    ] {
        assert!(described.contains_key(flag), "--{flag} in run --help");
    }
    for rust in [
        "FileConfig",
        "Overrides",
        "Option<",
        "PathBuf",
        "usize",
        "u64",
        "String",
    ] {
        assert!(
            !help.contains(rust),
            "no Rust type name ({rust}) in:\n{help}"
        );
    }
}

#[test]
fn sidecar_logs_attach_recovery_and_names_its_sink_in_words() {
    let dir = private_dir("cli-logs");
    let rings = dir.join("rings");
    let traces = dir.join("traces");
    let ring_arg = rings.to_str().unwrap();
    let traces_arg = traces.to_str().unwrap();
    let mut sidecar = Sidecar::start(
        &["--ring-dir", ring_arg, "--traces-dir", traces_arg],
        &[("TUSK_API_KEY", "secret-key-in-env")],
    );
    let startup = sidecar.wait_line(&["draining the rings in"]);
    assert!(startup.contains(" INFO "), "{startup}");
    assert!(startup.contains(ring_arg), "{startup}");
    assert!(
        startup.contains(&format!("into trace files in {traces_arg}")),
        "{startup}"
    );
    let mut producer = produce(&rings, 100);
    let pid = producer.id().to_string();
    let attached = sidecar.wait_line(&["attached ring", &pid]);
    assert!(attached.contains(" INFO "), "{attached}");
    assert!(producer.wait().unwrap().success());
    // The producer exited without closing its ring: the sidecar recovers it.
    let recovered = sidecar.wait_line(&["dead producer", &pid]);
    assert!(recovered.contains(" INFO "), "{recovered}");
    let lines = sidecar.stop();
    let all = lines.join("\n");
    assert!(all.contains("exported 100"), "{all}");
    for forbidden in [
        "secret-key-in-env",
        "Files(",
        "FileSinkConfig",
        "ApiSinkConfig",
    ] {
        assert!(!all.contains(forbidden), "{forbidden} in the log:\n{all}");
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn json_log_lines_parse() {
    let dir = private_dir("cli-json");
    let rings = dir.join("rings");
    let traces = dir.join("traces");
    let mut sidecar = Sidecar::start(
        &[
            "--log-format",
            "json",
            "--ring-dir",
            rings.to_str().unwrap(),
            "--traces-dir",
            traces.to_str().unwrap(),
        ],
        &[],
    );
    sidecar.wait_line(&["draining the rings in"]);
    let mut producer = produce(&rings, 10);
    sidecar.wait_line(&["attached ring"]);
    assert!(producer.wait().unwrap().success());
    let lines = sidecar.stop();
    assert!(lines.len() >= 4, "{lines:?}");
    for line in &lines {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(value["level"].is_string(), "{line}");
        assert!(value["message"].is_string(), "{line}");
        assert!(value["timestamp"].is_string(), "{line}");
    }
    assert!(lines.iter().any(|l| l.contains("\"level\":\"INFO\"")));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn log_level_flag_and_variable_filter_lines() {
    let dir = private_dir("cli-level");
    let rings = dir.join("rings");
    let ring_arg = rings.to_str().unwrap();
    // warn: the INFO startup line is not written; the exit still works.
    let sidecar = Sidecar::start(&["--log-level", "warn", "--ring-dir", ring_arg], &[]);
    // Running (and past its startup line) once its first stats snapshot is there.
    let snapshot = rings.join(".drift-exporter-stats.json");
    let until = Instant::now() + DEADLINE;
    while !snapshot.exists() {
        assert!(Instant::now() < until, "the sidecar did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let lines = sidecar.stop();
    assert!(
        lines.iter().all(|line| !line.contains(" INFO ")),
        "{lines:?}"
    );
    // An invalid level is an error naming it, before anything starts.
    let output = Command::new(EXE)
        .args(["run", "--ring-dir", ring_arg])
        .env("TUSK_LOG_LEVEL", "loud=!")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("invalid log level"), "{stderr}");
    std::fs::remove_dir_all(dir).ok();
}

/// One scrape of `/metrics`, as `name{labels}` → value.
fn scrape(addr: &str) -> BTreeMap<String, f64> {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(stream, "GET /metrics HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    body.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (name, value) = line.rsplit_once(' ').unwrap();
            (name.to_string(), value.parse::<f64>().unwrap())
        })
        .collect()
}

fn stats_json(rings: &Path) -> Option<serde_json::Value> {
    let output = Command::new(EXE)
        .args(["stats", "--json", "--ring-dir"])
        .arg(rings)
        .output()
        .unwrap();
    if !output.status.success() {
        return None;
    }
    serde_json::from_slice(&output.stdout).ok()
}

#[test]
fn metrics_endpoint_matches_stats() {
    const PER_PRODUCER: u64 = 300;
    let dir = private_dir("cli-metrics");
    let rings = dir.join("rings");
    let traces = dir.join("traces");
    let mut sidecar = Sidecar::start(
        &[
            "--metrics-addr",
            "127.0.0.1:0",
            "--schedule-delay-millis",
            "50",
            "--max-export-batch-size",
            "64",
            "--ring-dir",
            rings.to_str().unwrap(),
            "--traces-dir",
            traces.to_str().unwrap(),
        ],
        &[],
    );
    let line = sidecar.wait_line(&["serving Prometheus metrics on http://"]);
    let addr = line
        .split("http://")
        .nth(1)
        .unwrap()
        .trim_end_matches("/metrics")
        .to_string();
    let mut producers = vec![produce(&rings, PER_PRODUCER), produce(&rings, PER_PRODUCER)];
    for producer in &mut producers {
        assert!(producer.wait().unwrap().success());
    }
    // Every span settled, as the sidecar's own snapshot says.
    let until = Instant::now() + DEADLINE;
    let stats = loop {
        if let Some(stats) = stats_json(&rings)
            && stats["exporter"]["exported"] == 2 * PER_PRODUCER
            && stats["exporter"]["in_flight"] == 0
        {
            break stats;
        }
        assert!(
            Instant::now() < until,
            "spans not exported within {DEADLINE:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let metrics = scrape(&addr);
    let exporter = &stats["exporter"];
    let counter = |name: &str| {
        metrics
            .get(name)
            .copied()
            .unwrap_or_else(|| panic!("{name} missing from the scrape: {metrics:?}"))
    };
    let stat = |key: &str| exporter[key].as_u64().unwrap() as f64;
    assert_eq!(counter("drift_exporter_spans_pushed_total"), stat("pushed"));
    assert_eq!(counter("drift_exporter_spans_exported_total"), 600.0);
    assert_eq!(
        counter("drift_exporter_spans_exported_total"),
        stat("exported")
    );
    assert_eq!(
        counter("drift_exporter_export_requests_total"),
        stat("batches")
    );
    assert_eq!(
        counter("drift_exporter_export_bytes_total"),
        stat("bytes_sent")
    );
    assert_eq!(
        counter("drift_exporter_export_retries_total"),
        stat("retries")
    );
    assert_eq!(
        counter("drift_exporter_export_failures_total"),
        stat("export_failures")
    );
    for (reason, value) in exporter["dropped"].as_object().unwrap() {
        assert_eq!(
            counter(&format!(
                "drift_exporter_spans_dropped_total{{reason=\"{reason}\"}}"
            )),
            value.as_u64().unwrap() as f64,
            "{reason}"
        );
    }
    // One latency observation per delivered request.
    assert_eq!(
        counter("drift_exporter_export_latency_seconds_count"),
        stat("batches")
    );
    assert_eq!(
        counter("drift_exporter_export_latency_seconds_bucket{le=\"+Inf\"}"),
        stat("batches")
    );
    assert_eq!(
        counter("drift_exporter_circuit_state{state=\"closed\"}"),
        1.0
    );
    assert_eq!(
        counter("drift_exporter_rings_attached"),
        stats["rings"]["rings"].as_array().unwrap().len() as f64
    );
    assert!(stat("batches") >= (2 * PER_PRODUCER / 64) as f64);
    sidecar.stop();
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn api_url_and_key_from_the_environment_reach_run_sink_api() {
    let backend = MockBackend::start();
    let dir = private_dir("cli-api-env");
    let rings = dir.join("rings");
    let sidecar = Sidecar::start(
        &[
            "--sink",
            "api",
            "--schedule-delay-millis",
            "50",
            "--ring-dir",
            rings.to_str().unwrap(),
        ],
        &[
            ("TUSK_API_URL", &backend.base_url()),
            ("TUSK_API_KEY", "key-from-env"),
        ],
    );
    let mut producer = produce(&rings, 40);
    assert!(producer.wait().unwrap().success());
    let until = Instant::now() + DEADLINE;
    while backend.accepted_spans() < 40 {
        assert!(Instant::now() < until, "spans did not reach TUSK_API_URL");
        std::thread::sleep(Duration::from_millis(20));
    }
    let lines = sidecar.stop();
    let received = backend.accepted();
    assert!(!received.is_empty());
    for request in &received {
        let key = request
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("x-api-key"))
            .map(|(_, value)| value.as_str());
        assert_eq!(key, Some("key-from-env"));
    }
    let all = lines.join("\n");
    assert!(all.contains("into the Tusk API at 127.0.0.1:"), "{all}");
    assert!(!all.contains("key-from-env"), "{all}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn stats_watch_redraws_the_table_in_place() {
    let dir = private_dir("cli-watch");
    let rings = dir.join("rings");
    std::fs::create_dir_all(&rings).unwrap();
    std::fs::set_permissions(&rings, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let mut watch = Command::new(EXE)
        .args(["stats", "--watch", "--interval-millis", "100", "--ring-dir"])
        .arg(&rings)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = watch.stdout.take().unwrap();
    // Three redraws: each homes the cursor and clears what is left of the previous table.
    let (sender, received) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok(read) = stdout.read(&mut buffer) {
            if read == 0 || sender.send(buffer[..read].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut output = Vec::new();
    let until = Instant::now() + DEADLINE;
    let redraws = |output: &[u8]| output.windows(3).filter(|w| w == b"\x1b[H").count();
    while redraws(&output) < 3 {
        let left = until.saturating_duration_since(Instant::now());
        output.extend(
            received
                .recv_timeout(left)
                .expect("three redraws within the deadline"),
        );
    }
    // SAFETY: kill(2) on a child we spawned and have not reaped.
    assert_eq!(unsafe { libc::kill(watch.id() as i32, libc::SIGINT) }, 0);
    assert!(
        watch.wait().unwrap().success(),
        "Ctrl-C ends --watch cleanly"
    );
    let text = String::from_utf8_lossy(&output);
    assert!(text.starts_with("\x1b[2J"), "clears the screen once");
    assert!(text.contains("ring directory"), "{text}");
    assert!(text.contains("\x1b[J"), "clears below the table");
    std::fs::remove_dir_all(dir).ok();
}
