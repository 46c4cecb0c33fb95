//! Property tests: for generated JSON, hashing the normalized text gives the same hash,
//! normalizing is idempotent, `Struct` bytes are prost's encoding of the same values, and
//! `process_export_payload` agrees with the text functions and with a simple schema model.
//!
//! Floats are generated as `m × 10^e` with `|m| < 2^53` and `|e| ≤ 22`: the published core reads
//! those exactly, so its text round trip is stable. For other doubles the published core's
//! second reading can move the value by an ulp per round (`-6.604630556388117e-41` normalizes to
//! `…115e-41`, which normalizes to `…113e-41`); we keep that behaviour for hash parity, and the
//! goldens pin it.

mod common;

use std::collections::BTreeMap;

use drift_core_rs::*;
use proptest::prelude::*;
use prost::Message as _;

/// A generated JSON value, before it is written as text.
#[derive(Debug, Clone)]
enum Gen {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(i64, i32),
    Str(String),
    Array(Vec<Gen>),
    /// Members in text order; duplicates allowed (the last one wins).
    Object(Vec<(String, Gen)>),
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".to_owned()),
        Just("b".to_owned()),
        Just("B".to_owned()),
        Just("é".to_owned()),
        Just("😀".to_owned()),
        Just(String::new()),
        Just("a\u{0}".to_owned()),
        Just("k\"q\\".to_owned()),
        "[a-z]{1,6}",
    ]
}

fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 ]{0,12}",
        "\\PC{0,8}",
        prop::collection::vec(any::<char>(), 0..8).prop_map(|c| c.into_iter().collect()),
        Just("\"\\/\u{8}\u{c}\n\r\t\u{1f}\u{7f}\u{2028}".to_owned()),
    ]
}

fn gen_value() -> impl Strategy<Value = Gen> {
    let leaf = prop_oneof![
        Just(Gen::Null),
        any::<bool>().prop_map(Gen::Bool),
        any::<i64>().prop_map(Gen::Int),
        any::<u64>().prop_map(Gen::UInt),
        ((-(1i64 << 53) + 1)..(1i64 << 53), -22i32..=22).prop_map(|(m, e)| Gen::Float(m, e)),
        string().prop_map(Gen::Str),
    ];
    leaf.prop_recursive(6, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Gen::Array),
            prop::collection::vec((key(), inner), 0..6).prop_map(Gen::Object),
        ]
    })
}

/// Writes `g` as JSON text; `style` picks whitespace and escaping so that the same value comes
/// in many spellings.
fn write(g: &Gen, style: u32, out: &mut String) {
    let ws = |out: &mut String, n: u32| {
        if style & n != 0 {
            out.push_str([" ", "\n", "\t ", "\r\n"][(style as usize >> 4) % 4]);
        }
    };
    match g {
        Gen::Null => out.push_str("null"),
        Gen::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Gen::Int(i) => out.push_str(&i.to_string()),
        Gen::UInt(u) => out.push_str(&u.to_string()),
        Gen::Float(m, e) => {
            // Always a float literal. (Spellings that change the significand's digits, like
            // `{m}.0e{e}`, are read differently by the published core when the digits exceed
            // 2^53: not a spelling-independent value, so not generated here.)
            if style & 64 != 0 {
                out.push_str(&format!("{m}e{e}"));
            } else {
                out.push_str(&format!("{m}E{e:+}"));
            }
        }
        Gen::Str(s) => write_str(s, style, out),
        Gen::Array(items) => {
            out.push('[');
            ws(out, 1);
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                    ws(out, 2);
                }
                write(item, style, out);
            }
            ws(out, 4);
            out.push(']');
        }
        Gen::Object(members) => {
            out.push('{');
            ws(out, 1);
            for (i, (k, v)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                    ws(out, 2);
                }
                write_str(k, style, out);
                ws(out, 8);
                out.push(':');
                ws(out, 2);
                write(v, style, out);
            }
            ws(out, 4);
            out.push('}');
        }
    }
}

fn write_str(s: &str, style: u32, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            // Escape some characters that need no escape, including astral ones as pairs.
            c if style & 32 != 0 && !c.is_ascii_alphanumeric() => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04X}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn text_of(g: &Gen, style: u32) -> String {
    let mut out = String::new();
    write(g, style, &mut out);
    out
}

/// The model: prost's own `Struct` built from our value.
fn to_prost_value(v: &Value<'_>) -> prost_types::Value {
    use prost_types::value::Kind;
    let kind = match v {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(*b),
        Value::String(s) => Kind::StringValue(s.to_string()),
        Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.iter().map(to_prost_value).collect(),
        }),
        Value::Object(o) => Kind::StructValue(to_prost_struct(o)),
        number => Kind::NumberValue(number.as_f64().unwrap()),
    };
    prost_types::Value { kind: Some(kind) }
}

fn to_prost_struct(o: &Object<'_>) -> prost_types::Struct {
    prost_types::Struct {
        fields: o
            .members()
            .iter()
            .map(|(k, v)| (k.to_string(), to_prost_value(v)))
            .collect::<BTreeMap<_, _>>(),
    }
}

/// The model of the schema of a value (the published rules, written plainly).
fn model_schema(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::json;
    match v {
        serde_json::Value::Null => json!({"properties": {}, "type": 4}),
        serde_json::Value::Bool(_) => json!({"properties": {}, "type": 3}),
        serde_json::Value::Number(_) => json!({"properties": {}, "type": 1}),
        serde_json::Value::String(_) => json!({"properties": {}, "type": 2}),
        serde_json::Value::Array(items) => match items.first() {
            Some(first) => json!({"items": model_schema(first), "properties": {}, "type": 7}),
            None => json!({"properties": {}, "type": 7}),
        },
        serde_json::Value::Object(m) => {
            let props: serde_json::Map<String, serde_json::Value> = m
                .iter()
                .map(|(k, v)| (k.clone(), model_schema(v)))
                .collect();
            json!({"properties": props, "type": 6})
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn hash_of_normalized_equals_hash(g in gen_value(), style in any::<u32>()) {
        let text = text_of(&g, style);
        let normalized = normalize_json(&text).unwrap();
        prop_assert_eq!(deterministic_hash(&normalized).unwrap(), deterministic_hash(&text).unwrap());
        prop_assert_eq!(normalize_and_hash(&text).unwrap(), (normalized.clone(), deterministic_hash(&text).unwrap()));
    }

    #[test]
    fn normalize_is_idempotent_and_spelling_independent(g in gen_value(), s1 in any::<u32>(), s2 in any::<u32>()) {
        let a = normalize_json(&text_of(&g, s1)).unwrap();
        prop_assert_eq!(normalize_json(&a).unwrap(), a.clone());
        prop_assert_eq!(normalize_json(&text_of(&g, s2)).unwrap(), a);
    }

    #[test]
    fn struct_bytes_are_prosts_encoding_of_the_same_values(g in gen_value(), style in any::<u32>()) {
        let text = text_of(&g, style);
        let value = parse_json(&text).unwrap();
        let ours = object_to_protobuf_struct_bytes(&text).unwrap();
        match value.as_object() {
            Some(o) => {
                let model = to_prost_struct(o);
                prop_assert_eq!(&ours, &model.encode_to_vec());
                prop_assert_eq!(prost_types::Struct::decode(ours.as_slice()).unwrap(), model);
                prop_assert_eq!(object_to_protobuf_struct_field_count(&text).unwrap(), o.len());
            }
            None => prop_assert!(ours.is_empty()),
        }
    }

    #[test]
    fn process_export_payload_agrees_with_the_text_functions_and_the_model(g in gen_value(), style in any::<u32>()) {
        let text = text_of(&g, style);
        let p = process_export_payload(&text, None).unwrap();
        prop_assert_eq!(&p.normalized_json, &normalize_json(&text).unwrap());
        prop_assert_eq!(&p.decoded_json, &p.normalized_json);
        prop_assert_eq!(&p.decoded_value_hash, &deterministic_hash(&text).unwrap());
        prop_assert_eq!(&p.protobuf_struct_bytes, &object_to_protobuf_struct_bytes(&text).unwrap());
        let model = model_schema(&serde_json::from_str(&p.normalized_json).unwrap());
        prop_assert_eq!(serde_json::from_str::<serde_json::Value>(&p.decoded_schema_json).unwrap(), model);
        prop_assert_eq!(&p.decoded_schema_hash, &common::sha256_hex(p.decoded_schema_json.as_bytes()));
    }

    #[test]
    fn schema_bytes_decode_to_the_schema(g in gen_value(), style in any::<u32>()) {
        let text = text_of(&g, style);
        let processed = process_export_value(parse_json(&text).unwrap(), &SchemaMerges::new()).unwrap();
        let schema = processed.decoded_schema;
        let mut bytes = Vec::new();
        schema.encode_proto(&mut bytes);
        prop_assert_eq!(bytes.len(), schema.encoded_len());
        let decoded = drift_core_rs::tusk_drift_schemas::tusk::drift::core::v1::JsonSchema::decode(bytes.as_slice()).unwrap();
        prop_assert_eq!(&decoded, &schema.to_proto());
        prop_assert_eq!(JsonSchema::from_proto(&decoded), schema.clone().into_owned());
    }

    #[test]
    fn spans_are_deterministic_and_valid(g in gen_value(), style in any::<u32>()) {
        let text = text_of(&g, style);
        let processed = process_export_value(parse_json(&text).unwrap(), &SchemaMerges::new()).unwrap();
        let mut input = SpanInput::default();
        input.identity.trace_id = "trace";
        input.payloads.input = SpanPayload::StructBytes(&processed.protobuf_struct_bytes);
        input.payloads.output = SpanPayload::Value(&processed.normalized);
        input.payloads.input_schema = Some(&processed.decoded_schema);
        input.hashes.input_value_hash = &processed.decoded_value_hash;
        let a = build_span_proto_bytes(&input).unwrap();
        prop_assert_eq!(&build_span_proto_bytes(&input).unwrap(), &a);
        prop_assert!(validate_span_bytes(&a).is_ok());
        let span = drift_core_rs::tusk_drift_schemas::tusk::drift::core::v1::Span::decode(a.as_slice()).unwrap();
        prop_assert_eq!(span.input_value, span.output_value);
        prop_assert_eq!(span.input_schema, Some(processed.decoded_schema.to_proto()));
        // The unchecked path for the crate's own bytes builds the very same span.
        input.payloads.input = processed.span_struct_bytes();
        prop_assert_eq!(&build_span_proto_bytes(&input).unwrap(), &a);
        let exported = process_export_payload(&text, None).unwrap();
        input.payloads.input = exported.span_struct_bytes();
        prop_assert_eq!(&build_span_proto_bytes(&input).unwrap(), &a);
    }
}
