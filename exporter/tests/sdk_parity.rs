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
    // Falsy values are exported as they are (no `or {}` in the Node SDK)...
    span.input_json = "[]".into();
    span.input_merges = None;
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
    // ...but with merges the SDK's `decodeDataWithMerges` spreads it: `{...[]}` is `{}`.
    span.input_merges = Some(r#"{"body":{"encoding":1}}"#.into());
    let proto = Span::decode(
        span_bytes_from_record(&span.record().to_bytes().unwrap())
            .unwrap()
            .as_slice(),
    )
    .unwrap();
    assert_eq!(
        proto.input_value_hash,
        drift_core_rs::deterministic_hash("{}").unwrap()
    );
}

/// Node records: golden values from @use-tusk/drift-node-sdk 0.1.27's own `JsonSchemaHelper`
/// (the SDK's stock path hashes in JavaScript; `tests/fixtures/gen_node_parity.js`).
#[test]
fn node_records_hash_like_the_node_sdk() {
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
            serde_json::from_str(case["value"].as_str().unwrap()).unwrap();
        assert_eq!(parsed["inputValue"], expected, "value: {name}");
        let schema: serde_json::Value =
            serde_json::from_str(case["schema"].as_str().unwrap()).unwrap();
        assert_eq!(parsed["inputSchema"], schema, "schema: {name}");
        assert_eq!(parsed["inputValueHash"], case["value_hash"], "{name}");
    }
}

/// The Python SDK reads a value attribute with `get_attribute_as_dict(...) or {}`: text
/// `json.loads` rejects (including an empty attribute) is exported as `{}`, never dropped. The
/// golden cases "invalid json", "empty attribute", ... check the hashes against the real SDK;
/// this checks the whole span and its file line.
#[test]
fn python_invalid_or_empty_values_are_exported_as_an_empty_object() {
    let payload = common::fixtures().remove(0);
    let empty = drift_core_rs::process_export_payload("{}", None).unwrap();
    for text in ["", "   ", "{\"unterminated\": ", "not json", "{\"a\": 1} x"] {
        let mut span = OwnedSpan::from_payload(3, &payload, SdkFlavor::Python);
        span.input_json = text.to_string();
        span.output_json = Some(text.to_string());
        // Merges cannot rescue a value the SDK never read.
        span.input_merges = Some(r#"{"body": {"encoding": 1}}"#.to_string());
        let bytes = span.record().to_bytes().unwrap();
        let proto = Span::decode(
            span_bytes_from_record(&bytes)
                .unwrap_or_else(|e| panic!("{text:?}: {e}"))
                .as_slice(),
        )
        .unwrap();
        assert_eq!(proto.input_value_hash, empty.decoded_value_hash, "{text:?}");
        assert_eq!(
            proto.input_schema_hash, empty.decoded_schema_hash,
            "{text:?}"
        );
        assert_eq!(
            proto.output_value_hash, empty.decoded_value_hash,
            "{text:?}"
        );
        assert_eq!(proto.input_value, Some(Default::default()), "{text:?}");
        let line = span_json_line_from_record(&bytes).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&line.json).unwrap();
        assert_eq!(parsed["inputValue"], serde_json::json!({}), "{text:?}");
        assert_eq!(parsed["outputValue"], serde_json::json!({}), "{text:?}");
    }
}

#[test]
fn python_spans_the_sdk_itself_cannot_convert_are_still_dropped() {
    let payload = common::fixtures().remove(0);
    let mut span = OwnedSpan::from_payload(4, &payload, SdkFlavor::Python);
    // Beyond Python's recursion limit `json.loads` raises RecursionError, which the SDK does
    // not catch: the span is lost there too.
    span.input_json = format!("{}1{}", "[".repeat(1500), "]".repeat(1500));
    let error = span_bytes_from_record(&span.record().to_bytes().unwrap()).unwrap_err();
    assert!(error.to_string().contains("recursion limit"), "{error}");
    // An enum the core rejects.
    let mut span = OwnedSpan::from_payload(4, &payload, SdkFlavor::Python);
    span.kind = 42;
    assert!(span_bytes_from_record(&span.record().to_bytes().unwrap()).is_err());
    // Invalid metadata is no metadata (the SDK's get_attribute_as_dict), not a drop.
    let mut span = OwnedSpan::from_payload(4, &payload, SdkFlavor::Python);
    span.metadata_json = Some("{broken".into());
    let proto = Span::decode(
        span_bytes_from_record(&span.record().to_bytes().unwrap())
            .unwrap()
            .as_slice(),
    )
    .unwrap();
    assert_eq!(proto.metadata, Some(Default::default()));
}

/// The Node SDK's `transformSpanToCleanJSON` always `JSON.parse`s the input (an empty or
/// invalid input throws and loses the span) but parses the output, its merges and the
/// metadata only when the attribute is a non-empty string.
#[test]
fn node_values_follow_transform_span_to_clean_json() {
    let payload = common::fixtures().remove(0);
    let empty = drift_core_rs::process_export_payload("{}", None).unwrap();
    let build = |span: &OwnedSpan| span_bytes_from_record(&span.record().to_bytes().unwrap());

    for input in ["", "  ", "{\"unterminated\": "] {
        let mut span = OwnedSpan::from_payload(5, &payload, SdkFlavor::Node);
        span.input_json = input.to_string();
        assert!(build(&span).is_err(), "input {input:?} throws in the SDK");
    }

    // Output absent or empty: `{}`, and its merges are never read (even invalid ones).
    for output in [None, Some(String::new())] {
        let mut span = OwnedSpan::from_payload(5, &payload, SdkFlavor::Node);
        span.output_json = output.clone();
        span.output_merges = Some("{not json".into());
        let proto = Span::decode(build(&span).unwrap().as_slice()).unwrap();
        assert_eq!(
            proto.output_value_hash, empty.decoded_value_hash,
            "{output:?}"
        );
    }
    // A present output with invalid merges: JSON.parse throws.
    let mut span = OwnedSpan::from_payload(5, &payload, SdkFlavor::Node);
    span.output_merges = Some("{not json".into());
    assert!(build(&span).is_err());
    // Invalid output JSON throws.
    span.output_merges = None;
    span.output_json = Some("{\"x\":".into());
    assert!(build(&span).is_err());

    // Empty merges and empty metadata are falsy: skipped, not parsed.
    let mut span = OwnedSpan::from_payload(5, &payload, SdkFlavor::Node);
    span.input_merges = Some(String::new());
    span.metadata_json = Some(String::new());
    let proto = Span::decode(build(&span).unwrap().as_slice()).unwrap();
    let (value_hash, _) =
        drift_exporter::process::side_hashes(SdkFlavor::Node, false, Some(&span.input_json), None)
            .unwrap();
    assert_eq!(proto.input_value_hash, value_hash);
    // `toStruct(undefined)`: the SDK sends no metadata field at all.
    assert_eq!(proto.metadata, None);
    // Invalid metadata throws.
    span.metadata_json = Some("{broken".into());
    assert!(build(&span).is_err());
}
