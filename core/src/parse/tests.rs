//! The parser accepts exactly serde_json's language and reads the same values (floats: the same
//! double, then the published core's second reading), on generated and mutated texts.

use proptest::prelude::*;

use super::*;
use crate::number::{self, SerdeNumber};

/// Our value against serde_json's for the same text.
fn same_value(ours: &Value<'_>, theirs: &serde_json::Value) -> bool {
    match (ours, theirs) {
        (Value::Null, serde_json::Value::Null) => true,
        (Value::Bool(a), serde_json::Value::Bool(b)) => a == b,
        (Value::UInt(a), serde_json::Value::Number(n)) => n.as_u64() == Some(*a),
        (Value::Int(a), serde_json::Value::Number(n)) => n.as_i64() == Some(*a) && !n.is_u64(),
        (Value::Float(a), serde_json::Value::Number(n)) => {
            n.is_f64()
                && n.as_f64()
                    .is_some_and(|f| number::published_float_round_trip(f).to_bits() == a.to_bits())
        }
        (Value::String(a), serde_json::Value::String(b)) => a == b,
        (Value::Array(a), serde_json::Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_value(x, y))
        }
        (Value::Object(a), serde_json::Value::Object(b)) => {
            // serde_json's map is sorted (BTreeMap) and keeps the last duplicate, like ours.
            a.len() == b.len()
                && a.members()
                    .iter()
                    .zip(b.iter())
                    .all(|((ka, va), (kb, vb))| ka == kb && same_value(va, vb))
        }
        _ => false,
    }
}

/// The one-pass normalizer against the tree walk: same text, or the same error.
fn check_normalize(text: &str) -> Result<(), TestCaseError> {
    let tree = parse_json(text).and_then(|value| crate::canonical::to_string(&value));
    let mut out = Vec::new();
    let one_pass = normalize_text(text, &mut out).map(|()| String::from_utf8(out).unwrap());
    prop_assert_eq!(one_pass, tree, "{:?}", text);
    Ok(())
}

fn check_equivalent(text: &str) -> Result<(), TestCaseError> {
    check_normalize(text)?;
    let ours = parse_json(text);
    let theirs = serde_json::from_str::<serde_json::Value>(text);
    match (&ours, &theirs) {
        (Ok(a), Ok(b)) => prop_assert!(
            same_value(a, b),
            "different values for {text:?}: {a:?} vs {b:?}"
        ),
        (Err(_), Err(_)) => {}
        _ => prop_assert!(
            false,
            "acceptance differs for {text:?}: ours {ours:?}, serde_json {theirs:?}"
        ),
    }
    Ok(())
}

/// JSON-ish text built from fragments that stress the grammar's corners.
fn json_like() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just(",".to_owned()),
        Just(":".to_owned()),
        Just(" ".to_owned()),
        Just("\n".to_owned()),
        Just("\"a\"".to_owned()),
        Just("\"\\u00e9\\ud83d\\ude00\"".to_owned()),
        Just("\"\\ud800\"".to_owned()),
        Just("\"\\udc00\"".to_owned()),
        Just("\"\\x\"".to_owned()),
        Just("\"\u{1}\"".to_owned()),
        Just("true".to_owned()),
        Just("fals".to_owned()),
        Just("null".to_owned()),
        Just("-".to_owned()),
        Just("0".to_owned()),
        Just("01".to_owned()),
        Just("1.".to_owned()),
        Just(".5".to_owned()),
        Just("1e".to_owned()),
        Just("1e+".to_owned()),
        Just("1E400".to_owned()),
        Just("-0".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("-9223372036854775809".to_owned()),
        Just("\"".to_owned()),
        Just("\\".to_owned()),
        Just("NaN".to_owned()),
        "[0-9]{1,25}",
        "-?[0-9]{1,22}\\.[0-9]{1,22}([eE][+-]?[0-9]{1,4})?",
        "\"[a-z\\\\\"/bfnrtu0-9]{0,8}\"",
    ];
    prop::collection::vec(fragment, 0..24).prop_map(|parts| parts.concat())
}

fn mutate(text: &str, at: usize, op: u8, byte: u8) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let at = if bytes.is_empty() {
        0
    } else {
        at % bytes.len()
    };
    let byte = b"{}[],:\"\\ 0123456789.eE+-tfnulr/"[byte as usize % 31];
    match op % 3 {
        0 if !bytes.is_empty() => {
            bytes.remove(at);
        }
        1 => bytes.insert(at, byte),
        _ if !bytes.is_empty() => bytes[at] = byte,
        _ => bytes.push(byte),
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn accepts_what_serde_json_accepts(text in json_like()) {
        check_equivalent(&text)?;
    }

    #[test]
    fn mutated_documents_are_judged_like_serde_json(
        at in any::<usize>(), op in any::<u8>(), byte in any::<u8>(), which in 0usize..4,
    ) {
        let docs = [
            r#"{"a":[1,2.5,-3e2,{"b":null}],"c":"x\"y\\z\u00e9","d":true,"e":false}"#,
            r#"[0,-0,1e-7,18446744073709551615,18446744073709551616,-9223372036854775808]"#,
            r#"{"k":{"k":{"k":[[],{}]}},"\ud83d\ude00":"\n\t"}"#,
            r#"  [ "a" , { "b" : 1 } ]  "#,
        ];
        check_equivalent(&mutate(docs[which], at, op, byte))?;
    }

    #[test]
    fn number_literals_read_like_serde_json(lit in "-?(0|[1-9][0-9]{0,30})(\\.[0-9]{1,30})?([eE][+-]?[0-9]{1,5})?") {
        let ours = number::scan(lit.as_bytes(), 0).and_then(|s| (s.end == lit.len()).then_some(s.value));
        let theirs = serde_json::from_str::<serde_json::Value>(&lit);
        match (ours, theirs) {
            (Some(Some(n)), Ok(serde_json::Value::Number(t))) => match n {
                SerdeNumber::U64(u) => prop_assert_eq!(t.as_u64(), Some(u)),
                SerdeNumber::I64(i) => prop_assert_eq!(t.as_i64(), Some(i)),
                SerdeNumber::F64(f) => prop_assert_eq!(t.as_f64().map(f64::to_bits), Some(f.to_bits()), "{}", lit),
            },
            (Some(None), Err(_)) => {}
            (ours, theirs) => prop_assert!(false, "{lit}: ours {ours:?}, serde_json {theirs:?}"),
        }
    }
}

#[test]
fn one_pass_normalize_edge_cases() {
    let cases = [
        "-0.0",
        "-0",
        "0.0",
        "1e21",
        "1E21",
        "1e-7",
        "123456789012345678901234567890",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775808",
        "-9223372036854775809",
        "5.394009208741125e-155",
        "1e400",
        "NaN",
        "Infinity",
        "true",
        "false",
        "null",
        "\"\"",
        "{}",
        "[]",
        " { } ",
        "[[],{},[{}],{\"a\":{}}]",
        r#"{"b":1,"a":2}"#,
        r#"{"a":1,"a":2}"#,
        r#"{"b":1,"a":2,"b":3,"a":4,"c":{"z":1,"y":[{"q":1,"p":2}],"z":2}}"#,
        r#"{"a":1,"b":2,"a":3}"#,
        r#"{"\u0062":1,"a":2,"b":3}"#,
        r#"{"é":1,"e":2,"😀":3,"z":4,"\u00e9":5}"#,
        r#"{"a\"b":1,"a":2,"a\\":3,"a\u0000":4}"#,
        r#"{"k":"\ud83d\ude00\u00e9\n\t\b\f\r\/\u001f\u007f\u2028"}"#,
        r#""\ud800""#,
        r#""\udc00x""#,
        r#""\ud83dx""#,
        "\"\u{1}\"",
        r#"{"a":1,}"#,
        r#"{"a" 1}"#,
        r#"{"a":1"#,
        r#"[1,2"#,
        r#"{"a":[1,{"b":2,"a":1}],"a":"x"}"#,
        "[1] x",
        "",
        " ",
    ];
    for text in cases {
        check_normalize(text).unwrap();
    }
    for depth in [1, 64, 126, 127, 128, 200] {
        let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        check_normalize(&arrays).unwrap();
        let objects = format!("{}1{}", r#"{"b":0,"a":"#.repeat(depth), "}".repeat(depth));
        check_normalize(&objects).unwrap();
    }
}

#[test]
fn one_pass_normalize_fixtures() {
    let fixtures = include_str!("../../../tests/fixtures/span_payloads.jsonl");
    for line in fixtures.lines().filter(|line| !line.trim().is_empty()) {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        let value = &record["value"];
        for text in [
            serde_json::to_string(value).unwrap(),
            serde_json::to_string_pretty(value).unwrap(),
        ] {
            check_normalize(&text).unwrap();
        }
    }
}

#[test]
fn nesting_limit_is_127_levels() {
    assert!(parse_json(&format!("{}{}", "[".repeat(127), "]".repeat(127))).is_ok());
    assert_eq!(
        parse_json(&format!("{}{}", "[".repeat(128), "]".repeat(128))),
        Err(CoreError::RecursionLimit {
            line: 1,
            column: 128
        })
    );
}

#[test]
fn errors_keep_serde_json_wording() {
    assert_eq!(
        parse_json("").unwrap_err().to_string(),
        "invalid json: EOF while parsing a value at line 1 column 0"
    );
    assert_eq!(
        parse_json("[1,]").unwrap_err().to_string(),
        "invalid json: trailing comma at line 1 column 4"
    );
    assert_eq!(
        parse_json("1E400").unwrap_err().to_string(),
        "invalid json: number out of range at line 1 column 5"
    );
}

#[test]
fn python_flavour_reads_what_json_dumps_writes() {
    let python = ParseOptions {
        flavour: JsonFlavour::Python,
    };
    let value = parse_json_with(
        r#"[NaN, Infinity, -Infinity, 1e400, -0, 9223372036854775808]"#,
        python,
    )
    .unwrap();
    let Value::Array(items) = value else {
        panic!("array")
    };
    assert_eq!(
        &items[..4],
        &[Value::Null, Value::Null, Value::Null, Value::Null]
    );
    assert_eq!(items[4], Value::Int(0));
    assert_eq!(items[5], Value::Float(9.223372036854776e18));
    assert!(parse_json("NaN").is_err());
    assert_eq!(
        parse_json_with(&format!("1{}", "0".repeat(400)), python),
        Err(CoreError::UnsupportedValue)
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 5000, failure_persistence: None, ..ProptestConfig::default() })]

    /// The shortcut of `Scan::parts` never skips a round trip that would change the double.
    #[test]
    fn stable_doubles_survive_the_round_trip(
        m in prop_oneof![0u64..1_000_000_000_000_000, 0u64..100_000, (1u64..10_000).prop_map(|x| x * 1_000_000)],
        e in -30i32..=30,
        neg in any::<bool>(),
    ) {
        let lit = format!("{}{m}e{e}", if neg { "-" } else { "" });
        let scanned = number::scan(lit.as_bytes(), 0).unwrap();
        let Some(SerdeNumber::F64(f)) = scanned.value else { panic!("{lit}") };
        if scanned.stable {
            prop_assert_eq!(number::published_float_round_trip(f).to_bits(), f.to_bits(), "{}", lit);
        }
    }
}

/// Runs `f` on a thread with `kib` KiB of stack.
fn on_stack<T: Send + 'static>(kib: usize, f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(kib * 1024)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

/// The deepest texts each dialect accepts parse on a 1 MiB thread stack, in debug builds too
/// (release builds need far less; bindings run on threads of 2 MiB and more).
#[test]
fn deepest_accepted_nesting_fits_the_stack() {
    let strict = format!("{}1{}", "[{\"a\":".repeat(63), "}]".repeat(63));
    assert!(on_stack(1024, move || parse_json(&strict).is_ok()));
    let depth = PYTHON_FLAVOUR_MAX_DEPTH / 2;
    let python = format!("{}1{}", "[{\"a\":".repeat(depth), "}]".repeat(depth));
    assert!(on_stack(1024, move || parse_json_with(
        &python,
        ParseOptions {
            flavour: JsonFlavour::Python
        }
    )
    .is_ok()));
}

#[test]
#[ignore = "measurement helper: the smallest stack a 1000-level Python-flavour text parses on"]
fn measure_python_flavour_stack() {
    // Largest first: an overflow aborts the process, so the last line printed is the minimum.
    for kib in [2048usize, 1024, 768, 512, 384, 256, 192, 128, 96, 64] {
        let text = format!("{}1{}", "[{\"a\":".repeat(500), "}]".repeat(500));
        let ok = on_stack(kib, move || {
            parse_json_with(
                &text,
                ParseOptions {
                    flavour: JsonFlavour::Python,
                },
            )
            .is_ok()
        });
        eprintln!("{kib} KiB: ok={ok}");
    }
}

/// Hand-built values deeper than the writers' bound are an error, not a stack overflow.
#[test]
fn writers_refuse_hand_built_values_that_are_too_deep() {
    let mut value = Value::Null;
    for _ in 0..300 {
        value = Value::Array(vec![value]);
    }
    assert!(matches!(
        crate::canonical::to_string(&value),
        Err(CoreError::ValueTooDeep { .. })
    ));
    assert!(matches!(
        crate::value_to_struct_bytes(&Value::Object(crate::Object::from_members(vec![(
            "a".into(),
            value.clone()
        )]))),
        Err(CoreError::ValueTooDeep { .. })
    ));
    assert!(matches!(
        crate::process_export_value(value, &crate::SchemaMerges::new()),
        Err(CoreError::ValueTooDeep { column: 128 })
    ));
}
