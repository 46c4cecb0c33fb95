//! The Python SDK's `json.dumps(value, ensure_ascii=False)` of a processed value, re-laid from
//! the core's canonical text of it instead of walking the value tree a second time.
//!
//! The canonical text (`drift_core_rs::ProcessedPayload::normalized_json`) and `json.dumps`
//! differ only in three ways, so a single scan turns one into the other:
//! * separators: `json.dumps` writes `", "` and `": "` (outside strings);
//! * strings: none. Both escape exactly `"`, `\` and the control characters (`\b \f \n \r \t`,
//!   else `\u00xx` in lower case) and write everything else raw, so the string tokens are
//!   copied as they are;
//! * floats: Python's `repr` switches to exponent form one decade earlier (`1e-05` where the
//!   canonical text has `0.00001`) and pads the exponent to two digits (`1e-07`). A float token
//!   (the canonical writer always gives one a `.` or an `e`; integers have neither) is read
//!   back and written with [`write_float`]: the canonical text is the shortest text that reads
//!   back to the double, so this is the value the tree walk would have formatted. Integers,
//!   literals and `null` (also what non-finite floats are in both) are copied.
//!
//! The tree walk (`super::python::write_value`) stays as the reference the tests hold this to.

use super::python::write_float;
use super::scan::find_special;

/// Appends `json.dumps` of the value whose canonical text is `canonical`.
pub(crate) fn write_canonical_as_dumps(canonical: &str, out: &mut String) {
    let bytes = canonical.as_bytes();
    // A separator gains a space: about one per ten bytes of a typical value.
    out.reserve(bytes.len() + bytes.len() / 8);
    // Start of the bytes not yet copied; `at` only stops on ASCII bytes, so both slice ends
    // are character boundaries.
    let mut copied = 0;
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        match byte {
            b'"' => at = string_end(bytes, at + 1),
            b',' | b':' => {
                at += 1;
                out.push_str(&canonical[copied..at]);
                out.push(' ');
                copied = at;
            }
            b'-' | b'0'..=b'9' => {
                let end = number_end(bytes, at);
                let token = &canonical[at..end];
                if token.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) {
                    out.push_str(&canonical[copied..at]);
                    match token.parse::<f64>() {
                        Ok(number) if number.is_finite() => write_float(number, out),
                        // Not a float the canonical writer makes: kept as written.
                        _ => out.push_str(token),
                    }
                    copied = end;
                }
                at = end;
            }
            _ => at += 1,
        }
    }
    out.push_str(&canonical[copied..]);
}

/// The index after the closing quote of the string whose contents start at `from`.
fn string_end(bytes: &[u8], mut from: usize) -> usize {
    loop {
        let at = find_special(bytes, from);
        match bytes.get(at) {
            // An escape: the escaped byte is never the closing quote.
            Some(b'\\') => from = at + 2,
            Some(_) => return at + 1,
            None => return bytes.len(),
        }
    }
}

/// The end of the number token starting at `from`.
fn number_end(bytes: &[u8], from: usize) -> usize {
    let mut at = from + 1;
    while bytes
        .get(at)
        .is_some_and(|b| matches!(b, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        at += 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flavour::python::write_value;
    use crate::process::{Side, process_side};

    /// The re-laid canonical text against the tree walk it replaces, for one attribute text.
    fn assert_same(text: &str, merges: Option<&str>) {
        let processed = process_side(Side::Input, Some(text), merges).unwrap();
        let mut walked = String::new();
        write_value(&processed.normalized, &mut walked);
        let mut relaid = String::new();
        write_canonical_as_dumps(&processed.normalized_json, &mut relaid);
        assert_eq!(relaid, walked, "{text}");
    }

    #[test]
    fn fixtures_are_laid_out_as_the_tree_walk_does() {
        let fixtures = include_str!("../../../tests/fixtures/span_payloads.jsonl");
        let mut count = 0;
        for line in fixtures.lines() {
            let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let merges =
                (!value["schema_merges"].is_null()).then(|| value["schema_merges"].to_string());
            assert_same(&value["value"].to_string(), merges.as_deref());
            count += 1;
        }
        assert!(count >= 60);
    }

    #[test]
    fn edge_values_are_laid_out_as_the_tree_walk_does() {
        for text in [
            r#"{"zero":-0.0,"pz":0.0,"big":1e21,"tiny":5e-324,"e5":1e-5,"e5b":0.00001234,"e4":0.0001,"e16":1e16,"e15":1234567890123456.0,"e7":1e-7,"f":123.456,"max":1.7976931348623157e308}"#,
            r#"{"u":18446744073709551615,"i":-9223372036854775808,"huge":123456789012345678901234567890,"neg":-1.5e-300,"n":-0,"x":1E400,"y":-1e400,"nan":NaN,"inf":Infinity}"#,
            r#"{"s":"a,b:c\"d\\e","ctl":"\u0000\u0001\u001f\b\f\n\r\t\u007f","ls":"\u2028\u2029","lone":"\ud800","pair":"\ud83d\ude00","slash":"\/"}"#,
            r#"{"é北京":"ключ","😀":{"\u00e9":1},"":"","k,":"v:","[":"]"}"#,
            r#"{"a":[],"b":{},"c":[[],[{}]],"d":[1,2.5,"x",true,false,null],"e":[{"f":[0.1,0.2,0.30000000000000004]}]}"#,
            r#"{"body":"eyJhIjowLjAsIjEwIjoxfQ==","pad1":"QUJDRA==","pad2":"QUJDRA="}"#,
            r#"[1,2,3]"#,
            r#""text""#,
            r#"1.5"#,
            r#"-0.0"#,
            r#"{}"#,
            r#"null"#,
        ] {
            assert_same(text, None);
        }
        assert_same(
            r#"{"body":"eyJhIjowLjAsIjEwIjoxZS03fQ==","headers":{"x":"1"}}"#,
            Some(r#"{"body":{"encoding":1,"decoded_type":1},"headers":{"match_importance":0.0}}"#),
        );
        let deep = format!("{}1e-9{}", r#"{"a":["#.repeat(60), "]}".repeat(60));
        assert_same(&deep, None);
    }
}
