//! `drift-exporter demo`: several SDK-shaped producer processes (re-executions of this binary)
//! write realistic HTTP / Postgres / Redis spans into their rings for a few seconds while this
//! process runs the sidecar into the file sink; then it prints throughput and stats. Needs no
//! backend and no configuration.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use drift_exporter::config::{
    BatchSettings, ExporterConfig, FileSinkConfig, RingSettings, ServiceIdentity, SinkConfig,
};
use drift_exporter::record::{SdkFlavor, SpanRecord, Timestamp};
use drift_exporter::sidecar::{Sidecar, SidecarSnapshot};
use drift_exporter::{Exporter, ExporterError};

/// Realistic payloads: the project's span fixtures (HTTP server/client with base64 JSON bodies
/// and schema merges, Postgres, Redis).
///
/// The payloads of `tests/fixtures/span_payloads.jsonl` of up to 24 KiB, kept next to this file so
/// that the published crate builds on its own (`cargo package`); `tests/demo_spans.rs` holds them
/// to the fixtures.
const FIXTURES: &str = include_str!("demo_spans.jsonl");

/// One fixture payload as JSON text.
struct Payload {
    kind: String,
    json: String,
    merges: Option<String>,
}

fn payloads(max_bytes: usize) -> Vec<Payload> {
    FIXTURES
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|value| {
            value["json_bytes"]
                .as_u64()
                .is_some_and(|len| len as usize <= max_bytes)
        })
        .map(|value| Payload {
            kind: value["kind"].as_str().unwrap_or_default().to_string(),
            json: serde_json::to_string(&value["value"]).unwrap_or_else(|_| "{}".into()),
            merges: (!value["schema_merges"].is_null()).then(|| value["schema_merges"].to_string()),
        })
        .collect()
}

/// One span of a synthetic trace. PackageType: HTTP 1, PG 4, REDIS 7; SpanKind: SERVER 2,
/// CLIENT 3.
struct SpanTemplate<'a> {
    name: &'static str,
    offset: u64,
    input: &'a Payload,
    output: Option<&'a Payload>,
    package_type: i32,
    kind: i32,
    package: &'static str,
    submodule: &'static str,
}

/// What one producer process reports on its last stdout line.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProducerReport {
    pub pid: u32,
    pub pushed: u64,
    pub accepted: u64,
    pub dropped: u64,
    /// Input + output JSON bytes of the accepted spans.
    pub json_bytes: u64,
}

/// Options of the hidden `produce` subcommand.
#[derive(Debug, Clone)]
pub struct ProduceOptions {
    pub ring_dir: PathBuf,
    pub index: u32,
    /// Stop after this many spans (`None`: run for `seconds`).
    pub count: Option<u64>,
    pub seconds: f64,
    /// Spans per second; 0 = as fast as the ring accepts.
    pub rate: u64,
    /// Print `pushed N` every this many spans (0: never), for tests that kill producers.
    pub report_every: u64,
    /// Largest payload used (the fixtures go up to ~20 KB).
    pub max_payload_bytes: usize,
}

/// Runs one synthetic SDK process: traces of four spans (HTTP server root, Postgres query,
/// Redis command, outgoing HTTP call) pushed into this process's ring in sidecar mode.
pub fn produce(options: &ProduceOptions) -> Result<ProducerReport, ExporterError> {
    let config = ExporterConfig {
        ring: RingSettings {
            dir: Some(options.ring_dir.clone()),
            capacity_bytes: 4 << 20,
            ..RingSettings::default()
        },
        sink: SinkConfig::Sidecar,
        ..ExporterConfig::default()
    };
    let exporter = Exporter::start(config)?;
    let by_kind = |kind: &str| -> Vec<Payload> {
        payloads(options.max_payload_bytes)
            .into_iter()
            .filter(|payload| payload.kind == kind)
            .collect()
    };
    let (servers, clients, postgres, redis) = (
        by_kind("http_server"),
        by_kind("http_client"),
        by_kind("postgres"),
        by_kind("redis"),
    );
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(options.seconds);
    let mut report = ProducerReport {
        pid: std::process::id(),
        ..ProducerReport::default()
    };
    let sdk_version = "demo-0.1.0";
    let mut stdout = std::io::stdout().lock();
    let mut trace: u64 = 0;
    'outer: loop {
        let trace_id = format!("{:08x}{:024x}", options.index, trace);
        let root_id = format!("{:04x}{:012x}", options.index, trace * 4);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        // Mostly small and 2 KB payloads, one large body in 16 traces.
        let pick = |list: &[Payload], salt: u64| -> usize {
            let small: Vec<usize> = (0..list.len())
                .filter(|&i| list[i].json.len() < 4096)
                .collect();
            if (trace + salt).is_multiple_of(16) || small.is_empty() {
                ((trace + salt) % list.len() as u64) as usize
            } else {
                small[((trace / 3 + salt) % small.len() as u64) as usize]
            }
        };
        let spans = [
            SpanTemplate {
                name: "GET /api/v1/users",
                offset: 0,
                input: &servers[pick(&servers, 0)],
                output: Some(&clients[pick(&clients, 1)]),
                package_type: 1,
                kind: 2,
                package: "http",
                submodule: "",
            },
            SpanTemplate {
                name: "SELECT users",
                offset: 1,
                input: &postgres[pick(&postgres, 2)],
                output: None,
                package_type: 4,
                kind: 3,
                package: "pg",
                submodule: "query",
            },
            SpanTemplate {
                name: "redis GET",
                offset: 2,
                input: &redis[pick(&redis, 3)],
                output: None,
                package_type: 7,
                kind: 3,
                package: "redis",
                submodule: "GET",
            },
            SpanTemplate {
                name: "POST payments",
                offset: 3,
                input: &servers[pick(&servers, 5)],
                output: Some(&clients[pick(&clients, 4)]),
                package_type: 1,
                kind: 3,
                package: "http",
                submodule: "POST",
            },
        ];
        for SpanTemplate {
            name,
            offset,
            input,
            output,
            package_type,
            kind,
            package,
            submodule,
        } in spans
        {
            if options.count.is_some_and(|count| report.pushed >= count)
                || Instant::now() >= deadline
            {
                break 'outer;
            }
            if options.rate > 0 {
                let due =
                    started + Duration::from_secs_f64(report.pushed as f64 / options.rate as f64);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
            let span_id = format!("{:04x}{:012x}", options.index, trace * 4 + offset);
            let output_json = output
                .map(|payload| payload.json.as_str())
                .unwrap_or(r#"{"ok":true}"#);
            let record = SpanRecord {
                sdk: if options.index.is_multiple_of(2) {
                    SdkFlavor::Python
                } else {
                    SdkFlavor::Node
                },
                sdk_version,
                trace_id: &trace_id,
                span_id: &span_id,
                parent_span_id: if offset == 0 { "" } else { &root_id },
                name,
                package_name: package,
                instrumentation_name: "DemoInstrumentation",
                submodule_name: submodule,
                package_type,
                kind,
                environment: Some("demo"),
                status_code: 1,
                status_message: "",
                is_pre_app_start: false,
                is_root_span: offset == 0,
                timestamp: Timestamp {
                    seconds: now.as_secs() as i64,
                    nanos: now.subsec_nanos() as i32,
                },
                duration: Timestamp {
                    seconds: 0,
                    nanos: 1_000_000 + (trace % 50) as i32 * 100_000,
                },
                input_value_json: input.json.as_bytes(),
                output_value_json: Some(output_json.as_bytes()),
                input_schema_merges_json: input.merges.as_deref().map(str::as_bytes),
                output_schema_merges_json: output
                    .and_then(|payload| payload.merges.as_deref())
                    .map(str::as_bytes),
                metadata_json: Some(br#"{"demo":true}"#),
                transform_metadata_json: None,
                stack_trace: None,
            };
            report.pushed += 1;
            match exporter.push_span(&record) {
                Ok(()) => {
                    report.accepted += 1;
                    report.json_bytes += (input.json.len() + output_json.len()) as u64;
                }
                Err(_) => {
                    report.dropped += 1;
                    // The ring is full: the sidecar is behind. Back off briefly as an SDK's
                    // request rate would.
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
            if options.report_every > 0 && report.pushed.is_multiple_of(options.report_every) {
                let _ = writeln!(stdout, "pushed {}", report.accepted);
                let _ = stdout.flush();
            }
        }
        trace += 1;
    }
    // Let the sidecar read what is left, then close the ring.
    exporter.shutdown(Duration::from_secs(10));
    let _ = writeln!(
        stdout,
        "{}",
        serde_json::to_string(&report).unwrap_or_default()
    );
    let _ = stdout.flush();
    Ok(report)
}

/// Options of `demo`.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub processes: u32,
    pub seconds: f64,
    pub rate: u64,
    pub out_dir: PathBuf,
}

/// What `demo` measured.
#[derive(Debug, Clone, Serialize)]
pub struct DemoReport {
    pub producers: Vec<ProducerReport>,
    pub elapsed_secs: f64,
    pub sidecar: SidecarSnapshot,
    pub files_written: usize,
    pub out_dir: PathBuf,
    /// CPU seconds the sidecar (this process: drain, sender, main thread) used.
    pub sidecar_cpu_secs: f64,
}

/// User + system CPU time of this process, in seconds.
fn process_cpu_secs() -> f64 {
    // SAFETY: `getrusage` fills the zero-initialised struct we own; RUSAGE_SELF is always valid.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let secs = |time: libc::timeval| time.tv_sec as f64 + time.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Runs the demo. `exe` is this binary (re-executed as the producers).
pub fn run_demo(options: &DemoOptions, exe: &Path) -> Result<DemoReport, ExporterError> {
    let ring_dir = std::env::temp_dir().join(format!(
        "drift-demo-{}-{}",
        std::process::id(),
        drift_exporter::sink::span_file_name_timestamp(std::time::SystemTime::now())
    ));
    let config = ExporterConfig {
        ring: RingSettings {
            dir: Some(ring_dir.clone()),
            ..RingSettings::default()
        },
        batch: BatchSettings {
            schedule_delay: Duration::from_millis(200),
            ..BatchSettings::default()
        },
        service: ServiceIdentity {
            observable_service_id: "demo-service".into(),
            environment: "demo".into(),
            sdk_version: "demo-0.1.0".into(),
            sdk_instance_id: format!("demo-{}", std::process::id()),
        },
        sink: SinkConfig::Files(FileSinkConfig {
            dir: options.out_dir.clone(),
        }),
    };
    let files_before = count_files(&options.out_dir);
    let cpu_before = process_cpu_secs();
    let sidecar = Sidecar::start(&config)?;
    let started = Instant::now();
    let mut children = Vec::new();
    for index in 0..options.processes {
        let child = Command::new(exe)
            // The producers' own activation lines would only repeat the sidecar's.
            .env("TUSK_LOG_LEVEL", "warn")
            .arg("produce")
            .arg("--ring-dir")
            .arg(&ring_dir)
            .arg("--index")
            .arg(index.to_string())
            .arg("--seconds")
            .arg(options.seconds.to_string())
            .arg("--rate")
            .arg(options.rate.to_string())
            .arg("--max-payload-bytes")
            .arg("24576")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|source| ExporterError::Io {
                context: format!("starting {}", exe.display()),
                source,
            })?;
        children.push(child);
    }
    let mut producers = Vec::new();
    for mut child in children {
        let mut last_line = String::new();
        if let Some(stdout) = child.stdout.take() {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                last_line = line;
            }
        }
        let status = child.wait().map_err(|source| ExporterError::Io {
            context: "waiting for a producer".into(),
            source,
        })?;
        if !status.success() {
            return Err(ExporterError::Export(format!(
                "demo producer exited with {status}"
            )));
        }
        let report: ProducerReport = serde_json::from_str(&last_line).map_err(|error| {
            ExporterError::Export(format!("demo producer report {last_line:?}: {error}"))
        })?;
        producers.push(report);
    }
    // Every producer has exited: wait until the sidecar has read and removed their rings.
    let expected: u64 = producers.iter().map(|report| report.accepted).sum();
    let wait_until = Instant::now() + Duration::from_secs(20);
    while (!sidecar.rings().rings.is_empty() || sidecar.health().pushed < expected)
        && Instant::now() < wait_until
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    sidecar.shutdown(Duration::from_secs(20));
    let elapsed_secs = started.elapsed().as_secs_f64();
    let sidecar_cpu_secs = process_cpu_secs() - cpu_before;
    let snapshot = sidecar.snapshot();
    let _ = std::fs::remove_dir(&ring_dir);
    Ok(DemoReport {
        producers,
        elapsed_secs,
        sidecar: snapshot,
        files_written: count_files(&options.out_dir).saturating_sub(files_before),
        out_dir: options.out_dir.clone(),
        sidecar_cpu_secs,
    })
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| entries.filter_map(Result::ok).count())
}

/// The human-readable summary `demo` prints.
pub fn render_report(report: &DemoReport) -> String {
    let accepted: u64 = report.producers.iter().map(|p| p.accepted).sum();
    let dropped: u64 = report.producers.iter().map(|p| p.dropped).sum();
    let json_bytes: u64 = report.producers.iter().map(|p| p.json_bytes).sum();
    let health = &report.sidecar.exporter;
    let secs = report.elapsed_secs.max(1e-9);
    let mut out = String::new();
    out.push_str(&format!(
        "drift-exporter demo: {} producer processes for {:.1}s\n",
        report.producers.len(),
        report.elapsed_secs
    ));
    for producer in &report.producers {
        out.push_str(&format!(
            "  producer pid {:<7} pushed {:>8}  accepted {:>8}  dropped (ring full) {:>6}\n",
            producer.pid, producer.pushed, producer.accepted, producer.dropped
        ));
    }
    out.push_str(&format!(
        "sidecar: read {} spans, exported {}, dropped {} ({}), {} batches\n",
        health.pushed,
        health.exported,
        health.dropped_total,
        serde_json::to_string(&health.dropped).unwrap_or_default(),
        health.batches
    ));
    out.push_str(&format!(
        "throughput: {:.0} spans/s, {:.1} MB/s of span JSON (accepted {} spans, {:.1} MB; ring-full drops {})\n",
        health.exported as f64 / secs,
        json_bytes as f64 / 1e6 / secs,
        accepted,
        json_bytes as f64 / 1e6,
        dropped
    ));
    out.push_str(&format!(
        "sidecar cost: {:.2} CPU-seconds, {:.0} spans per CPU-second (decode, hash, schema, protobuf/JSON, file writes)\n",
        report.sidecar_cpu_secs,
        health.exported as f64 / report.sidecar_cpu_secs.max(1e-9)
    ));
    let counters = &report.sidecar.rings.counters;
    out.push_str(&format!(
        "rings: {} attached, {} removed, {} dead producers, {} abandoned records\n",
        counters.rings_attached_total,
        counters.rings_removed,
        counters.dead_producers,
        counters.abandoned_records
    ));
    out.push_str(&format!(
        "wrote {} trace files ({} bytes) under {}\n",
        report.files_written,
        health.bytes_sent,
        report.out_dir.display()
    ));
    out
}
