"""Helpers shared by the ring exporter, fork and SDK tests: span arguments, the SDK's stock
computation of the same span, and a collecting callback sink."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import drift_core
from proto_decode import decode_export_request, decode_span

BASE_TIME_NS = 1_763_700_000_123_456_789
ENVIRONMENT = "test-env"


def push_args(index: int, **overrides: Any) -> tuple:
    """Positional arguments of RingExporter.push_span for span number `index`."""
    fields = {
        "trace_id": f"{index:032x}",
        "span_id": f"{index:016x}",
        "parent_span_id": "" if index % 3 == 0 else f"{index + 1:016x}",
        "name": f"GET /users/{index}",
        "package_name": "requests",
        "instrumentation_name": "RequestsInstrumentation",
        "submodule_name": "GET",
        "package_type": 1,
        "kind": 3,
        "status_code": 1,
        "status_message": "",
        "is_pre_app_start": index % 5 == 0,
        "is_root_span": index % 2 == 0,
        "start_time_unix_nano": BASE_TIME_NS + index * 1_000_003,
        "end_time_unix_nano": BASE_TIME_NS + index * 1_000_003 + 1_234_567_891,
        "input_value": json.dumps({"method": "GET", "url": f"http://svc/users/{index}", "headers": {"a": "b"}}),
        "output_value": json.dumps({"status": 200, "body": [index, 1.5, None, True]}),
        "input_schema_merges": None,
        "output_schema_merges": None,
        "metadata": None,
        "environment": ENVIRONMENT,
    }
    unknown = set(overrides) - set(fields)
    if unknown:
        raise KeyError(unknown)
    fields.update(overrides)
    return tuple(fields.values())


def _parse_attribute(text: Any) -> Any:
    """The SDK's get_attribute_as_dict on a json.dumps attribute."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def _merges(text: Any) -> Any:
    """The SDK's get_attribute_as_schema_merges + _schema_merges_to_primitive."""
    from drift.core.tracing.otel_converter import _schema_merges_to_primitive, get_attribute_as_schema_merges

    if text is None:
        return None
    return _schema_merges_to_primitive(get_attribute_as_schema_merges({"k": text}, "k"))


def stock_span_proto(*args: Any) -> dict[str, Any]:
    """The decoded Span the SDK's stock Rust path (otel_converter) builds for these fields."""
    (
        trace_id,
        span_id,
        parent_span_id,
        name,
        package_name,
        instrumentation_name,
        submodule_name,
        package_type,
        kind,
        status_code,
        status_message,
        is_pre_app_start,
        is_root_span,
        start,
        end,
        input_text,
        output_text,
        input_merges,
        output_merges,
        metadata_text,
        environment,
    ) = args
    input_value = _parse_attribute(input_text) or {}
    output_value = _parse_attribute(output_text) or {}
    in_norm, in_hash, in_schema, in_schema_hash, in_bytes = drift_core.process_export_payload_pyobject(
        input_value, _merges(input_merges)
    )
    out_norm, out_hash, out_schema, out_schema_hash, out_bytes = drift_core.process_export_payload_pyobject(
        output_value, _merges(output_merges)
    )
    metadata = _parse_attribute(metadata_text)
    duration = end - start if end else 0
    span = drift_core.build_span_proto_bytes_pyobject(
        trace_id,
        span_id,
        parent_span_id,
        name,
        package_name,
        instrumentation_name,
        submodule_name,
        package_type,
        environment,
        kind,
        in_schema,
        out_schema,
        in_schema_hash,
        out_schema_hash,
        in_hash,
        out_hash,
        status_code,
        status_message,
        is_pre_app_start,
        is_root_span,
        start // 1_000_000_000,
        start % 1_000_000_000,
        duration // 1_000_000_000,
        duration % 1_000_000_000,
        metadata if isinstance(metadata, dict) else None,
        in_norm,
        out_norm,
        in_bytes,
        out_bytes,
    )
    return decode_span(span)


class CollectingSink:
    """A callback sink keeping every ExportSpansRequest it receives."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self._lock = threading.Lock()

    def __call__(self, request: bytes) -> None:
        with self._lock:
            self.requests.append(bytes(request))

    def spans(self) -> list[dict[str, Any]]:
        with self._lock:
            requests = list(self.requests)
        return [span for request in requests for span in decode_export_request(request).get("spans", [])]


def ring_exporter(tmp_path: Path, sink: Any, **options: Any) -> drift_core.RingExporter:
    settings = {
        "ring_dir": str(tmp_path / "rings"),
        "service_id": "svc-test",
        "environment": ENVIRONMENT,
        "sdk_version": "9.9.9",
        "sdk_instance_id": "instance-1",
        "schedule_delay_millis": 20,
    }
    settings.update(options)
    return drift_core.RingExporter(sink=sink, **settings)
