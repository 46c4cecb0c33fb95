//! Shared helpers of the exporter's integration tests: fixture payloads, SDK-shaped spans,
//! unique temp directories.
#![allow(dead_code)] // Each test binary uses a subset.

pub mod mock_backend;

use std::path::PathBuf;
use std::time::Duration;

use drift_exporter::{
    BatchSettings, ExporterConfig, RingSettings, SdkFlavor, ServiceIdentity, SinkConfig,
    SpanRecord, Timestamp,
};

/// One payload of `tests/fixtures/span_payloads.jsonl`, as JSON text.
#[derive(Debug, Clone)]
pub struct Payload {
    pub id: String,
    pub kind: String,
    pub size_class: String,
    pub json: String,
    pub merges_json: Option<String>,
}

pub fn fixtures() -> Vec<Payload> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/span_payloads.jsonl");
    let text = std::fs::read_to_string(&path).expect("read span_payloads.jsonl");
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).expect("fixture line");
            Payload {
                id: value["id"].as_str().unwrap().to_string(),
                kind: value["kind"].as_str().unwrap().to_string(),
                size_class: value["size_class"].as_str().unwrap().to_string(),
                json: serde_json::to_string(&value["value"]).unwrap(),
                merges_json: (!value["schema_merges"].is_null())
                    .then(|| serde_json::to_string(&value["schema_merges"]).unwrap()),
            }
        })
        .collect()
}

/// Fixture payloads of the given size classes.
pub fn fixtures_of(classes: &[&str]) -> Vec<Payload> {
    fixtures()
        .into_iter()
        .filter(|p| classes.contains(&p.size_class.as_str()))
        .collect()
}

/// A span with owned fields, so tests can build many and borrow each as a [`SpanRecord`].
#[derive(Debug, Clone)]
pub struct OwnedSpan {
    pub sdk: SdkFlavor,
    pub trace_id: String,
    pub span_id: String,
    pub name: String,
    pub package_name: String,
    pub package_type: i32,
    pub kind: i32,
    pub input_json: String,
    pub input_merges: Option<String>,
    pub output_json: Option<String>,
    pub output_merges: Option<String>,
    pub metadata_json: Option<String>,
    pub status_code: i32,
    pub timestamp: Timestamp,
}

impl OwnedSpan {
    /// The `n`th span built around a fixture payload (input side; output a small object).
    pub fn from_payload(n: usize, payload: &Payload, sdk: SdkFlavor) -> OwnedSpan {
        let (package_name, package_type, kind) = match payload.kind.as_str() {
            // PackageType HTTP 1, PG 4, REDIS 7; SpanKind SERVER 2, CLIENT 3.
            "http_server" => ("http", 1, 2),
            "http_client" => ("http", 1, 3),
            "postgres" => ("pg", 4, 3),
            _ => ("redis", 7, 3),
        };
        OwnedSpan {
            sdk,
            trace_id: format!(
                "{:032x}",
                0x4bf9_2f35_77b3_4da6_u128 * 1_000_003 + n as u128
            ),
            span_id: format!("{:016x}", 0x00f0_67aa_0ba9_02b7_u64 + n as u64),
            name: format!("{} #{n}", payload.id),
            package_name: package_name.to_string(),
            package_type,
            kind,
            input_json: payload.json.clone(),
            input_merges: payload.merges_json.clone(),
            output_json: Some(format!(r#"{{"statusCode":200,"n":{n}}}"#)),
            output_merges: None,
            metadata_json: Some(format!(r#"{{"sdk":"test","n":{n}}}"#)),
            status_code: 1,
            timestamp: Timestamp {
                seconds: 1_763_766_605 + n as i64,
                nanos: (n as i32 % 1000) * 1000,
            },
        }
    }

    pub fn record(&self) -> SpanRecord<'_> {
        SpanRecord {
            sdk: self.sdk,
            sdk_version: "test-1.0",
            trace_id: &self.trace_id,
            span_id: &self.span_id,
            parent_span_id: "",
            name: &self.name,
            package_name: &self.package_name,
            instrumentation_name: "TestInstrumentation",
            submodule_name: "sub",
            package_type: self.package_type,
            kind: self.kind,
            environment: Some("test"),
            status_code: self.status_code,
            status_message: "",
            is_pre_app_start: false,
            is_root_span: self.kind == 2,
            timestamp: self.timestamp,
            duration: Timestamp {
                seconds: 0,
                nanos: 1_500_000,
            },
            input_value_json: self.input_json.as_bytes(),
            output_value_json: self.output_json.as_deref().map(str::as_bytes),
            input_schema_merges_json: self.input_merges.as_deref().map(str::as_bytes),
            output_schema_merges_json: self.output_merges.as_deref().map(str::as_bytes),
            metadata_json: self.metadata_json.as_deref().map(str::as_bytes),
            transform_metadata_json: None,
            stack_trace: None,
        }
    }

    /// The hashes this span's SDK computes for its input (Python: the published core's; Node:
    /// the Node SDK's rules, checked against the SDK itself in
    /// bindings/node/test/stock-identity.test.js).
    pub fn expected_input_hashes(&self) -> (String, String) {
        drift_exporter::process::side_hashes(
            self.sdk,
            false,
            Some(&self.input_json),
            self.input_merges.as_deref(),
        )
        .expect("fixture payload processes")
    }

    pub fn expected_output_hashes(&self) -> (String, String) {
        let text = self.output_json.as_deref().unwrap_or("{}");
        drift_exporter::process::side_hashes(
            self.sdk,
            true,
            Some(text),
            self.output_merges.as_deref(),
        )
        .expect("output payload processes")
    }
}

/// A fresh directory under the target dir's temp area (removed by the test at the end).
pub fn temp_dir(tag: &str) -> PathBuf {
    let base = std::env::temp_dir().join(format!(
        "drift-exporter-test-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&base).expect("create temp dir");
    base
}

/// A config for tests: private ring dir, small fast batches.
pub fn test_config(ring_dir: PathBuf, sink: SinkConfig) -> ExporterConfig {
    ExporterConfig {
        ring: RingSettings {
            dir: Some(ring_dir),
            capacity_bytes: 4 << 20,
            ..RingSettings::default()
        },
        batch: BatchSettings {
            max_export_batch_size: 64,
            max_export_batch_bytes: 1 << 20,
            schedule_delay: Duration::from_millis(50),
            export_timeout: Duration::from_secs(2),
        },
        service: ServiceIdentity {
            observable_service_id: "svc-test".into(),
            environment: "test".into(),
            sdk_version: "test-1.0".into(),
            sdk_instance_id: "instance-1".into(),
        },
        sink,
    }
}

/// What a `drift-exporter produce` process prints on its last stdout line (the binary's
/// `demo::ProducerReport`; the binary is not a library, so the tests read the JSON themselves).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ProducerReport {
    pub pid: u32,
    pub pushed: u64,
    pub accepted: u64,
    pub dropped: u64,
    pub json_bytes: u64,
}
