"""Type stubs of drift_core (drift-core-python): the published 0.1.9 API plus RingExporter."""

from collections.abc import Callable, Mapping, Sequence
from os import PathLike
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Literal, TypedDict, Union, final

from typing_extensions import Self

__all__ = [
    "normalize_json",
    "deterministic_hash",
    "normalize_and_hash",
    "object_to_protobuf_struct_bytes",
    "object_to_protobuf_struct_field_count",
    "process_export_payload",
    "process_export_payload_pyobject",
    "build_span_proto_bytes_pyobject",
    "build_export_spans_request_bytes_pyobject",
    "RingExporter",
]

__version__: str

# A JSON-like Python value: None, bool, int, float, str, list/tuple of values, dict[str, value].
_JsonValue = Union[None, bool, int, float, str, Sequence[Any], Mapping[str, Any]]

def normalize_json(payload_json: str) -> str:
    """Canonical JSON text: keys sorted by UTF-8 bytes, compact. ValueError("invalid json: ...")."""

def deterministic_hash(payload_json: str) -> str:
    """Lowercase hex SHA-256 of the canonical JSON text of `payload_json`."""

def normalize_and_hash(payload_json: str) -> tuple[str, str]:
    """`(canonical_text, hash)` from one parse."""

def object_to_protobuf_struct_bytes(payload_json: str) -> bytes:
    """`google.protobuf.Struct` bytes of the top-level object (b"" when it is not an object)."""

def object_to_protobuf_struct_field_count(payload_json: str) -> int:
    """Number of top-level keys (0 when the top level is not an object)."""

def process_export_payload(payload_json: str, schema_merges_json: str | None) -> tuple[str, str, str, str, str, bytes]:
    """`(normalized_json, decoded_json, decoded_value_hash, decoded_schema_json,
    decoded_schema_hash, protobuf_struct_bytes)`."""

def process_export_payload_pyobject(
    payload: _JsonValue, schema_merges: Mapping[str, Mapping[str, Any]] | None
) -> tuple[Any, str, dict[str, Any], str, bytes]:
    """`(normalized_value, decoded_value_hash, decoded_schema, decoded_schema_hash,
    protobuf_struct_bytes)`. TypeError for values that are not JSON-like."""

def build_span_proto_bytes_pyobject(
    trace_id: str,
    span_id: str,
    parent_span_id: str,
    name: str,
    package_name: str,
    instrumentation_name: str,
    submodule_name: str,
    package_type: int,
    environment: str | None,
    kind: int,
    input_schema: Mapping[str, Any] | None,
    output_schema: Mapping[str, Any] | None,
    input_schema_hash: str,
    output_schema_hash: str,
    input_value_hash: str,
    output_value_hash: str,
    status_code: int,
    status_message: str,
    is_pre_app_start: bool,
    is_root_span: bool,
    timestamp_seconds: int,
    timestamp_nanos: int,
    duration_seconds: int,
    duration_nanos: int,
    metadata: _JsonValue,
    input_value: _JsonValue,
    output_value: _JsonValue,
    input_value_proto_struct_bytes: bytes | None,
    output_value_proto_struct_bytes: bytes | None,
) -> bytes:
    """`tusk.drift.core.v1.Span` bytes. ValueError("invalid package_type enum: 42") and the like."""

def build_export_spans_request_bytes_pyobject(
    observable_service_id: str,
    environment: str,
    sdk_version: str,
    sdk_instance_id: str,
    spans: list[bytes],
) -> bytes:
    """`tusk.drift.backend.v1.ExportSpansRequest` bytes embedding `spans` as given."""

class _DroppedByReason(TypedDict):
    queue_full: int
    too_large: int
    already_shutdown: int
    serialization_error: int
    export_failed: int
    fork_discarded: int

class _HealthSnapshot(TypedDict):
    queue_size_bytes: int
    queue_capacity_bytes: int
    fill_ratio: float
    pushed: int
    recovered: int
    exported: int
    dropped_total: int
    dropped: _DroppedByReason
    in_flight: int
    batches: int
    bytes_sent: int
    export_failures: int
    export_timeouts: int
    retries: int
    last_export_latency_ms: float
    circuit_state: Literal["closed", "open", "half_open"]
    running: bool
    pid: int

@final
class _SdkAttributeKeys:
    """Which span attribute holds each span schema field the SDK hookup reads, by field name;
    built once by the hook (`drift_core.sdk`) and passed to every `RingExporter._push_sdk_span`.
    Every field of `fields` must be given, as a `str`, and nothing else (TypeError)."""

    fields: ClassVar[list[str]]
    def __new__(
        cls,
        *,
        name: str,
        package_name: str,
        instrumentation_name: str,
        submodule_name: str,
        is_pre_app_start: str,
        is_root_span: str,
        input_value_json: str,
        output_value_json: str,
        input_schema_merges_json: str,
        output_schema_merges_json: str,
        metadata_json: str,
        transform_metadata_json: str,
        stack_trace: str,
    ) -> Self: ...
    def __getitem__(self, field: str, /) -> str: ...

@final
class RingExporter:
    """Spans into this process's shared-memory ring; an exporter thread (or a `drift-exporter run`
    sidecar) turns them into `ExportSpansRequest`s off the application thread.

    `sink`: "api" (the Tusk backend at `api_url` with `api_key`), "file" (JSON lines under
    `traces_dir`; "files" is accepted too), "sidecar" (leave draining to a `drift-exporter run`
    sidecar), or a callable receiving each request's bytes on the exporter's thread.

    The options are the exporter's one table (`drift-exporter run --help` shows the same ones
    with dashes; the Node binding in camelCase). Each unset option comes from its `TUSK_*`
    environment variable, then the default. Invalid values raise ValueError (TypeError for a
    wrong type) naming the option; so do API options given with a non-api sink. `url`,
    `service_id`, `directory` and `capacity_bytes` are the former names of `api_url`,
    `observable_service_id`, `traces_dir` and `ring_capacity_bytes`. Log records go to the
    `logging` loggers under `drift_exporter`. Fork-safe: a child process gets its own ring on
    first push.

    In-process, the ring is a named file in `ring_dir` (default: the sidecar's directory,
    `/dev/shm/drift-ring-<uid>`): spans a killed or SIGTERMed process had not delivered are
    delivered by the next start of the same `observable_service_id` (or by a sidecar).
    `ring_anonymous=True` keeps an anonymous ring instead (nothing survives the process).
    """

    def __new__(
        cls,
        *,
        sink: Literal["api", "file", "files", "sidecar"] | Callable[[bytes], object] | None = None,
        api_url: str | None = None,
        api_key: str | None = None,
        traces_dir: str | PathLike[str] | None = None,
        observable_service_id: str | None = None,
        environment: str | None = None,
        sdk_version: str | None = None,
        sdk_instance_id: str | None = None,
        ring_dir: str | PathLike[str] | None = None,
        ring_anonymous: bool | None = None,
        ring_capacity_bytes: int | None = None,
        max_span_bytes: int | None = None,
        max_export_batch_size: int | None = None,
        max_export_batch_bytes: int | None = None,
        schedule_delay_millis: int | None = None,
        export_timeout_millis: int | None = None,
        gzip_min_bytes: int | None = None,
        max_pending_requests: int | None = None,
        max_retry_attempts: int | None = None,
        url: str | None = None,
        service_id: str | None = None,
        directory: str | PathLike[str] | None = None,
        capacity_bytes: int | None = None,
    ) -> Self: ...
    def push_span(
        self,
        trace_id: str,
        span_id: str,
        parent_span_id: str,
        name: str,
        package_name: str,
        instrumentation_name: str,
        submodule_name: str,
        package_type: int,
        kind: int,
        status_code: int,
        status_message: str,
        is_pre_app_start: bool,
        is_root_span: bool,
        start_time_unix_nano: int,
        end_time_unix_nano: int,
        input_value: str | None = None,
        output_value: str | None = None,
        input_schema_merges: str | None = None,
        output_schema_merges: str | None = None,
        metadata: str | None = None,
        environment: str | None = None,
        transform_metadata: str | None = None,
        stack_trace: str | None = None,
    ) -> bool:
        """Writes one span record (JSON fields as the `json.dumps` text the SDK holds) into the
        ring. Never raises for a full ring, an oversize span or after shutdown: returns False
        and counts the drop. TypeError only for arguments of the wrong type."""
    def _push_sdk_span(
        self,
        attributes: Mapping[str, Any],
        keys: _SdkAttributeKeys,
        trace_id: str,
        span_id: str,
        parent_span_id: str,
        default_name: str,
        package_type: int,
        kind: int,
        status_code: int,
        status_message: str,
        start_time_unix_nano: int,
        end_time_unix_nano: int,
        environment: str | None,
        max_value_bytes: int,
    ) -> int:
        """The SDK hookup's push (drift_core.sdk): 0 pushed, 1 dropped, 2 over the size limit."""
    def force_flush(self, timeout: float | None = None) -> bool:
        """Waits (GIL released) until every span pushed so far is exported or dropped."""
    def shutdown(self, timeout: float | None = None) -> bool:
        """Stops accepting spans, drains and delivers what is queued; idempotent."""
    def health_snapshot(self) -> _HealthSnapshot: ...
    def ring_path(self) -> Path | None:
        """Path of this process's ring file when it has one (what a sidecar attaches to)."""
    def __enter__(self) -> RingExporter: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None: ...

def _exporter_options() -> list[tuple[str, str, str]]:
    """`(name, TUSK_* variable, help)` of every RingExporter option (the exporter's table)."""
