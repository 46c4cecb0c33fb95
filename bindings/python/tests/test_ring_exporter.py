"""RingExporter: push_span semantics, sinks, hashes equal to the SDK's stock path, threads."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import pytest

import drift_core
from proto_decode import decode_export_request
from span_helpers import (
    CollectingSink,
    push_args,
    ring_exporter,
    stock_span_proto,
)


def test_push_flush_and_health(tmp_path):
    sink = CollectingSink()
    with ring_exporter(tmp_path, sink) as exporter:
        assert exporter.push_span(*push_args(1)) is True
        assert exporter.force_flush(60) is True
        health = exporter.health_snapshot()
    assert health["pushed"] == 1 and health["exported"] == 1 and health["dropped_total"] == 0
    assert health["in_flight"] == 0 and health["running"] is True and health["circuit_state"] == "closed"
    assert set(health["dropped"]) == {
        "queue_full",
        "too_large",
        "already_shutdown",
        "serialization_error",
        "export_failed",
        "fork_discarded",
    }
    assert health["queue_capacity_bytes"] >= 1 << 20
    spans = sink.spans()
    assert len(spans) == 1
    request = decode_export_request(sink.requests[0])
    assert request["observable_service_id"] == "svc-test"
    assert request["environment"] == "test-env"
    assert request["sdk_version"] == "9.9.9"
    assert request["sdk_instance_id"] == "instance-1"


def test_spans_have_the_stock_path_hashes(tmp_path, span_payloads):
    """Every fixture payload pushed as text gives the Span the SDK's stock Rust path builds."""
    sink = CollectingSink()
    expected = {}
    with ring_exporter(tmp_path, sink) as exporter:
        for index, payload in enumerate(span_payloads):
            output = span_payloads[(index + 7) % len(span_payloads)]
            args = push_args(
                index,
                input_value=json.dumps(payload["value"]),
                output_value=json.dumps(output["value"]),
                input_schema_merges=json.dumps(payload["schema_merges"]) if payload["schema_merges"] else None,
                output_schema_merges=json.dumps(output["schema_merges"]) if output["schema_merges"] else None,
                metadata=json.dumps({"sdk": "python", "index": index}),
            )
            assert exporter.push_span(*args)
            expected[args[1]] = stock_span_proto(*args)
        assert exporter.force_flush(60)
    spans = {span["span_id"]: span for span in sink.spans()}
    assert spans.keys() == expected.keys()
    for span_id, span in spans.items():
        assert span == expected[span_id], span_id


@pytest.mark.parametrize(
    "text",
    [
        "null",
        "[]",
        "{}",
        '""',
        "0",
        "false",
        "0.0",
        '{"a": NaN, "b": Infinity}',
        '{"big": 18446744073709551616}',
        "[1, 2]",
    ],
)
def test_python_dialect_values_match_stock_path(tmp_path, text):
    """json.dumps text the stock path reads with json.loads (NaN, big ints, falsy -> {})."""
    sink = CollectingSink()
    with ring_exporter(tmp_path, sink) as exporter:
        args = push_args(0, input_value=text, output_value=text)
        assert exporter.push_span(*args)
        assert exporter.force_flush(60)
    assert sink.spans() == [stock_span_proto(*args)]


def test_python_floats_match_stock_path(tmp_path):
    """Doubles the published binding does not keep bit for bit (it re-reads their shortest digits
    with serde_json's algorithm): the exporter must hash what the stock path hashes."""
    import random

    rng = random.Random(7)
    values = [rng.random() * 10 ** rng.randint(-300, 300) for _ in range(400)]
    values += [6.940673347734127e202, 6.231861893830741e43, 7.980057919797548e-166, 0.1, 2.0**70, -(2.0**63)]
    sink = CollectingSink()
    with ring_exporter(tmp_path, sink) as exporter:
        args = push_args(0, input_value=json.dumps({"v": values}), output_value=json.dumps(values[:50]))
        assert exporter.push_span(*args)
        assert exporter.force_flush(60)
    assert sink.spans() == [stock_span_proto(*args)]


def test_absent_values_are_empty_objects(tmp_path):
    sink = CollectingSink()
    with ring_exporter(tmp_path, sink) as exporter:
        args = push_args(0, input_value=None, output_value=None, metadata=None)
        assert exporter.push_span(*args)
        assert exporter.force_flush(60)
    assert sink.spans() == [stock_span_proto(*args)]


def test_concurrent_threads_all_arrive(tmp_path):
    sink = CollectingSink()
    threads_count, per_thread = 8, 250
    payload = json.dumps({"method": "GET", "headers": {"a": "b" * 200}, "body": "x" * 1500})
    with ring_exporter(tmp_path, sink, capacity_bytes=16 << 20) as exporter:
        barrier = threading.Barrier(threads_count)
        results = []

        def worker(thread_index: int) -> None:
            barrier.wait()
            ok = 0
            for i in range(per_thread):
                if exporter.push_span(*push_args(thread_index * per_thread + i, input_value=payload)):
                    ok += 1
            results.append(ok)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert exporter.force_flush(60)
        health = exporter.health_snapshot()
    assert sum(results) == threads_count * per_thread
    span_ids = [span["span_id"] for span in sink.spans()]
    assert len(span_ids) == len(set(span_ids)) == threads_count * per_thread
    assert health["exported"] == threads_count * per_thread and health["dropped_total"] == 0


def test_full_ring_returns_false_and_counts(tmp_path):
    # Sidecar mode: nothing drains this process's ring, so it fills up.
    exporter = drift_core.RingExporter(sink="sidecar", ring_dir=str(tmp_path / "rings"), capacity_bytes=64 << 10)
    payload = json.dumps({"body": "y" * 2000})
    outcomes = [exporter.push_span(*push_args(i, input_value=payload)) for i in range(200)]
    health = exporter.health_snapshot()
    assert outcomes[0] is True and outcomes[-1] is False
    assert health["dropped"]["queue_full"] == outcomes.count(False) > 0
    assert health["pushed"] == 200
    assert 0.9 <= health["fill_ratio"] <= 1.0
    exporter.shutdown(0.2)


def test_too_large_returns_false_and_counts(tmp_path):
    sink = CollectingSink()
    with ring_exporter(tmp_path, sink, max_span_bytes=4096) as exporter:
        assert exporter.push_span(*push_args(0, input_value=json.dumps({"big": "z" * 10_000}))) is False
        assert exporter.push_span(*push_args(1)) is True
        assert exporter.force_flush(60)
        health = exporter.health_snapshot()
    assert health["dropped"]["too_large"] == 1 and health["exported"] == 1


def test_push_after_shutdown_returns_false(tmp_path):
    sink = CollectingSink()
    exporter = ring_exporter(tmp_path, sink)
    assert exporter.push_span(*push_args(0))
    assert exporter.shutdown(60) is True
    assert exporter.shutdown(1) is True  # idempotent
    assert exporter.push_span(*push_args(1)) is False
    health = exporter.health_snapshot()
    assert health["running"] is False and health["dropped"]["already_shutdown"] == 1
    assert len(sink.spans()) == 1  # shutdown drained and delivered what was queued


def test_invalid_json_is_counted_never_raised(tmp_path):
    sink = CollectingSink()
    with ring_exporter(tmp_path, sink) as exporter:
        assert exporter.push_span(*push_args(0, input_value="{not json")) is True
        assert exporter.push_span(*push_args(1, input_schema_merges="[broken")) is True
        assert exporter.push_span(*push_args(2)) is True
        assert exporter.force_flush(60)
        health = exporter.health_snapshot()
    assert health["pushed"] == 3
    assert health["exported"] + health["dropped_total"] == 3
    assert "0000000000000002" in [span["span_id"] for span in sink.spans()]


@pytest.mark.parametrize(
    ("position", "value"),
    [(0, 5), (3, None), (7, "x"), (11, 1), (13, None), (15, b"{}"[0]), (15, ["x"])],
)
def test_wrong_argument_types_raise_type_error(tmp_path, position, value):
    sink = CollectingSink()
    with ring_exporter(tmp_path, sink) as exporter:
        args = list(push_args(0))
        args[position] = value
        with pytest.raises(TypeError):
            exporter.push_span(*args)
        assert exporter.health_snapshot()["pushed"] == 0


def test_bytes_json_fields_are_accepted(tmp_path):
    sink = CollectingSink()
    with ring_exporter(tmp_path, sink) as exporter:
        args = push_args(0, input_value=b'{"a": 1}')
        assert exporter.push_span(*args)
        assert exporter.force_flush(60)
    expected = stock_span_proto(*push_args(0, input_value='{"a": 1}'))
    assert sink.spans() == [expected]


def test_keyword_arguments(tmp_path):
    sink = CollectingSink()
    with ring_exporter(tmp_path, sink) as exporter:
        args = push_args(0)
        names = [
            "trace_id",
            "span_id",
            "parent_span_id",
            "name",
            "package_name",
            "instrumentation_name",
            "submodule_name",
            "package_type",
            "kind",
            "status_code",
            "status_message",
            "is_pre_app_start",
            "is_root_span",
            "start_time_unix_nano",
            "end_time_unix_nano",
            "input_value",
            "output_value",
            "input_schema_merges",
            "output_schema_merges",
            "metadata",
            "environment",
        ]
        assert exporter.push_span(**dict(zip(names, args)))
        assert exporter.force_flush(60)
    assert sink.spans() == [stock_span_proto(*args)]


def test_file_sink_writes_sdk_json_lines(tmp_path):
    directory = tmp_path / "traces"
    exporter = drift_core.RingExporter(
        sink="file", directory=str(directory), ring_dir=str(tmp_path / "rings"), schedule_delay_millis=20
    )
    args = push_args(3, input_value=json.dumps({"q": 1}))
    assert exporter.push_span(*args)
    assert exporter.shutdown(60)
    files = list(Path(directory).glob("*.jsonl"))
    assert len(files) == 1 and files[0].name.endswith(f"_trace_{args[0]}.jsonl")
    line = json.loads(files[0].read_text().splitlines()[0])
    stock = stock_span_proto(*args)
    assert line["traceId"] == args[0] and line["spanId"] == args[1]
    assert line["inputValueHash"] == stock["input_value_hash"]
    assert line["outputSchemaHash"] == stock["output_schema_hash"]
    assert line["inputValue"] == {"q": 1}


def test_configuration_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown sink"):
        drift_core.RingExporter(sink="kafka")
    with pytest.raises(TypeError):
        drift_core.RingExporter(sink=42)
    with pytest.raises(ValueError):
        drift_core.RingExporter(sink="file", url="http://127.0.0.1:1")
    with pytest.raises(TypeError):
        drift_core.RingExporter("file")  # keyword-only
    exporter = drift_core.RingExporter(sink="file", directory=str(tmp_path / "t"), ring_dir=str(tmp_path / "r"))
    with pytest.raises(ValueError, match="timeout"):
        exporter.force_flush(-1)
    assert exporter.shutdown(5)


def test_callback_exceptions_do_not_break_the_exporter(tmp_path, monkeypatch):
    calls = []
    reported = []
    monkeypatch.setattr(sys, "unraisablehook", lambda info: reported.append(info.exc_value))

    def failing(request: bytes) -> None:
        calls.append(len(request))
        raise RuntimeError("sink is down")

    exporter = drift_core.RingExporter(sink=failing, ring_dir=str(tmp_path / "rings"), schedule_delay_millis=10)
    assert exporter.push_span(*push_args(0))
    assert exporter.force_flush(60)
    assert exporter.push_span(*push_args(1))
    assert exporter.shutdown(60)
    assert len(calls) >= 1
    # Reported through sys.unraisablehook, like an exception in a finalizer.
    assert reported and all(isinstance(error, RuntimeError) for error in reported)


def test_garbage_collected_exporter_flushes(tmp_path):
    sink = CollectingSink()
    exporter = ring_exporter(tmp_path, sink, schedule_delay_millis=60_000)
    assert exporter.push_span(*push_args(0))
    del exporter  # dropping shuts down (GIL released while the callback sink delivers)
    deadline = time.monotonic() + 60
    while not sink.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(sink.spans()) == 1


# The attribute of each span schema field the hook reads, by field name (`td.<attribute>`).
SDK_ATTRIBUTES = {
    "name": "td.name",
    "package_name": "td.package_name",
    "instrumentation_name": "td.instrumentation_name",
    "submodule_name": "td.submodule_name",
    "is_pre_app_start": "td.is_pre_app_start",
    "is_root_span": "td.is_root_span",
    "input_value_json": "td.input_value",
    "output_value_json": "td.output_value",
    "input_schema_merges_json": "td.input_schema_merges",
    "output_schema_merges_json": "td.output_schema_merges",
    "metadata_json": "td.metadata",
    "transform_metadata_json": "td.transform_metadata",
    "stack_trace": "td.stack_trace",
}
SDK_KEYS = drift_core._SdkAttributeKeys(**SDK_ATTRIBUTES)


def push_sdk(exporter, attributes, max_value_bytes=1 << 20):
    return exporter._push_sdk_span(
        attributes,
        SDK_KEYS,
        "a" * 32,
        "b" * 16,
        "",
        "otel-name",
        1,
        3,
        1,
        "",
        1_000_000_123,
        2_000_000_456,
        "env",
        max_value_bytes,
    )


@pytest.mark.parametrize(
    "attributes",
    [
        {},
        {"td.name": 42, "td.package_name": "pg", "td.is_pre_app_start": "TRUE", "td.is_root_span": 1},
        {"td.is_pre_app_start": "no", "td.is_root_span": 0, "td.input_value": 5, "td.metadata": '{"k": [1]}'},
        {"td.is_root_span": "yes", "td.input_value": '{"a": 1}', "td.output_value": "null", "td.stack_trace": ""},
        {
            "td.input_value": '{"body": "eyJ4IjoxfQ=="}',
            "td.input_schema_merges": '{"body": {"encoding": 1, "decoded_type": 1}}',
        },
    ],
)
def test_sdk_push_reads_attributes_like_the_stock_converter(tmp_path, attributes):
    """_push_sdk_span (the SDK hook's fast path) applies get_attribute_as_str/_bool/_dict."""
    from drift.core.tracing.otel_converter import get_attribute_as_bool, get_attribute_as_str

    sink = CollectingSink()
    with ring_exporter(tmp_path, sink) as exporter:
        assert push_sdk(exporter, attributes) == 0
        assert exporter.force_flush(60)
    (span,) = sink.spans()
    assert span["name"] == get_attribute_as_str(attributes, "td.name", "otel-name")
    assert span.get("package_name", "") == get_attribute_as_str(attributes, "td.package_name")
    assert span.get("is_pre_app_start", False) == get_attribute_as_bool(attributes, "td.is_pre_app_start")
    assert span.get("is_root_span", False) == get_attribute_as_bool(attributes, "td.is_root_span")
    text = lambda key: attributes.get(key) if isinstance(attributes.get(key), str) else None  # noqa: E731
    args = push_args(
        0,
        input_value=text("td.input_value"),
        output_value=text("td.output_value"),
        input_schema_merges=text("td.input_schema_merges"),
        metadata=text("td.metadata"),
    )
    stock = stock_span_proto(*args)
    for field in (
        "input_value_hash",
        "output_value_hash",
        "input_schema_hash",
        "output_schema_hash",
        "input_value",
        "metadata",
    ):
        assert span.get(field) == stock.get(field), field


def test_sdk_push_over_the_size_limit_is_not_pushed(tmp_path):
    sink = CollectingSink()
    with ring_exporter(tmp_path, sink) as exporter:
        attributes = {"td.input_value": json.dumps({"x": "y" * 600}), "td.output_value": json.dumps({"z": "w" * 600})}
        assert push_sdk(exporter, attributes, max_value_bytes=1000) == 2
        assert push_sdk(exporter, attributes, max_value_bytes=2000) == 0
        assert exporter.force_flush(60)
        assert exporter.health_snapshot()["pushed"] == 1
    assert len(sink.spans()) == 1


def test_sdk_attribute_keys_are_checked_by_name():
    """The hook names each field's attribute by schema field name: every field, nothing else."""
    assert sorted(drift_core._SdkAttributeKeys.fields) == sorted(SDK_ATTRIBUTES)
    assert SDK_KEYS["input_value_json"] == "td.input_value"
    missing = dict(SDK_ATTRIBUTES)
    del missing["stack_trace"]
    with pytest.raises(TypeError, match="stack_trace"):
        drift_core._SdkAttributeKeys(**missing)
    with pytest.raises(TypeError, match="input_value"):
        drift_core._SdkAttributeKeys(**SDK_ATTRIBUTES, input_value="td.input_value")
    with pytest.raises(TypeError, match="name"):
        drift_core._SdkAttributeKeys(**{**SDK_ATTRIBUTES, "name": 1})


def test_sdk_push_refuses_positional_keys(tmp_path):
    with ring_exporter(tmp_path, CollectingSink()) as exporter:
        with pytest.raises(TypeError, match="_SdkAttributeKeys"):
            exporter._push_sdk_span({}, tuple(SDK_ATTRIBUTES.values()), "a" * 32, "b" * 16, "", "n", 1, 3, 1, "", 1, 2, None, 1 << 20)


def test_the_hook_names_every_attribute_field_by_keyword():
    """drift_core.sdk builds its keys by keyword, one per field the native side reads."""
    import ast
    import inspect

    import drift_core.sdk

    tree = ast.parse(inspect.getsource(drift_core.sdk))
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "_SdkAttributeKeys"
    ]
    assert len(calls) == 1
    assert not calls[0].args
    assert sorted(keyword.arg for keyword in calls[0].keywords) == sorted(drift_core._SdkAttributeKeys.fields)
