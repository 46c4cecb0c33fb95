//! Span protobuf bytes from a decoded record and its processed payloads, through the core's
//! builder, reusing the `Struct` bytes `process_export_value` already built.
//!
//! `build_span_proto_bytes` re-validates prebuilt `Struct` bytes (`SpanPayload::StructBytes`),
//! a full wire-format walk of bytes the core built a moment before: about a tenth of the drain
//! thread's time. Until the core offers a trusted variant, the span is built with empty
//! input/output values (a *skeleton*) and the `Struct` bytes are spliced into fields 9 and 10
//! when the span is written out. The splice point is found by walking the skeleton's top-level
//! fields, so ids or names that happen to contain the same bytes cannot fool it; if the
//! skeleton does not have the expected shape the span is built the validated way instead.

use drift_core_rs::{
    ProcessedPayload, SpanClassification, SpanFlags, SpanHashes, SpanIdentity, SpanInput,
    SpanPayload, SpanPayloads, SpanStatusInput, SpanTiming, Value, build_span_proto_bytes,
};

use crate::process::ProcessError;
use crate::record::DecodedRecord;

/// `Span.input_value` (field 9) and `Span.output_value` (field 10), length-delimited.
const INPUT_VALUE_KEY: u8 = (9 << 3) | 2;
const OUTPUT_VALUE_KEY: u8 = (10 << 3) | 2;

/// A `tusk.drift.core.v1.Span` in parts: the skeleton with both values empty, and the values'
/// `Struct` bytes that replace them when written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SpanProto {
    skeleton: Vec<u8>,
    /// Offset of the empty field 9 (`4a 00`), directly followed by the empty field 10
    /// (`52 00`); `None` when `skeleton` is already the complete span.
    splice_at: Option<usize>,
    input: Vec<u8>,
    output: Vec<u8>,
}

impl SpanProto {
    /// A span whose bytes are complete as they are.
    pub(crate) fn complete(bytes: Vec<u8>) -> Self {
        SpanProto {
            skeleton: bytes,
            splice_at: None,
            input: Vec::new(),
            output: Vec::new(),
        }
    }

    /// Length of the complete span.
    pub(crate) fn len(&self) -> usize {
        match self.splice_at {
            None => self.skeleton.len(),
            Some(_) => {
                self.skeleton.len() - 4
                    + message_field_len(self.input.len())
                    + message_field_len(self.output.len())
            }
        }
    }

    /// Appends the complete span's bytes.
    pub(crate) fn write_to(&self, out: &mut Vec<u8>) {
        let Some(at) = self.splice_at else {
            out.extend_from_slice(&self.skeleton);
            return;
        };
        out.reserve(self.len());
        out.extend_from_slice(&self.skeleton[..at]);
        put_message_field(out, INPUT_VALUE_KEY, &self.input);
        put_message_field(out, OUTPUT_VALUE_KEY, &self.output);
        out.extend_from_slice(&self.skeleton[at + 4..]);
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        if self.splice_at.is_none() {
            return self.skeleton;
        }
        let mut out = Vec::with_capacity(self.len());
        self.write_to(&mut out);
        out
    }
}

fn varint_len(value: usize) -> usize {
    let bits = usize::BITS - (value | 1).leading_zeros();
    bits.div_ceil(7) as usize
}

fn message_field_len(len: usize) -> usize {
    1 + varint_len(len) + len
}

fn put_varint(out: &mut Vec<u8>, mut value: usize) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_message_field(out: &mut Vec<u8>, key: u8, bytes: &[u8]) {
    out.push(key);
    put_varint(out, bytes.len());
    out.extend_from_slice(bytes);
}

/// Reads a varint at `*pos` (at most ten bytes), advancing `*pos`.
fn read_varint(bytes: &[u8], pos: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..70).step_by(7) {
        let byte = *bytes.get(*pos)?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(value);
        }
    }
    None
}

/// Finds the empty `input_value` field directly followed by the empty `output_value` field
/// among the skeleton's top-level fields.
fn find_empty_values(skeleton: &[u8]) -> Option<usize> {
    let mut pos = 0;
    while pos < skeleton.len() {
        let field_start = pos;
        let key = read_varint(skeleton, &mut pos)?;
        match key & 7 {
            0 => {
                read_varint(skeleton, &mut pos)?;
            }
            2 => {
                if key == u64::from(INPUT_VALUE_KEY) {
                    let expected = [INPUT_VALUE_KEY, 0, OUTPUT_VALUE_KEY, 0];
                    return (skeleton.get(field_start..field_start + 4)? == expected)
                        .then_some(field_start);
                }
                let len = usize::try_from(read_varint(skeleton, &mut pos)?).ok()?;
                pos = pos.checked_add(len).filter(|&end| end <= skeleton.len())?;
            }
            // The core writes no other wire types at the top level of a span.
            _ => return None,
        }
    }
    None
}

pub(crate) fn build(
    record: &DecodedRecord<'_>,
    input: &mut ProcessedPayload<'_>,
    output: &mut ProcessedPayload<'_>,
    metadata: Option<&Value<'_>>,
) -> Result<SpanProto, ProcessError> {
    let mut span = span_input(record, input, output, metadata);
    span.payloads.input = SpanPayload::None;
    span.payloads.output = SpanPayload::None;
    let skeleton = build_span_proto_bytes(&span).map_err(ProcessError::Span)?;
    if let Some(at) = find_empty_values(&skeleton) {
        return Ok(SpanProto {
            skeleton,
            splice_at: Some(at),
            input: std::mem::take(&mut input.protobuf_struct_bytes),
            output: std::mem::take(&mut output.protobuf_struct_bytes),
        });
    }
    // Not the layout this splice expects (a different core): the validated path.
    let span = span_input(record, input, output, metadata);
    build_span_proto_bytes(&span)
        .map(SpanProto::complete)
        .map_err(ProcessError::Span)
}

/// The core's span input for a record, with the `Struct` bytes as prebuilt payloads.
fn span_input<'a>(
    record: &'a DecodedRecord<'_>,
    input: &'a ProcessedPayload<'_>,
    output: &'a ProcessedPayload<'_>,
    metadata: Option<&'a Value<'_>>,
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
        payloads: SpanPayloads {
            input: SpanPayload::StructBytes(&input.protobuf_struct_bytes),
            output: SpanPayload::StructBytes(&output.protobuf_struct_bytes),
            input_schema: Some(&input.decoded_schema),
            output_schema: Some(&output.decoded_schema),
            metadata: metadata.map_or(SpanPayload::None, SpanPayload::Value),
        },
        hashes: SpanHashes {
            input_value_hash: &input.decoded_value_hash,
            output_value_hash: &output.decoded_value_hash,
            input_schema_hash: &input.decoded_schema_hash,
            output_schema_hash: &output.decoded_schema_hash,
        },
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

    #[test]
    fn varint_lengths() {
        for (value, len) in [(0, 1), (127, 1), (128, 2), (16_383, 2), (16_384, 3)] {
            assert_eq!(varint_len(value), len, "{value}");
            let mut out = Vec::new();
            put_varint(&mut out, value);
            assert_eq!(out.len(), len, "{value}");
        }
    }

    /// Every fixture payload, both SDKs, odd values and ids that contain the marker bytes: the
    /// spliced span is byte for byte what the core's validated builder produces.
    #[test]
    fn spliced_spans_equal_the_cores_validated_build() {
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
        let mut spliced = 0;
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
            let side = |side, text, merges| process_side(sdk, side, text, merges).unwrap();
            let mut input_side = side(
                Side::Input,
                Some(decoded.input_value_json),
                decoded.input_schema_merges_json,
            );
            let mut output_side = side(Side::Output, decoded.output_value_json, None);
            let metadata = decoded
                .metadata_json
                .map(|text| drift_core_rs::parse_json(text).unwrap());
            let expected = build_span_proto_bytes(&span_input(
                &decoded,
                &input_side,
                &output_side,
                metadata.as_ref(),
            ))
            .unwrap();
            let proto = build(
                &decoded,
                &mut input_side,
                &mut output_side,
                metadata.as_ref(),
            )
            .unwrap();
            spliced += usize::from(proto.splice_at.is_some());
            assert_eq!(proto.len(), expected.len(), "case {n}");
            assert_eq!(proto.into_bytes(), expected, "case {n}");
        }
        assert_eq!(
            spliced,
            inputs.len(),
            "the core's layout is the one spliced"
        );
    }

    #[test]
    fn the_splice_point_is_found_by_walking_fields_not_by_searching_bytes() {
        // Field 1 is a string holding the marker bytes; field 8 a varint; then the values.
        let mut skeleton = vec![0x0a, 4, 0x4a, 0x00, 0x52, 0x00, 0x40, 0x01];
        let at = skeleton.len();
        skeleton.extend_from_slice(&[0x4a, 0x00, 0x52, 0x00, 0x5a, 0x00]);
        assert_eq!(find_empty_values(&skeleton), Some(at));
        // Non-empty field 9, a truncated field, an unexpected wire type: no splice.
        assert_eq!(find_empty_values(&[0x4a, 0x01, 0x00, 0x52, 0x00]), None);
        assert_eq!(find_empty_values(&[0x0a, 9, 1, 2]), None);
        assert_eq!(find_empty_values(&[0x0d, 0, 0, 0, 0]), None);
        assert_eq!(find_empty_values(&[]), None);
    }
}
