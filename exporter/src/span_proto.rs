//! Span protobuf bytes from a decoded record and its processed payloads, through the core's
//! builder, reusing the `Struct` bytes `process_export_value` already built.
//!
//! The `Struct` bytes go in as `ProducedStructBytes` (`ProcessedPayload::span_struct_bytes`):
//! the core built them a moment before, so the builder copies them without the wire-format walk
//! that untrusted prebuilt bytes get (about a tenth of the drain thread's time).

use drift_core_rs::{
    CoreError, ProcessedPayload, SpanClassification, SpanFlags, SpanHashes, SpanIdentity,
    SpanInput, SpanPayload, SpanPayloads, SpanStatusInput, SpanTiming, Value,
    build_span_proto_bytes,
};

use crate::record::DecodedRecord;

/// `tusk.drift.core.v1.Span` bytes for a record whose input and output were processed. (The
/// caller, `process`, words the error; this module depends on the record and the core only.)
pub(crate) fn build(
    record: &DecodedRecord<'_>,
    input: &ProcessedPayload<'_>,
    output: &ProcessedPayload<'_>,
    metadata: Option<&Value<'_>>,
) -> Result<Vec<u8>, CoreError> {
    build_span_proto_bytes(&span_input(record, input, output, metadata))
}

/// The core's span input for a record, with the `Struct` bytes as produced payloads.
fn span_input<'a>(
    record: &'a DecodedRecord<'_>,
    input: &'a ProcessedPayload<'_>,
    output: &'a ProcessedPayload<'_>,
    metadata: Option<&'a Value<'_>>,
) -> SpanInput<'a> {
    record_span_input(
        record,
        SpanPayloads {
            input: input.span_struct_bytes(),
            output: output.span_struct_bytes(),
            input_schema: Some(&input.decoded_schema),
            output_schema: Some(&output.decoded_schema),
            metadata: metadata.map_or(SpanPayload::None, SpanPayload::Value),
        },
        SpanHashes {
            input_value_hash: &input.decoded_value_hash,
            output_value_hash: &output.decoded_value_hash,
            input_schema_hash: &input.decoded_schema_hash,
            output_schema_hash: &output.decoded_schema_hash,
        },
    )
}

/// The core's span input: identity, classification, status, timing and flags straight from the
/// record; payloads and hashes as the SDK flavour computed them.
pub(crate) fn record_span_input<'a>(
    record: &'a DecodedRecord<'_>,
    payloads: SpanPayloads<'a>,
    hashes: SpanHashes<'a>,
) -> SpanInput<'a> {
    SpanInput {
        identity: SpanIdentity {
            trace_id: record.trace_id,
            span_id: record.span_id,
            parent_span_id: record.parent_span_id,
            name: record.name,
        },
        classification: SpanClassification {
            package_name: record.package_name,
            instrumentation_name: record.instrumentation_name,
            submodule_name: record.submodule_name,
            package_type: record.package_type,
            kind: record.kind,
            environment: record.environment,
        },
        payloads,
        hashes,
        status: SpanStatusInput {
            code: record.status_code,
            message: record.status_message,
        },
        timing: SpanTiming {
            timestamp_seconds: record.timestamp.seconds,
            timestamp_nanos: record.timestamp.nanos,
            duration_seconds: record.duration.seconds,
            duration_nanos: record.duration.nanos,
        },
        flags: SpanFlags {
            is_pre_app_start: record.is_pre_app_start,
            is_root_span: record.is_root_span,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every fixture payload, both SDKs and odd values: the span built from produced `Struct`
    /// bytes is byte for byte what the core's validating builder produces from the same bytes.
    #[test]
    fn spans_equal_the_cores_validated_build() {
        use crate::SpanRecord;
        use crate::process::{Side, process_side};
        use crate::record::{SdkFlavor, Timestamp, decode_record};

        let fixtures = include_str!("../../tests/fixtures/span_payloads.jsonl");
        let mut inputs: Vec<(String, Option<String>)> = fixtures
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .map(|value| {
                let merges =
                    (!value["schema_merges"].is_null()).then(|| value["schema_merges"].to_string());
                (value["value"].to_string(), merges)
            })
            .collect();
        assert!(inputs.len() >= 60);
        for odd in ["[]", "[1,2]", "\"text\"", "null", "{}", "{\"a\":{}}"] {
            inputs.push((odd.to_string(), None));
        }
        for (n, (input, merges)) in inputs.iter().enumerate() {
            let sdk = if n % 2 == 0 {
                SdkFlavor::Python
            } else {
                SdkFlavor::Node
            };
            // Ids and names holding the bytes of an empty field 9 + 10.
            let name = format!("J\u{0}R\u{0} #{n}");
            let output = format!(r#"{{"statusCode":200,"n":{n}}}"#);
            let record = SpanRecord {
                sdk,
                sdk_version: "test",
                trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
                span_id: "J\u{0}R\u{0}",
                parent_span_id: "",
                name: &name,
                package_name: "http",
                instrumentation_name: "Test",
                submodule_name: "GET",
                package_type: (n % 12) as i32,
                kind: (n % 6) as i32,
                environment: (n % 3 != 0).then_some("test"),
                status_code: (n % 3) as i32,
                status_message: "",
                is_pre_app_start: n % 2 == 0,
                is_root_span: n % 4 == 0,
                timestamp: Timestamp {
                    seconds: 1_763_766_605,
                    nanos: n as i32,
                },
                duration: Timestamp {
                    seconds: 0,
                    nanos: 1_500,
                },
                input_value_json: input.as_bytes(),
                output_value_json: (n % 5 != 0).then_some(output.as_bytes()),
                input_schema_merges_json: merges.as_deref().map(str::as_bytes),
                output_schema_merges_json: None,
                metadata_json: (n % 2 == 0).then_some(br#"{"m":[1,"x"]}"#.as_slice()),
                transform_metadata_json: None,
                stack_trace: None,
            }
            .to_bytes()
            .unwrap();
            let decoded = decode_record(&record).unwrap();
            let side = |side, text, merges| process_side(side, text, merges).unwrap();
            let input_side = side(
                Side::Input,
                Some(decoded.input_value_json),
                decoded.input_schema_merges_json,
            );
            let output_side = side(Side::Output, decoded.output_value_json, None);
            let metadata = decoded
                .metadata_json
                .map(|text| drift_core_rs::parse_json(text).unwrap());
            let mut validated = span_input(&decoded, &input_side, &output_side, metadata.as_ref());
            validated.payloads.input = SpanPayload::StructBytes(&input_side.protobuf_struct_bytes);
            validated.payloads.output =
                SpanPayload::StructBytes(&output_side.protobuf_struct_bytes);
            let expected = build_span_proto_bytes(&validated).unwrap();
            let built = build(&decoded, &input_side, &output_side, metadata.as_ref()).unwrap();
            assert_eq!(built, expected, "case {n}");
        }
    }
}
