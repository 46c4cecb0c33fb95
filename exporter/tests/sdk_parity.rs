//! Hash parity with the SDKs' export paths, from golden values produced by the real published
//! packages: Python records against `tusk-drift-python-sdk` 0.1.29 + `drift-core-python` 0.1.9
//! from PyPI (`tests/fixtures/gen_python_parity.py`), Node records against
//! `@use-tusk/drift-core-node` 0.1.8 from npm (`tests/fixtures/gen_node_parity.js`).

mod common;

use common::OwnedSpan;
use drift_core_rs::tusk_drift_schemas::tusk::drift::core::v1::Span;
use drift_exporter::{SdkFlavor, span_bytes_from_record, span_json_line_from_record};
use prost::Message;

#[test]
fn python_records_hash_like_the_python_sdk() {
    let golden: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/python_parity.json")).unwrap();
    let payload = common::fixtures().remove(0);
    let cases = golden["cases"].as_array().unwrap();
    assert!(cases.len() >= 20);
    for (n, case) in cases.iter().enumerate() {
        let name = case["name"].as_str().unwrap();
        let mut span = OwnedSpan::from_payload(n, &payload, SdkFlavor::Python);
        span.input_json = case["text"].as_str().unwrap().to_string();
        span.input_merges = case["merges"].as_str().map(str::to_string);
        // The same text on the output side.
        span.output_json = Some(span.input_json.clone());
        span.output_merges = span.input_merges.clone();
        let bytes = span.record().to_bytes().unwrap();
        let proto = Span::decode(
            span_bytes_from_record(&bytes)
                .unwrap_or_else(|e| panic!("{name}: {e}"))
                .as_slice(),
        )
        .unwrap();
        let value_hash = case["value_hash"].as_str().unwrap();
        let schema_hash = case["schema_hash"].as_str().unwrap();
        assert_eq!(
            proto.input_value_hash, value_hash,
            "input value hash: {name}"
        );
        assert_eq!(
            proto.input_schema_hash, schema_hash,
            "input schema hash: {name}"
        );
        assert_eq!(
            proto.output_value_hash, value_hash,
            "output value hash: {name}"
        );
        assert_eq!(
            proto.output_schema_hash, schema_hash,
            "output schema hash: {name}"
        );

        // The file sink writes the same normalized value the SDK's CleanSpanData holds.
        let line = span_json_line_from_record(&bytes).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&line.json).unwrap();
        let expected: serde_json::Value =
            serde_json::from_str(case["normalized"].as_str().unwrap()).unwrap();
        assert_eq!(parsed["inputValue"], expected, "normalized value: {name}");
        assert_eq!(parsed["inputValueHash"], value_hash, "{name}");
    }
}

#[test]
fn an_absent_output_is_exported_as_an_empty_object_by_both_sdks() {
    let payload = common::fixtures().remove(0);
    let empty = drift_core_rs::process_export_payload("{}", None).unwrap();
    for sdk in [SdkFlavor::Python, SdkFlavor::Node] {
        for output in [None, Some(String::new())] {
            let mut span = OwnedSpan::from_payload(1, &payload, sdk);
            span.output_json = output;
            let bytes = span.record().to_bytes().unwrap();
            let proto = Span::decode(span_bytes_from_record(&bytes).unwrap().as_slice()).unwrap();
            assert_eq!(proto.output_value_hash, empty.decoded_value_hash);
            assert_eq!(proto.output_schema_hash, empty.decoded_schema_hash);
        }
    }
}

#[test]
fn node_records_are_read_strictly() {
    let payload = common::fixtures().remove(0);
    // JSON.stringify never writes NaN; a Node record that has it is malformed.
    let mut span = OwnedSpan::from_payload(2, &payload, SdkFlavor::Node);
    span.input_json = r#"{"x": NaN}"#.into();
    assert!(span_bytes_from_record(&span.record().to_bytes().unwrap()).is_err());
    // Falsy values are exported as they are (no `or {}` in the Node SDK).
    span.input_json = "[]".into();
    let proto = Span::decode(
        span_bytes_from_record(&span.record().to_bytes().unwrap())
            .unwrap()
            .as_slice(),
    )
    .unwrap();
    assert_eq!(
        proto.input_value_hash,
        drift_core_rs::deterministic_hash("[]").unwrap()
    );
}

/// Node records: golden values from the published `@use-tusk/drift-core-node` binding's
/// `processExportPayload(text, mergesJson)` on `JSON.stringify` text
/// (`tests/fixtures/gen_node_parity.js`).
#[test]
fn node_records_hash_like_the_node_binding() {
    let golden: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/node_parity.json")).unwrap();
    let payload = common::fixtures().remove(0);
    let cases = golden["cases"].as_array().unwrap();
    assert!(cases.len() >= 10);
    for (n, case) in cases.iter().enumerate() {
        let name = case["name"].as_str().unwrap();
        let mut span = OwnedSpan::from_payload(n, &payload, SdkFlavor::Node);
        span.input_json = case["text"].as_str().unwrap().to_string();
        span.input_merges = case["merges"].as_str().map(str::to_string);
        let bytes = span.record().to_bytes().unwrap();
        let proto = Span::decode(
            span_bytes_from_record(&bytes)
                .unwrap_or_else(|e| panic!("{name}: {e}"))
                .as_slice(),
        )
        .unwrap();
        assert_eq!(
            proto.input_value_hash,
            case["value_hash"].as_str().unwrap(),
            "value hash: {name}"
        );
        assert_eq!(
            proto.input_schema_hash,
            case["schema_hash"].as_str().unwrap(),
            "schema hash: {name}"
        );
        let line = span_json_line_from_record(&bytes).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&line.json).unwrap();
        let expected: serde_json::Value =
            serde_json::from_str(case["normalized"].as_str().unwrap()).unwrap();
        assert_eq!(parsed["inputValue"], expected, "normalized value: {name}");
    }
}
