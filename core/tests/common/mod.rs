//! Shared helpers of the integration tests: the golden files and the span payload fixtures.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;

use base64::Engine as _;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

/// `tests/fixtures` at the repository root.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("tests")
        .join("fixtures")
}

/// One golden case: `{"fn", "args", "expect", "label"?}`.
pub struct Golden {
    pub line: usize,
    pub func: String,
    pub args: Json,
    pub expect: Json,
    pub label: String,
}

/// All cases of `tests/fixtures/golden/{name}`.
pub fn goldens(name: &str) -> Vec<Golden> {
    let path = fixtures_dir().join("golden").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let rec: Json =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{name}:{}: {e}", i + 1));
            Golden {
                line: i + 1,
                func: rec["fn"].as_str().expect("fn").to_owned(),
                args: rec["args"].clone(),
                expect: rec["expect"].clone(),
                label: rec
                    .get("label")
                    .and_then(Json::as_str)
                    .unwrap_or("")
                    .to_owned(),
            }
        })
        .collect()
}

/// One span payload fixture: the raw text of its `value` and its schema merges as JSON text.
pub struct Fixture {
    pub id: String,
    pub size_class: String,
    pub text: String,
    pub merges: Option<String>,
}

/// The 64 fixtures of `tests/fixtures/span_payloads.jsonl`, in file order. The payload text is
/// the raw `value` of each line, byte for byte, as the golden generator cuts it out.
pub fn fixtures() -> Vec<Fixture> {
    let path = fixtures_dir().join("span_payloads.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let rec: Json = serde_json::from_str(line).expect("fixture line");
            let start = line.find("\"value\": ").expect("value") + "\"value\": ".len();
            let end = line.rfind(", \"schema_merges\": ").expect("schema_merges");
            let merges = match &rec["schema_merges"] {
                Json::Null => None,
                m => Some(m.to_string()),
            };
            Fixture {
                id: rec["id"].as_str().expect("id").to_owned(),
                size_class: rec["size_class"].as_str().expect("size_class").to_owned(),
                text: line[start..end].to_owned(),
                merges,
            }
        })
        .collect()
}

/// Fixture texts by id.
pub fn fixture_texts() -> HashMap<String, String> {
    fixtures().into_iter().map(|f| (f.id, f.text)).collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The payload text of a case: `args.json` / `args.payload_json`, or the fixture named by
/// `args.fixture` (whose sha256 must match `args.text_sha256`).
pub fn input_text(args: &Json, texts: &HashMap<String, String>, key: &str) -> String {
    if let Some(id) = args.get("fixture").and_then(Json::as_str) {
        let text = texts
            .get(id)
            .unwrap_or_else(|| panic!("unknown fixture {id}"))
            .clone();
        assert_eq!(
            sha256_hex(text.as_bytes()),
            args["text_sha256"].as_str().unwrap(),
            "fixture text of {id}"
        );
        return text;
    }
    args[key]
        .as_str()
        .unwrap_or_else(|| panic!("missing {key}"))
        .to_owned()
}

/// Checks a text output: literal, or `{"sha256", "len"}` for long ones.
pub fn check_text(expected: &Json, actual: &str, what: &str) {
    match expected {
        Json::String(s) => assert_eq!(actual, s, "{what}"),
        Json::Object(o) => {
            assert_eq!(
                actual.len() as u64,
                o["len"].as_u64().unwrap(),
                "{what}: length"
            );
            assert_eq!(
                sha256_hex(actual.as_bytes()),
                o["sha256"].as_str().unwrap(),
                "{what}: sha256"
            );
        }
        other => panic!("{what}: unexpected golden {other}"),
    }
}

/// Checks a bytes output: base64, or `{"sha256", "len"}` for long ones.
pub fn check_bytes(expected: &Json, actual: &[u8], what: &str) {
    match expected {
        Json::String(s) => assert_eq!(actual, b64decode(s).as_slice(), "{what}"),
        Json::Object(o) => {
            assert_eq!(
                actual.len() as u64,
                o["len"].as_u64().unwrap(),
                "{what}: length"
            );
            assert_eq!(
                sha256_hex(actual),
                o["sha256"].as_str().unwrap(),
                "{what}: sha256"
            );
        }
        other => panic!("{what}: unexpected golden {other}"),
    }
}

pub fn b64decode(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("base64 in golden")
}

/// The published error message of an `{"error": {...}}` expectation, if it is one.
pub fn expected_error(expect: &Json) -> Option<&str> {
    expect
        .get("error")
        .map(|e| e["message"].as_str().expect("message"))
}
