//! File sink: the JSON lines written under the traces directory, parsed back and compared field
//! by field with the spans pushed.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{OwnedSpan, fixtures_of, temp_dir, test_config};
use drift_exporter::{Exporter, FileSinkConfig, SdkFlavor, SinkConfig};

#[test]
fn lines_parse_back_field_by_field() {
    let ring_dir = temp_dir("file-ring");
    let traces = temp_dir("file-traces").join(".tusk/traces");
    let exporter = Exporter::start(test_config(
        ring_dir.clone(),
        SinkConfig::Files(FileSinkConfig {
            dir: traces.clone(),
        }),
    ))
    .unwrap();
    let payloads = fixtures_of(&["200b", "2k"]);
    let mut spans = Vec::new();
    for n in 0..40 {
        let sdk = if n % 2 == 0 {
            SdkFlavor::Python
        } else {
            SdkFlavor::Node
        };
        let mut span = OwnedSpan::from_payload(n, &payloads[n % payloads.len()], sdk);
        // Four spans per trace.
        span.trace_id = format!("{:032x}", 0xabc0 + n / 4);
        spans.push(span);
    }
    for span in &spans {
        let mut record = span.record();
        let stack = format!("Traceback line {}\n  at \"x\"", span.span_id);
        record.stack_trace = Some(&stack);
        record.transform_metadata_json =
            Some(br#"{"actions":[{"type":"redact","field":"password"}]}"#);
        record.status_message = "ok \u{e9}";
        exporter.push_span(&record).unwrap();
    }
    assert!(
        exporter.force_flush(Duration::from_secs(60)),
        "{:?}",
        exporter.health()
    );

    let mut lines: HashMap<String, (String, serde_json::Value)> = HashMap::new();
    let mut files = 0;
    for entry in std::fs::read_dir(&traces).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        assert!(name.ends_with(".jsonl"), "{name}");
        let (stamp, trace) = name
            .trim_end_matches(".jsonl")
            .split_once("_trace_")
            .expect("{timestamp}_trace_{traceId}");
        // Node: `Date.toISOString()`; Python: `isoformat()` (no fraction when it is 0).
        assert!(
            [
                "2026-11-21T23-10-05-123Z".len(),
                "2026-11-21T23-10-05-123456+00-00".len(),
                "2026-11-21T23-10-05+00-00".len()
            ]
            .contains(&stamp.len()),
            "{stamp}"
        );
        files += 1;
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(value["traceId"], trace, "a span sits in its trace's file");
            let span_id = value["spanId"].as_str().unwrap().to_string();
            assert!(
                lines.insert(span_id, (trace.to_string(), value)).is_none(),
                "written once"
            );
        }
    }
    assert_eq!(files, 10, "one file per trace");
    assert_eq!(lines.len(), spans.len());
    for span in &spans {
        let (_, line) = &lines[&span.span_id];
        let text = |key: &str| {
            line[key]
                .as_str()
                .unwrap_or_else(|| panic!("{key} missing"))
                .to_string()
        };
        assert_eq!(text("traceId"), span.trace_id);
        assert_eq!(text("parentSpanId"), "");
        assert_eq!(text("name"), span.name);
        assert_eq!(text("packageName"), span.package_name);
        assert_eq!(text("instrumentationName"), "TestInstrumentation");
        assert_eq!(text("submoduleName"), "sub");
        assert_eq!(text("environment"), "test");
        let (value_hash, schema_hash) = span.expected_input_hashes();
        assert_eq!(text("inputValueHash"), value_hash);
        assert_eq!(text("inputSchemaHash"), schema_hash);
        let (value_hash, schema_hash) = span.expected_output_hashes();
        assert_eq!(text("outputValueHash"), value_hash);
        assert_eq!(text("outputSchemaHash"), schema_hash);
        let python = span.sdk == SdkFlavor::Python;
        if python {
            // The values and schemas the SDK's Rust core path hands its file adapter.
            let processed = drift_core_rs::process_export_payload(
                &span.input_json,
                span.input_merges.as_deref(),
            )
            .unwrap();
            let normalized: serde_json::Value =
                serde_json::from_str(&processed.normalized_json).unwrap();
            assert_eq!(line["inputValue"], normalized);
            let schema: serde_json::Value =
                serde_json::from_str(&processed.decoded_schema_json).unwrap();
            assert_eq!(line["inputSchema"]["type"], schema["type"]);
            let output: serde_json::Value =
                serde_json::from_str(span.output_json.as_deref().unwrap()).unwrap();
            assert_eq!(line["outputValue"], output);
        } else {
            // `JSON.parse` of the attributes (numbers as doubles): same members.
            let input: serde_json::Value = serde_json::from_str(&span.input_json).unwrap();
            if let (Some(got), Some(want)) = (line["inputValue"].as_object(), input.as_object()) {
                let mut got: Vec<_> = got.keys().collect();
                let mut want: Vec<_> = want.keys().collect();
                got.sort();
                want.sort();
                assert_eq!(got, want);
            }
        }
        // Python writes `tusk.drift.core.v1.SpanKind`, Node OpenTelemetry's (one less).
        assert_eq!(line["kind"], if python { span.kind } else { span.kind - 1 });
        assert_eq!(line["packageType"], span.package_type);
        assert_eq!(
            line["status"],
            serde_json::json!({"code": span.status_code, "message": "ok \u{e9}"})
        );
        assert_eq!(
            line["timestamp"],
            serde_json::json!({"seconds": span.timestamp.seconds, "nanos": span.timestamp.nanos})
        );
        assert_eq!(
            line["duration"],
            serde_json::json!({"seconds": 0, "nanos": 1_500_000})
        );
        assert_eq!(line["isPreAppStart"], false);
        assert_eq!(line["isRootSpan"], span.kind == 2);
        let metadata: serde_json::Value =
            serde_json::from_str(span.metadata_json.as_deref().unwrap()).unwrap();
        assert_eq!(line["metadata"], metadata);
        // Python: `asdict(TransformMetadata(...))`, every field; Node: `JSON.parse` of the text.
        let transform = if python {
            serde_json::json!({"transformed": false, "actions": [
                {"type": "redact", "field": "password", "reason": "", "description": null}]})
        } else {
            serde_json::json!({"actions":[{"field":"password","type":"redact"}]})
        };
        assert_eq!(line["transformMetadata"], transform);
        if python {
            assert_eq!(
                text("stackTrace"),
                format!("Traceback line {}\n  at \"x\"", span.span_id)
            );
            assert_eq!(line["isUsed"], true);
        } else {
            // The Node SDK's CleanSpanData has neither.
            assert!(line.get("stackTrace").is_none() && line.get("isUsed").is_none());
        }
    }
    let health = exporter.health();
    assert_eq!(
        (health.exported, health.dropped_total, health.in_flight),
        (40, 0, 0)
    );
    assert!(exporter.shutdown(Duration::from_secs(60)));
    std::fs::remove_dir_all(ring_dir).ok();
    std::fs::remove_dir_all(traces.parent().unwrap().parent().unwrap()).ok();
}

#[test]
fn a_torn_tail_left_by_a_crash_is_cut_at_the_next_start_and_no_line_is_torn() {
    let ring_dir = temp_dir("file-torn-ring");
    let traces = temp_dir("file-torn-traces");
    // What a writer killed (or a full disk) mid-append leaves: a last line without its newline.
    let torn = traces.join("2026-01-01T00-00-00-000Z_trace_torn.jsonl");
    std::fs::write(&torn, "{\"whole\":1}\n{\"whole\":2}\n{\"cut\":").unwrap();
    let exporter = Exporter::start(test_config(
        ring_dir.clone(),
        SinkConfig::Files(FileSinkConfig {
            dir: traces.clone(),
        }),
    ))
    .unwrap();
    let payloads = fixtures_of(&["200b"]);
    for n in 0..10 {
        let span = OwnedSpan::from_payload(n, &payloads[0], SdkFlavor::Python);
        exporter.push_span(&span.record()).unwrap();
    }
    assert!(exporter.force_flush(Duration::from_secs(60)));
    assert_eq!(
        std::fs::read_to_string(&torn).unwrap(),
        "{\"whole\":1}\n{\"whole\":2}\n"
    );
    let mut lines = 0;
    for entry in std::fs::read_dir(&traces).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(text.ends_with('\n'), "whole lines only");
        for line in text.lines() {
            serde_json::from_str::<serde_json::Value>(line).expect("every line parses");
            lines += 1;
        }
    }
    assert_eq!(lines, 12);
    assert!(exporter.shutdown(Duration::from_secs(60)));
    std::fs::remove_dir_all(ring_dir).ok();
    std::fs::remove_dir_all(traces).ok();
}
