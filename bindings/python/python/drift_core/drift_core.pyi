"""The extension module; everything is re-exported by the `drift_core` package (see __init__.pyi)."""

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

from drift_core import RingExporter as RingExporter
from drift_core import _SdkAttributeKeys as _SdkAttributeKeys
from drift_core import __version__ as __version__
from drift_core import build_export_spans_request_bytes_pyobject as build_export_spans_request_bytes_pyobject
from drift_core import build_span_proto_bytes_pyobject as build_span_proto_bytes_pyobject
from drift_core import deterministic_hash as deterministic_hash
from drift_core import normalize_and_hash as normalize_and_hash
from drift_core import normalize_json as normalize_json
from drift_core import object_to_protobuf_struct_bytes as object_to_protobuf_struct_bytes
from drift_core import object_to_protobuf_struct_field_count as object_to_protobuf_struct_field_count
from drift_core import process_export_payload as process_export_payload
from drift_core import process_export_payload_pyobject as process_export_payload_pyobject
