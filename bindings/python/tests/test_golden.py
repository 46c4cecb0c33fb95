"""Golden cases of tests/fixtures/golden: inputs with the outputs the published 0.1.9 wheel gave.

Same files the core's Rust tests read (`core/tests/golden.rs`): one JSON object per line,
`{"fn", "args", "expect": {"ok": ...} | {"error": {"type", "message"}}}`. A payload is given
inline (`json` / `payload_json`) or as the id of a span payload fixture (`fixture`, whose text is
the raw `value` of its line, checked against `text_sha256`). Long outputs are given as
`{"sha256", "len"}`, bytes as base64.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

import drift_core
from conftest import FIXTURES, SPAN_ARGS, load_jsonl
from proto_decode import decode_export_request, decode_span

GOLDEN = FIXTURES / "golden"


def fixture_texts() -> dict[str, str]:
    texts = {}
    for line in (FIXTURES / "span_payloads.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        start = line.index('"value": ') + len('"value": ')
        end = line.rindex(', "schema_merges": ')
        texts[record["id"]] = line[start:end]
    return texts


TEXTS = fixture_texts()


def cases(name: str):
    path = GOLDEN / name
    if not path.exists():
        pytest.skip(f"{path} not generated yet")
    return load_jsonl(path)


def payload_text(args: dict, key: str) -> str:
    if "fixture" in args:
        text = TEXTS[args["fixture"]]
        assert hashlib.sha256(text.encode()).hexdigest() == args["text_sha256"], args["fixture"]
        return text
    return args[key]


def check_text(expected, actual: str, what: str) -> None:
    if isinstance(expected, str):
        assert actual == expected, what
    else:
        assert len(actual.encode()) == expected["len"], what
        assert hashlib.sha256(actual.encode()).hexdigest() == expected["sha256"], what


def check_bytes(expected, actual: bytes, what: str) -> None:
    if isinstance(expected, str):
        assert actual == base64.b64decode(expected), what
    else:
        assert len(actual) == expected["len"], what
        assert hashlib.sha256(actual).hexdigest() == expected["sha256"], what


def run(call, *args):
    try:
        return ("ok", call(*args))
    except Exception as exc:
        return ("error", {"type": type(exc).__name__, "message": str(exc)})


def check_error(expect: dict, result, what: str) -> bool:
    """True when the golden expects an error (and ours matches it)."""
    if "error" not in expect:
        assert result[0] == "ok", (what, result)
        return False
    assert result == ("error", expect["error"]), what
    return True


@pytest.mark.parametrize("name", ["text_functions.jsonl", "floats.jsonl"])
def test_text_function_goldens(name):
    for number, case in enumerate(cases(name), 1):
        what = f"{name}:{number} {case['fn']}"
        result = run(getattr(drift_core, case["fn"]), payload_text(case["args"], "json"))
        if check_error(case["expect"], result, what):
            continue
        expected, actual = case["expect"]["ok"], result[1]
        if case["fn"] == "object_to_protobuf_struct_bytes":
            check_bytes(expected, actual, what)
        elif case["fn"] == "object_to_protobuf_struct_field_count":
            assert actual == expected, what
        elif case["fn"] == "normalize_and_hash":
            check_text(expected[0], actual[0], what)
            assert actual[1] == expected[1], what
        else:
            check_text(expected, actual, what)


def test_process_export_payload_goldens():
    for number, case in enumerate(cases("process_export_payload.jsonl"), 1):
        what = f"process_export_payload:{number}"
        args = case["args"]
        result = run(drift_core.process_export_payload, payload_text(args, "payload_json"), args["schema_merges_json"])
        if check_error(case["expect"], result, what):
            continue
        expected = case["expect"]["ok"]
        normalized, decoded, value_hash, schema_json, schema_hash, struct_bytes = result[1]
        check_text(expected["normalized_json"], normalized, what)
        check_text(expected["decoded_json"], decoded, what)
        assert value_hash == expected["decoded_value_hash"], what
        check_text(expected["decoded_schema_json"], schema_json, what)
        assert schema_hash == expected["decoded_schema_hash"], what
        check_bytes(expected["protobuf_struct_bytes"], struct_bytes, what)


def test_python_flavour_goldens():
    """process_export_payload_pyobject(json.loads(text)): what the SDK's stock path computes."""
    for number, case in enumerate(cases("python_flavour.jsonl"), 1):
        what = f"python_flavour:{number}"
        args = case["args"]
        merges = json.loads(args["schema_merges_json"]) if args["schema_merges_json"] is not None else None
        value = json.loads(payload_text(args, "payload_json"))
        result = run(drift_core.process_export_payload_pyobject, value, merges)
        if check_error(case["expect"], result, what):
            continue
        expected = case["expect"]["ok"]
        _, value_hash, schema, schema_hash, struct_bytes = result[1]
        assert value_hash == expected["decoded_value_hash"], what
        # The schema's hash is the SHA-256 of its canonical text, so it pins the text too.
        assert schema_hash == expected["decoded_schema_hash"], what
        assert isinstance(schema, dict), what
        check_bytes(expected["protobuf_struct_bytes"], struct_bytes, what)


def test_span_goldens():
    for number, case in enumerate(cases("spans.jsonl"), 1):
        what = f"spans:{number}"
        args = dict(case["args"])
        for key in ("input_value_proto_struct_bytes", "output_value_proto_struct_bytes"):
            if args.get(key) is not None:
                args[key] = base64.b64decode(args[key])
        result = run(drift_core.build_span_proto_bytes_pyobject, *[args[name] for name in SPAN_ARGS])
        if check_error(case["expect"], result, what):
            continue
        assert decode_span(result[1]) == decode_span(base64.b64decode(case["expect"]["ok"])), what


def test_export_request_goldens():
    for number, case in enumerate(cases("export_requests.jsonl"), 1):
        what = f"export_requests:{number}"
        args = case["args"]
        spans = [base64.b64decode(span) for span in args["spans"]]
        result = run(
            drift_core.build_export_spans_request_bytes_pyobject,
            args["observable_service_id"],
            args["environment"],
            args["sdk_version"],
            args["sdk_instance_id"],
            spans,
        )
        if "error" in case["expect"]:
            # Ours names the index of the bad span after the published message.
            assert result[0] == "error", what
            assert result[1]["type"] == case["expect"]["error"]["type"], what
            assert result[1]["message"].startswith(case["expect"]["error"]["message"]), what
            continue
        assert result[0] == "ok", (what, result)
        assert decode_export_request(result[1]) == decode_export_request(base64.b64decode(case["expect"]["ok"])), what
        for span in spans:
            assert span in result[1], what  # embedded as given


def test_golden_files_are_present():
    names = {path.name for path in Path(GOLDEN).glob("*.jsonl")}
    assert {"text_functions.jsonl", "process_export_payload.jsonl", "spans.jsonl"} <= names
