//! The wire-format walk accepts exactly what prost's `Span::decode` accepts.

use proptest::prelude::*;
use prost::Message as _;
use tusk_drift_schemas::tusk::drift::core::v1::Span;

use super::*;
use crate::{JsonSchema, SpanInput, SpanPayload, build_span_proto_bytes, parse_json};

fn sample_span() -> Vec<u8> {
    let value = parse_json(r#"{"a":[1,"x",{"b":null,"c":true}],"d":{"e":-2.5},"":"k"}"#).unwrap();
    let schema = JsonSchema::from_value(
        &parse_json(r#"{"type":6,"properties":{"a":{"type":7,"items":{"type":1}},"d":{"type":6}},"encoding":1,"match_importance":0.5}"#)
            .unwrap(),
    );
    let mut input = SpanInput::default();
    input.identity.trace_id = "t";
    input.identity.name = "n";
    input.classification.package_type = 4;
    input.classification.environment = Some("env");
    input.payloads.input = SpanPayload::Value(&value);
    input.payloads.metadata = SpanPayload::Value(&value);
    input.payloads.input_schema = Some(&schema);
    input.status.code = 2;
    input.status.message = "m";
    input.timing.timestamp_seconds = 5;
    input.timing.duration_nanos = -3;
    input.flags.is_root_span = true;
    build_span_proto_bytes(&input).unwrap()
}

fn nested_struct(levels: usize) -> Vec<u8> {
    let text = format!("{}1{}", r#"{"a":"#.repeat(levels), "}".repeat(levels));
    crate::value_to_struct_bytes(&parse_json(&text).unwrap()).unwrap()
}

#[test]
fn built_spans_are_valid() {
    let bytes = sample_span();
    assert!(is_valid(Msg::Span, &bytes));
    assert!(Span::decode(bytes.as_slice()).is_ok());
}

#[test]
fn recursion_limit_matches_prost() {
    for levels in 25..40 {
        let bytes = nested_struct(levels);
        assert_eq!(
            is_valid(Msg::Struct, &bytes),
            prost_types::Struct::decode(bytes.as_slice()).is_ok(),
            "{levels} levels"
        );
    }
}

#[test]
fn errors_use_prost_wording() {
    let err = validate_span_bytes(&[0xff]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "serialization error: failed to decode span proto bytes: failed to decode Protobuf message: invalid varint (span index 0)"
    );
    assert!(matches!(
        validate_struct_bytes(&[0x0a, 0x05]),
        Err(CoreError::InvalidProtobuf { .. })
    ));
}

fn mutate(mut bytes: Vec<u8>, edits: &[(usize, u8, u8)]) -> Vec<u8> {
    for &(at, op, byte) in edits {
        if bytes.is_empty() {
            bytes.push(byte);
            continue;
        }
        let at = at % bytes.len();
        match op % 4 {
            0 => {
                bytes.remove(at);
            }
            1 => bytes.insert(at, byte),
            2 => bytes[at] = byte,
            _ => bytes.truncate(at),
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_spans_are_judged_like_prost(edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..4)) {
        let bytes = mutate(sample_span(), &edits);
        prop_assert_eq!(is_valid(Msg::Span, &bytes), Span::decode(bytes.as_slice()).is_ok(), "{:02x?}", bytes);
    }

    #[test]
    fn random_bytes_are_judged_like_prost(bytes in prop::collection::vec(any::<u8>(), 0..40)) {
        prop_assert_eq!(is_valid(Msg::Span, &bytes), Span::decode(bytes.as_slice()).is_ok(), "{:02x?}", bytes);
        prop_assert_eq!(is_valid(Msg::Struct, &bytes), prost_types::Struct::decode(bytes.as_slice()).is_ok(), "{:02x?}", bytes);
    }

    #[test]
    fn mutated_structs_are_judged_like_prost(edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..3)) {
        let value = parse_json(r#"{"a":[1,"x",{"b":null,"c":true}],"d":{"e":-2.5}}"#).unwrap();
        let bytes = mutate(crate::value_to_struct_bytes(&value).unwrap(), &edits);
        prop_assert_eq!(is_valid(Msg::Struct, &bytes), prost_types::Struct::decode(bytes.as_slice()).is_ok(), "{:02x?}", bytes);
    }
}
