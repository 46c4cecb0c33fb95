"""Bad input gives the documented exception, never a crash, a hang or a PanicException; long
text work runs with the GIL released and gives the same results from many threads."""

from __future__ import annotations

import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import drift_core

TEXT_FUNCTIONS = [
    drift_core.normalize_json,
    drift_core.deterministic_hash,
    drift_core.normalize_and_hash,
    drift_core.object_to_protobuf_struct_bytes,
    drift_core.object_to_protobuf_struct_field_count,
]


@pytest.mark.parametrize("function", TEXT_FUNCTIONS)
@pytest.mark.parametrize("text", ["{", "[1,]", "NaN", "", '{"a":1}}', "\x00", "[" * 100_000, '"\\ud800"'])
def test_invalid_json_is_value_error(function, text):
    with pytest.raises(ValueError, match="^invalid json: "):
        function(text)


@pytest.mark.parametrize("function", TEXT_FUNCTIONS)
@pytest.mark.parametrize("value", [None, 1, 1.5, b"{}", bytearray(b"{}"), ["{}"], object()])
def test_wrong_argument_type_is_type_error(function, value):
    with pytest.raises(TypeError, match="^argument 'payload_json': "):
        function(value)


def test_deeply_nested_python_objects_do_not_overflow_the_stack():
    value: list = []
    for _ in range(200_000):
        value = [value]
    with pytest.raises(ValueError, match="^serialization error: recursion limit exceeded"):
        drift_core.process_export_payload_pyobject(value, None)
    mapping: dict = {}
    for _ in range(200_000):
        mapping = {"k": mapping}
    with pytest.raises(ValueError, match="^serialization error: recursion limit exceeded"):
        drift_core.process_export_payload_pyobject(mapping, None)


def test_self_referencing_dict_is_an_error_not_a_crash():
    cycle: dict = {}
    cycle["self"] = cycle
    with pytest.raises(ValueError, match="^serialization error: recursion limit exceeded"):
        drift_core.process_export_payload_pyobject(cycle, None)


def test_huge_text_is_processed():
    big = json.dumps(
        {"rows": [{"id": i, "name": f"user-{i}", "tags": ["a", "b"], "score": i / 7} for i in range(150_000)]}
    )
    assert len(big) > 8_000_000
    normalized, digest = drift_core.normalize_and_hash(big)
    assert drift_core.deterministic_hash(normalized) == digest
    assert drift_core.object_to_protobuf_struct_field_count(big) == 1


def test_unsupported_values_anywhere_are_type_errors():
    for bad in [{1, 2}, b"x", 1j, object(), 10**400, {"k": [1, {"deep": frozenset()}]}]:
        with pytest.raises(TypeError):
            drift_core.process_export_payload_pyobject({"a": bad}, None)


def test_span_builder_rejects_without_crashing():
    args = [
        "t",
        "s",
        "",
        "n",
        "p",
        "i",
        "m",
        1,
        None,
        2,
        None,
        None,
        "",
        "",
        "",
        "",
        1,
        "",
        False,
        False,
        0,
        0,
        0,
        0,
        None,
        None,
        None,
        b"\xff\xff\xff",
        None,
    ]
    with pytest.raises(ValueError, match="^serialization error: failed to decode Protobuf message"):
        drift_core.build_span_proto_bytes_pyobject(*args)
    args[27] = None
    args[7] = 12
    with pytest.raises(ValueError, match="^invalid package_type enum: 12$"):
        drift_core.build_span_proto_bytes_pyobject(*args)


def test_long_text_work_releases_the_gil():
    """Another thread runs while a long call is in flight. With forced GIL switches turned off
    (a switch interval of 1000 s), the main thread can run during the worker's call only if the
    call released the GIL: if it did not, the main thread always finds the call finished. Each
    attempt that sees the call in flight proves the release; one is enough (no clock decides)."""
    big = json.dumps([{"k": "v" * 64, "n": i} for i in range(200_000)])
    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    seen_in_flight = False
    try:
        for _ in range(50):
            entered, finished = threading.Event(), threading.Event()

            def work(entered=entered, finished=finished) -> None:
                entered.set()
                drift_core.deterministic_hash(big)
                finished.set()

            thread = threading.Thread(target=work)
            thread.start()
            entered.wait()
            seen_in_flight = not finished.is_set()
            thread.join()
            if seen_in_flight:
                break
    finally:
        sys.setswitchinterval(old_interval)
    assert seen_in_flight, "deterministic_hash held the GIL for the whole call"


def test_threads_get_identical_results(span_payloads):
    texts = [json.dumps(p["value"]) for p in span_payloads]
    expected = [drift_core.normalize_and_hash(t) for t in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(3):
            assert list(pool.map(drift_core.normalize_and_hash, texts)) == expected
    values = [(p["value"], p["schema_merges"]) for p in span_payloads]
    expected_objects = [drift_core.process_export_payload_pyobject(v, m) for v, m in values]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda vm: drift_core.process_export_payload_pyobject(*vm), values))
    assert got == expected_objects
