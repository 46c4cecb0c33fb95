//! The demo's payloads (`src/cli/demo_spans.jsonl`, embedded in the binary so the published crate
//! builds on its own) are exactly the cross-language fixtures of up to 24 KiB, in fixture order.

use std::path::PathBuf;

#[test]
fn demo_spans_are_the_fixtures_of_up_to_24_kib() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let fixtures = std::fs::read_to_string(root.join("../tests/fixtures/span_payloads.jsonl"))
        .expect("read the fixtures");
    let demo = std::fs::read_to_string(root.join("src/cli/demo_spans.jsonl"))
        .expect("read the demo spans");
    let expected: Vec<&str> = fixtures
        .lines()
        .filter(|line| {
            let value: serde_json::Value =
                serde_json::from_str(line).expect("fixture line is JSON");
            value["json_bytes"].as_u64().expect("json_bytes") <= 24 * 1024
        })
        .collect();
    assert!(
        expected.len() >= 40,
        "only {} small fixtures",
        expected.len()
    );
    assert_eq!(demo.lines().collect::<Vec<_>>(), expected);
}
