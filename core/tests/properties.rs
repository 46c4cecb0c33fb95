//! Property tests: for generated JSON, hashing is SHA-256 of the normalized text, hashing the
//! normalized text gives the same hash whenever that text is a fixed point of normalize,
//! normalizing is idempotent, `Struct` bytes are prost's encoding of the same values, and
//! `process_export_payload` agrees with the text functions and with a simple schema model.
//!
//! The published core reads each double twice: it parses the literal, writes it in shortest form
//! and reads that text again, both times with serde_json's default (not correctly rounded)
//! algorithm. [`published_double_reading`] models that with serde_json itself, and
//! `normalized_doubles_follow_the_published_reading` checks every kind of literal against it.
//! The value generator keeps to `m × 10^e` with `|m| < 2^53` and `|e| ≤ 22` where a property
//! needs a stable round trip (idempotence, spelling independence); the hash property uses
//! [`gen_wide_value`], whose doubles need not be stable (`[-3871043764058100e21]` normalizes to
//! `[-3.8710437640580996e+36]`, whose own normalized text differs again, so its hash differs too:
//! the published 0.1.9 gives exactly these two hashes).
//!
//! Seeds: the cases are the same on every run (`.cargo/config.toml` fixes `PROPTEST_RNG_SEED`);
//! `PROPTEST_RNG_SEED=<u64> PROPTEST_CASES=<n>` explores others (`tests/README.md`).

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

/// Doubles whose published reading is exact (so their round trip is stable).
fn stable_float() -> impl Strategy<Value = Gen> {
    ((-(1i64 << 53) + 1)..(1i64 << 53), -22i32..=22).prop_map(|(m, e)| Gen::Float(m, e))
}

/// Doubles of every shape: 17-digit significands, exponents out to the ends of the range.
fn any_float() -> impl Strategy<Value = Gen> {
    prop_oneof![
        stable_float(),
        (any::<i64>(), -340i32..=280).prop_map(|(m, e)| Gen::Float(m, e)),
        (
            -99_999_999_999_999_999i64..=99_999_999_999_999_999,
            -30i32..=40
        )
            .prop_map(|(m, e)| Gen::Float(m, e)),
    ]
}

fn gen_value() -> impl Strategy<Value = Gen> {
    gen_tree(stable_float().boxed())
}

fn gen_wide_value() -> impl Strategy<Value = Gen> {
    gen_tree(any_float().boxed())
}

fn gen_tree(float: BoxedStrategy<Gen>) -> impl Strategy<Value = Gen> {
    let leaf = prop_oneof![
        Just(Gen::Null),
        any::<bool>().prop_map(Gen::Bool),
        any::<i64>().prop_map(Gen::Int),
        any::<u64>().prop_map(Gen::UInt),
        float,
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

/// Whether `g` holds a double outside the stable generator's range (its reading may be inexact).
fn contains_unstable_float(g: &Gen) -> bool {
    match g {
        Gen::Float(m, e) => m.unsigned_abs() >= 1 << 53 || e.abs() > 22,
        Gen::Array(items) => items.iter().any(contains_unstable_float),
        Gen::Object(members) => members.iter().any(|(_, v)| contains_unstable_float(v)),
        _ => false,
    }
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

/// The double the published core ends with for a number literal: serde_json's default reading of
/// the literal, then of the text the published core writes for that double. `None` when either
/// reading is beyond the double range (an error). serde_json is built without `float_roundtrip`
/// in this workspace (checked by `the_model_reads_as_the_published_core`), which is the published
/// core's reading.
fn published_double_reading(literal: &str) -> Option<f64> {
    let first: f64 = serde_json::from_str(literal).ok()?;
    serde_json::from_str(&published_layout(first)).ok()
}

/// The published core's text of a double, written plainly: the shortest round-trip digits (ryu's
/// choice, which zmij shares: of two equally near digit strings, the even one; Rust's own `{:e}`
/// may pick the other), in fixed notation when the decimal point falls within `-5 < k <= 16`
/// (with `.0` on integral values), in exponent notation otherwise. The layout matters to the
/// second reading: the `.0` of `7483758359054897.0` is a 17th significant digit for serde_json's
/// algorithm, and so is the last digit of a tie.
fn published_layout(value: f64) -> String {
    let mut buffer = zmij::Buffer::new();
    let text = buffer.format_finite(value.abs());
    let (mantissa, exponent) = text.split_once(['e', 'E']).unwrap_or((text, "0"));
    let exponent: i32 = exponent.parse().unwrap();
    let point = mantissa.find('.').unwrap_or(mantissa.len()) as i32;
    let all_digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let leading_zeros = all_digits.len() - all_digits.trim_start_matches('0').len();
    let digits = all_digits.trim_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    // Digits before the decimal point, counted from the first significant digit.
    let k = if digits == "0" {
        1
    } else {
        point + exponent - leading_zeros as i32
    };
    let sign = if value.is_sign_negative() { "-" } else { "" };
    let n = digits.len() as i32;
    let body = if -5 < k && k <= 16 {
        if k <= 0 {
            format!("0.{}{digits}", "0".repeat(-k as usize))
        } else if k >= n {
            format!("{digits}{}.0", "0".repeat((k - n) as usize))
        } else {
            format!("{}.{}", &digits[..k as usize], &digits[k as usize..])
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let fraction = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        format!("{first}{fraction}e{:+}", k - 1)
    };
    format!("{sign}{body}")
}

#[test]
fn the_published_layout_is_the_documented_one() {
    for (value, text) in [
        (1.0, "1.0"),
        (0.1, "0.1"),
        (-0.0, "-0.0"),
        (1e16, "1e+16"),
        (1e-7, "1e-7"),
        (0.00001, "0.00001"),
        (1e-6, "1e-6"),
        (1.5e300, "1.5e+300"),
        (1000000000000000.0, "1000000000000000.0"),
        (123.456, "123.456"),
        (1.8446744073709552e19, "1.8446744073709552e+19"),
        (-9.223372036854776e18, "-9.223372036854776e+18"),
        // Exactly …395.625, between the 17-digit texts …395.62 and …395.63.
        (273_405_520_113_395.0 + 0.625, "273405520113395.62"),
    ] {
        assert_eq!(published_layout(value), text);
    }
}

/// A normalized number as a correctly rounded reader sees it (the text is shortest round-trip).
fn written_double(normalized: &str) -> f64 {
    normalized.parse().unwrap()
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        // PROPTEST_CASES, when set, runs more (or fewer) cases.
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(cases),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

#[test]
fn the_model_reads_as_the_published_core() {
    // Not correctly rounded: 2^53 + 1 reads as 2^53 + 2 (a `float_roundtrip` build gives 2^53).
    let read: f64 = serde_json::from_str("9007199254740993.0").unwrap();
    assert_eq!(
        read, 9007199254740994.0,
        "serde_json must read as the published core does"
    );
}

/// The input that once made a random seed fail CI (issue 9): its canonical text is not a fixed
/// point, and the published 0.1.9 gives these two different hashes.
#[test]
fn unstable_double_hashes_as_the_published_core() {
    let text = "[-3871043764058100e21]";
    let normalized = normalize_json(text).unwrap();
    assert_eq!(normalized, "[-3.8710437640580996e+36]");
    assert_eq!(
        deterministic_hash(text).unwrap(),
        "588783f8cfa303de4c051e136ca83fc68e559a5195d782a4a921a95a49cc9a9c"
    );
    assert_eq!(
        deterministic_hash(&normalized).unwrap(),
        "287b98f0ed45bd374fbf9bb5591e0c115cc5a5da18359e6769d42087f22d3005"
    );
}

/// Found by a long exploration run: the double read first lies exactly between two 17-digit
/// texts, and the published writer takes the even one (`…395.62`), whose second reading is
/// `…395.59375`, written `…395.6` (the published 0.1.9 gives this text).
#[test]
fn tie_in_the_shortest_digits_reads_as_the_published_core() {
    assert_eq!(
        normalize_json("-27340552011339563e-2").unwrap(),
        "-273405520113395.6"
    );
    assert_eq!(
        written_double("-273405520113395.6").to_bits(),
        published_double_reading("-27340552011339563e-2")
            .unwrap()
            .to_bits()
    );
}

proptest! {
    #![proptest_config(config(1500))]

    /// The hash is SHA-256 of the normalized text; the normalized text hashes the same exactly
    /// when it is a fixed point of normalize (always, for doubles the published reading keeps).
    #[test]
    fn hash_of_normalized_equals_hash_at_fixed_points(g in gen_wide_value(), style in any::<u32>()) {
        let text = text_of(&g, style);
        let normalized = normalize_json(&text).unwrap();
        let hash = deterministic_hash(&text).unwrap();
        prop_assert_eq!(&hash, &common::sha256_hex(normalized.as_bytes()));
        prop_assert_eq!(normalize_and_hash(&text).unwrap(), (normalized.clone(), hash.clone()));
        let fixed_point = normalize_json(&normalized).unwrap() == normalized;
        prop_assert_eq!(deterministic_hash(&normalized).unwrap() == hash, fixed_point);
        if !contains_unstable_float(&g) {
            prop_assert!(fixed_point, "doubles read exactly must round-trip: {}", normalized);
        }
    }

    /// Every double literal normalizes to the double of the published reading, and it is a
    /// fixed point exactly when reading it once more gives it back.
    #[test]
    fn normalized_doubles_follow_the_published_reading(
        (m, e) in prop_oneof![any_float().prop_map(|g| match g { Gen::Float(m, e) => (m, e), _ => unreachable!() }), (any::<i64>(), 280i32..=330)],
        upper in any::<bool>(),
    ) {
        let literal = if upper { format!("{m}E{e:+}") } else { format!("{m}e{e}") };
        match published_double_reading(&literal) {
            None => prop_assert!(normalize_json(&literal).is_err(), "{} is beyond the double range", literal),
            Some(expected) => {
                let normalized = normalize_json(&literal).unwrap();
                prop_assert_eq!(written_double(&normalized).to_bits(), expected.to_bits(), "{} -> {}", literal, normalized);
                let again = published_double_reading(&normalized).unwrap();
                prop_assert_eq!(normalize_json(&normalized).unwrap() == normalized, again.to_bits() == expected.to_bits());
            }
        }
    }

    /// The one-pass normalizer (no value tree) writes exactly what parsing and writing the tree
    /// writes, for values of every shape spelled every way (unsorted and duplicate keys,
    /// escapes, non-ASCII keys, every double).
    #[test]
    fn one_pass_normalize_equals_the_tree_walk(g in gen_wide_value(), style in any::<u32>()) {
        let text = text_of(&g, style);
        let tree = canonical::to_string(&parse_json(&text).unwrap()).unwrap();
        prop_assert_eq!(normalize_json(&text).unwrap(), tree.clone());
        prop_assert_eq!(deterministic_hash(&text).unwrap(), common::sha256_hex(tree.as_bytes()));
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
