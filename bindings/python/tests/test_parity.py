"""Parity with the published drift-core-python 0.1.9, function by function.

The published module runs in its own venv behind a subprocess (see conftest.py). Every call is
made on both sides with the same arguments; results must be equal (hashes and canonical text
byte for byte, span protobuf by decoding, since the published builder writes schema maps in
hash-map order) and errors must have the same type and message.
"""

from __future__ import annotations

import json
import math

import pytest

import drift_core
from conftest import SPAN_ARGS, outcome, published_outcome
from parity_types import DictSub, FloatSub, IntSub, ListSub, StrSub
from proto_decode import decode_export_request, decode_span, decode_struct

TEXT_FUNCTIONS = [
    "normalize_json",
    "deterministic_hash",
    "normalize_and_hash",
    "object_to_protobuf_struct_bytes",
    "object_to_protobuf_struct_field_count",
]

# JSON texts covering the canonical form's corners: numbers, escapes, nesting, invalid input.
EDGE_TEXTS = [
    '{"b":2,"a":1}',
    '{"a":1,"a":2}',
    '{"a":{"c":1,"b":2},"A":[3,{"z":null,"y":true}]}',
    "[1.0,0.1,-0.0,1e16,1e-7,1.5e300,100000000000000000000000,18446744073709551616]",
    "[18446744073709551615,-9223372036854775809,-9223372036854775808,9223372036854775807]",
    "[1E2,1e0,5e-324,1.7976931348623157e308,2.2250738585072014e-308,123456789012345678]",
    "[0.1e1,10.5e-1,1234567.125,0.000001,0.0000001,1e15,1e17,123e-20,-1.5e-10]",
    "[9007199254740993.0,9007199254740993,0.30000000000000004,1.7976931348623157e309]",
    '"a\\u0001\\u001f/\\u00e9\\ud83d\\ude00\\u2028\\u007f"',
    '"tab\\there \\"quoted\\" back\\\\slash \\/ \\b\\f\\n\\r"',
    '"\\ud800"',
    '"\\udc00\\ud800"',
    '{"é":1,"e":2,"z":3,"\\u0000":4,"😀":5,"ﬀ":6}',
    "[]",
    "{}",
    "null",
    "true",
    "0",
    "-0",
    '""',
    '  {\n\t"a" : [ 1 , 2 ] }  ',
    "[" * 127 + "]" * 127,
    "[" * 128 + "]" * 128,
    '{"a":' * 127 + "1" + "}" * 127,
    '{"a":' * 128 + "1" + "}" * 128,
    "",
    " ",
    "{",
    '{"a":1,}',
    "[1,]",
    "NaN",
    "Infinity",
    "-Infinity",
    "1E400",
    "-1e400",
    "01",
    "1.",
    ".5",
    "+1",
    "{'a':1}",
    '{"a":1}x',
    '{"a" 1}',
    '"unterminated',
    '"\\x"',
    '"\\u12"',
    '"raw\ncontrol"',
    "[1,2",
    "tru",
    '{"a":[1,{"b":[2,{"c":"d"}]}]}',
    '{"body":"eyJhIjoxfQ==","x":[1,"a",{"b":null}]}',
]

EDGE_MERGES = [
    None,
    "{}",
    '{"body":{"encoding":1,"decoded_type":1}}',
    '{"body":{"encoding":1,"decoded_type":1,"match_importance":0.5}}',
    '{"body":{"encoding":1}}',
    '{"body":{"decoded_type":1}}',
    '{"body":{"match_importance":1}}',
    '{"body":{"match_importance":0}}',
    '{"x":{"encoding":1,"decoded_type":1}}',
    '{"missing":{"encoding":1}}',
    '{"body":{"encoding":-1,"decoded_type":7}}',
    '{"body":{"foo":1}}',
    '{"body":{"encoding":null,"match_importance":null}}',
    '{"body":{"encoding":"x"}}',
    '{"body":{"encoding":1.0}}',
    '{"body":{"encoding":99999999999}}',
    '{"body":{"match_importance":"x"}}',
    '{"body":{"match_importance":1e400}}',
    '{"body":{"encoding":1,"encoding":2}}',
    '{"body":5}',
    '{"body":null}',
    "[1]",
    "null",
    "{",
    "",
]

EDGE_PAYLOADS = [
    '{"body":"eyJhIjoxfQ==","x":1}',
    '{"body":"eyJiIjoxLCJhIjpbMSwyXX0=","z":[{"q":1}]}',
    '{"body":"bm90IGpzb24=","x":1}',
    '{"body":"not base64!","x":1}',
    '{"body":"//79","x":1}',
    '{"body":"eyJhIjoxfQ","x":1}',
    '{"body":"","x":1}',
    '{"body":123,"x":1}',
    '{"body":"W10=","x":1}',
    '{"body":"bnVsbA==","x":1}',
    '{"body":"MTIz","x":1}',
    '{"body":{"nested":"eyJhIjoxfQ=="}}',
    '[1,"a",{"b":null}]',
    '"just a string"',
    "null",
    "[]",
    "{}",
    '{"a":[]}',
    '{"a":[[],[1]],"b":[{"c":1},{"d":2}]}',
]


def both(published, _function, *args, **kwargs):
    ours = outcome(getattr(drift_core, _function), *args, **kwargs)
    return ours, published_outcome(published, _function, *args, **kwargs)


def payload_texts(span_payloads):
    for payload in span_payloads:
        value = payload["value"]
        yield payload["id"], json.dumps(value), payload.get("schema_merges")
        yield payload["id"] + "/compact", json.dumps(value, separators=(",", ":"), ensure_ascii=False), None


def test_published_version_is_pinned(published):
    assert published.version == "0.1.9"


def test_signatures_match(published):
    ours = {name: getattr(drift_core, name).__text_signature__ for name in drift_core.__all__ if name != "RingExporter"}
    assert ours == published.text_signatures()
    expected = {
        "normalize_json": "(payload_json)",
        "deterministic_hash": "(payload_json)",
        "normalize_and_hash": "(payload_json)",
        "object_to_protobuf_struct_bytes": "(payload_json)",
        "object_to_protobuf_struct_field_count": "(payload_json)",
        "process_export_payload": "(payload_json, schema_merges_json)",
        "process_export_payload_pyobject": "(payload, schema_merges)",
        "build_span_proto_bytes_pyobject": "(trace_id, span_id, parent_span_id, name, package_name, "
        "instrumentation_name, submodule_name, package_type, environment, kind, input_schema, "
        "output_schema, input_schema_hash, output_schema_hash, input_value_hash, output_value_hash, "
        "status_code, status_message, is_pre_app_start, is_root_span, timestamp_seconds, "
        "timestamp_nanos, duration_seconds, duration_nanos, metadata, input_value, output_value, "
        "input_value_proto_struct_bytes, output_value_proto_struct_bytes)",
        "build_export_spans_request_bytes_pyobject": "(observable_service_id, environment, sdk_version, "
        "sdk_instance_id, spans)",
    }
    assert ours == expected


@pytest.mark.parametrize("name", TEXT_FUNCTIONS)
def test_text_functions_on_corpus(published, span_payloads, name):
    for payload_id, text, _ in payload_texts(span_payloads):
        ours, theirs = both(published, name, text)
        assert ours == theirs, payload_id


@pytest.mark.parametrize("name", TEXT_FUNCTIONS)
def test_text_functions_on_edge_cases(published, name):
    for text in EDGE_TEXTS:
        ours, theirs = both(published, name, text)
        assert ours == theirs, text[:80]


@pytest.mark.parametrize("name", TEXT_FUNCTIONS)
def test_text_functions_reject_non_str_like_published(published, name):
    for bad in [b'{"a":1}', 5, None, ["x"], {"a": 1}]:
        ours, theirs = both(published, name, bad)
        assert ours == theirs, repr(bad)


def test_text_functions_keyword_call(published):
    for name in TEXT_FUNCTIONS:
        ours, theirs = both(published, name, payload_json='{"b":1,"a":[2]}')
        assert ours == theirs


def test_process_export_payload_on_corpus(published, span_payloads):
    for payload_id, text, merges in payload_texts(span_payloads):
        merges_json = json.dumps(merges) if merges is not None else None
        ours, theirs = both(published, "process_export_payload", text, merges_json)
        assert ours == theirs, payload_id


def test_process_export_payload_edge_cases(published):
    for payload in EDGE_PAYLOADS + EDGE_TEXTS[:20]:
        for merges in EDGE_MERGES:
            ours, theirs = both(published, "process_export_payload", payload, merges)
            assert ours == theirs, (payload[:60], merges)


def test_process_export_payload_argument_handling(published):
    cases = [
        ((), {"payload_json": '{"a":1}', "schema_merges_json": None}),
        (('{"a":1}',), {}),
        (("{}", 5), {}),
        ((5, None), {}),
        (("{}", None, None), {}),
    ]
    for args, kwargs in cases:
        ours, theirs = both(published, "process_export_payload", *args, **kwargs)
        assert ours == theirs, (args, kwargs)


def test_process_export_payload_pyobject_on_corpus(published, span_payloads):
    for payload in span_payloads:
        ours, theirs = both(
            published, "process_export_payload_pyobject", payload["value"], payload.get("schema_merges")
        )
        assert ours == theirs, payload["id"]


PYOBJECT_VALUES = [
    {"a": 1, "b": "x", "c": None, "d": True, "e": False, "f": 1.5},
    {"t": (1, 2, (3,)), "l": [1, [2, [3]]]},
    {"nan": float("nan"), "inf": float("inf"), "ninf": float("-inf")},
    {"big": 2**63, "bigger": 2**64, "neg": -(2**63), "negbig": -(2**63) - 1, "huge": 10**30},
    {"max": 2**63 - 1, "zero": 0, "negzero": -0.0, "one": 1.0, "tiny": 5e-324, "e16": 1e16},
    {"floats": [0.1, 0.2, 0.30000000000000004, 1e-7, 1.5e300, 123456.789, 9007199254740993.0]},
    {"unicode": "é😀\u2028\x7f\x00\x1f", "esc": 'tab\t"q"\\'},
    {"é": 1, "e": 2, "z": 3, "😀": 4, "\x00": 5},
    [1, "a", {"b": None}],
    "just a string",
    None,
    3,
    2.5,
    True,
    [],
    {},
    {"a": {}},
    {"body": "eyJhIjoxfQ==", "x": 1},
    {"i": IntSub(3), "s": StrSub("x"), StrSub("k"): FloatSub(2.5)},
    DictSub(b=1, a=2),
    {"l": ListSub([1, 2])},
    {"b": True, "n": 1},
    {"bad": {1, 2}},
    {"bad": b"bytes"},
    {"bad": bytearray(b"x")},
    {"bad": 1 + 2j},
    {"bad": object()},
    {"bad": 10**400},
    {"bad": -(10**400)},
    {1: "int key"},
    {None: "none key"},
    {("t",): "tuple key"},
    {"surrogate": "\ud800"},
    {"\udc00": 1},
    {"nested": [{"bad": set()}]},
]


def nested_list(depth):
    value = []
    for _ in range(depth - 1):
        value = [value]
    return value


def nested_dict(depth):
    value = {"a": 1}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


DEEP_VALUES = [
    nested_list(126),
    nested_list(127),
    nested_list(128),
    nested_list(200),
    nested_dict(127),
    nested_dict(128),
]

PYOBJECT_MERGES = [
    None,
    {},
    {"body": {"encoding": 1, "decoded_type": 1}},
    {"body": {"encoding": 1, "decoded_type": 1, "match_importance": 0.25}},
    {"body": {"match_importance": 1}},
    {"body": {"match_importance": float("nan")}},
    {"body": {"match_importance": 2**70}},
    {"body": {"encoding": True}},
    {"body": {"encoding": 1.0}},
    {"body": {"encoding": None}},
    {"body": None},
    {"body": {"encoding": set()}},
    {1: {}},
    [1],
    "x",
    5,
]


def test_process_export_payload_pyobject_edge_values(published):
    for value in PYOBJECT_VALUES + DEEP_VALUES:
        ours, theirs = both(published, "process_export_payload_pyobject", value, None)
        assert ours == theirs, repr(value)[:80]


def test_process_export_payload_pyobject_merges(published):
    for value in [{"body": "eyJhIjoxfQ==", "x": 1}, {"body": "eyJiIjpbMSwyXX0="}, [1], "s"]:
        for merges in PYOBJECT_MERGES:
            ours, theirs = both(published, "process_export_payload_pyobject", value, merges)
            assert ours == theirs, (value, merges)


def test_process_export_payload_pyobject_arguments(published):
    for args, kwargs in [(({"a": 1},), {}), ((), {"payload": {"a": 1}, "schema_merges": None})]:
        ours, theirs = both(published, "process_export_payload_pyobject", *args, **kwargs)
        assert ours == theirs


def test_cyclic_value_is_an_error_not_a_crash():
    # The published binding overflows its stack on a cycle; ours stops at the nesting limit.
    cycle: list = []
    cycle.append(cycle)
    with pytest.raises(ValueError, match="^serialization error: recursion limit exceeded"):
        drift_core.process_export_payload_pyobject(cycle, None)


def base_span_args():
    return [
        "0af7651916cd43dd8448eb211c80319c",
        "b7ad6b7169203331",
        "",
        "GET /users",
        "requests",
        "RequestsInstrumentation",
        "GET",
        1,
        "production",
        3,
        {"type": 6, "properties": {"a": {"type": 1}, "b": {"type": 2, "match_importance": 0.5}}},
        {"type": 4},
        "h1",
        "h2",
        "h3",
        "h4",
        1,
        "ok",
        False,
        True,
        1700000000,
        5,
        0,
        1000,
        {"m": 1, "tags": ["x"]},
        {"a": 1, "nested": {"z": [1, 2.5, None, True]}},
        None,
        None,
        None,
    ]


def span_variants():
    struct_bytes = drift_core.object_to_protobuf_struct_bytes('{"a":1,"b":"x"}')
    index = {name: i for i, name in enumerate(SPAN_ARGS)}
    changes = [
        {},
        {"package_type": 42},
        {"package_type": -1},
        {"package_type": 11},
        {"package_type": 12},
        {"kind": 6},
        {"kind": 0},
        {"status_code": 3},
        {"status_code": 2, "status_message": "boom"},
        {"package_type": "x"},
        {"package_type": True},
        {"package_type": 2.0},
        {"input_schema": None},
        {"input_schema": {"type": 99}},
        {"input_schema": {"type": "x"}},
        {"input_schema": {"type": True}},
        {"input_schema": {"type": 1.0}},
        {"input_schema": {"type": 2**40}},
        {"input_schema": {"type": 2**32 + 1}},
        {"input_schema": {"type": 2**31}},
        {"input_schema": {"type": 2**63}},
        {"input_schema": {"type": -(2**63)}},
        {"input_schema": {"type": set()}},
        {"input_schema": {"type": 1, "extra": set()}},
        {"input_schema": {"type": 1, "match_importance": True}},
        {"input_schema": {"type": 1, "match_importance": 2**64}},
        {"input_schema": {"type": 1, "encoding": 2**32 + 3}},
        {"input_schema": {"type": 1, "items": {"type": True}}},
        {"input_schema": {"type": 6, "properties": {"\udc00": {}}}},
        {"output_schema": {"type": 6, "properties": {"b": {"type": 1}, "a": {"type": 2, "properties": {"z": {}}}}}},
        {"input_schema": {"type": 1, "extra": 1}},
        {"input_schema": {"type": 1, "properties": {"a": 5}}},
        {"input_schema": {"type": 1, "properties": {"a": {"type": 7, "items": {"type": 2}}}}},
        {"input_schema": {"type": 1, "properties": "x"}},
        {"input_schema": {"type": 1, "properties": {"a": None}}},
        {"input_schema": {"type": 7, "items": {"type": 2}, "encoding": 1, "decoded_type": 3, "match_importance": 0.5}},
        {"input_schema": {"type": 7, "items": "x"}},
        {"input_schema": {"type": 7, "items": None}},
        {"input_schema": {"properties": {}}},
        {"input_schema": {"type": 1, "encoding": 9, "decoded_type": -3}},
        {"input_schema": {"type": 1, "encoding": "1"}},
        {"input_schema": {"type": 1, "match_importance": float("nan")}},
        {"input_schema": {"type": 1, "match_importance": float("inf")}},
        {"input_schema": {"type": 1, "match_importance": 1}},
        {"input_schema": {"type": 1, "match_importance": "0.5"}},
        {"input_schema": {"type": 1, "match_importance": 0.0}},
        {"input_schema": "x"},
        {"input_schema": [1]},
        {"input_value_proto_struct_bytes": b"garbage\xff"},
        {"input_value_proto_struct_bytes": struct_bytes},
        {"input_value_proto_struct_bytes": b""},
        {"output_value_proto_struct_bytes": struct_bytes, "output_value": {"ignored": True}},
        {"input_value_proto_struct_bytes": "x"},
        {"input_value_proto_struct_bytes": bytearray(b"")},
        {"input_value": [1, 2]},
        {"input_value": "str"},
        {"input_value": {"a": set()}},
        {"input_value": {"n": float("nan"), "big": 2**64, "t": (1, 2)}},
        {"output_value": {"k": float("inf")}},
        {"metadata": [1]},
        {"metadata": "s"},
        {"metadata": None},
        {"metadata": {"bad": set()}},
        {"environment": None},
        {"environment": ""},
        {"environment": 5},
        {"trace_id": 5},
        {"parent_span_id": None},
        {"timestamp_seconds": -5},
        {"timestamp_seconds": 2**63},
        {"timestamp_seconds": 1.5},
        {"timestamp_nanos": -1},
        {"timestamp_nanos": 2**32},
        {"duration_seconds": 2**40, "duration_nanos": 999999999},
        {"is_pre_app_start": 1},
        {"is_pre_app_start": "x"},
        {"is_pre_app_start": True, "is_root_span": False},
        {"status_message": None},
        {"name": "é😀"},
    ]
    for change in changes:
        args = base_span_args()
        for key, value in change.items():
            args[index[key]] = value
        yield change, args


def compare_span_outcomes(ours, theirs, label):
    assert ours[0] == theirs[0], (label, ours, theirs)
    if ours[0] == "ok":
        assert decode_span(ours[1]) == decode_span(theirs[1]), label
    else:
        assert ours == theirs, label


def test_build_span_proto_bytes_variants(published):
    for change, args in span_variants():
        ours, theirs = both(published, "build_span_proto_bytes_pyobject", *args)
        compare_span_outcomes(ours, theirs, repr(change)[:120])


def test_build_span_proto_bytes_keywords_and_arity(published):
    args = base_span_args()
    ours, theirs = both(published, "build_span_proto_bytes_pyobject", **dict(zip(SPAN_ARGS, args)))
    compare_span_outcomes(ours, theirs, "keywords")
    ours, theirs = both(published, "build_span_proto_bytes_pyobject", *args[:28])
    assert ours == theirs


def test_build_span_proto_bytes_from_corpus(published, span_payloads):
    """Spans built the way the SDK does: values, schemas and Struct bytes from the payload call."""
    for payload in span_payloads[::3]:
        processed = drift_core.process_export_payload_pyobject(payload["value"], payload.get("schema_merges"))
        args = base_span_args()
        args[10] = processed[2]
        args[14] = processed[1]
        args[15] = processed[3]
        args[25] = processed[0]
        args[27] = processed[4]
        ours, theirs = both(published, "build_span_proto_bytes_pyobject", *args)
        compare_span_outcomes(ours, theirs, payload["id"])
        decoded = decode_span(ours[1])
        assert decoded["input_value"] == decode_struct(processed[4])


def test_our_span_bytes_are_deterministic():
    args = base_span_args()
    args[10] = {"type": 6, "properties": {k: {"type": 1} for k in "qwertyuiopasdfghjkl"}}
    first = drift_core.build_span_proto_bytes_pyobject(*args)
    for _ in range(5):
        assert drift_core.build_span_proto_bytes_pyobject(*args) == first


def test_build_export_spans_request(published):
    span = drift_core.build_span_proto_bytes_pyobject(*base_span_args())
    cases = [
        ("svc", "env", "1.0", "inst", [span, span]),
        ("svc", "env", "1.0", "inst", []),
        ("svc", "env", "1.0", "inst", [b"\xff\xff"]),
        ("svc", "env", "1.0", "inst", [span, b"\x0a"]),
        ("svc", "env", "1.0", "inst", ["x"]),
        ("svc", "env", "1.0", "inst", (span,)),
        ("svc", "env", "1.0", "inst", [bytearray(span)]),
        ("svc", None, "1.0", "inst", [span]),
        ("svc", "env", "1.0", "inst", None),
        ("", "", "", "", [b""]),
    ]
    for args in cases:
        ours, theirs = both(published, "build_export_spans_request_bytes_pyobject", *args)
        assert ours[0] == theirs[0], (args[1], ours, theirs)
        if ours[0] == "ok":
            assert decode_export_request(ours[1]) == decode_export_request(theirs[1])
        else:
            assert ours[1] == theirs[1], (ours, theirs)
            assert ours[2].split(" (span index")[0] == theirs[2], (ours, theirs)


def test_build_export_spans_request_keywords(published):
    ours, theirs = both(
        published,
        "build_export_spans_request_bytes_pyobject",
        observable_service_id="svc",
        environment="e",
        sdk_version="1",
        sdk_instance_id="i",
        spans=[],
    )
    assert ours == theirs


def test_export_request_of_512_spans_matches(published, span_payloads):
    spans = []
    for i in range(512):
        payload = span_payloads[i % 16]
        processed = drift_core.process_export_payload_pyobject(payload["value"], payload.get("schema_merges"))
        args = base_span_args()
        args[1] = f"{i:016x}"
        args[25] = processed[0]
        args[27] = processed[4]
        spans.append(drift_core.build_span_proto_bytes_pyobject(*args))
    ours, theirs = both(published, "build_export_spans_request_bytes_pyobject", "svc", "env", "1.0", "inst", spans)
    assert ours[0] == theirs[0] == "ok"
    # The published builder decodes and re-encodes each span; ours embeds the bytes as given.
    assert decode_export_request(ours[1]) == decode_export_request(theirs[1])


def random_doubles():
    import random

    rng = random.Random(20261121)
    values = [rng.uniform(-1e6, 1e6) for _ in range(300)]
    values += [rng.random() * 10 ** rng.randint(-300, 300) for _ in range(300)]
    values += [float(rng.getrandbits(60)) + 0.5 for _ in range(100)]
    return [v for v in values if math.isfinite(v)]


def test_python_floats_match_for_many_doubles(published):
    ours, theirs = both(published, "process_export_payload_pyobject", {"v": random_doubles()}, None)
    assert ours == theirs


def test_float_literals_match_for_many_doubles(published):
    ours, theirs = both(published, "normalize_and_hash", json.dumps(random_doubles()))
    assert ours == theirs
