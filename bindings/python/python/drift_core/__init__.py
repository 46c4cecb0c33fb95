"""drift_core: native core of the Tusk Drift Python SDK.

A drop-in replacement for the published ``drift-core-python`` 0.1.9 module (same functions,
arguments, return shapes, exceptions and hashes), plus :class:`RingExporter`, which hands a
finished span to a shared-memory ring with one copy and lets an exporter thread (or a
``drift-exporter`` sidecar) do the JSON, schema, hash and protobuf work.

Route the Tusk Drift SDK's spans through the ring with ``drift_core.sdk.install()`` after
``TuskDrift.initialize(...)``, or by setting ``TUSK_RING_EXPORTER=1``.
"""

from __future__ import annotations

import os as _os

from .drift_core import (
    RingExporter,
    __version__ as __version__,
    _exporter_options as _exporter_options,
    build_export_spans_request_bytes_pyobject,
    build_span_proto_bytes_pyobject,
    deterministic_hash,
    normalize_and_hash,
    normalize_json,
    object_to_protobuf_struct_bytes,
    object_to_protobuf_struct_field_count,
    process_export_payload,
    process_export_payload_pyobject,
)

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

if _os.environ.get("TUSK_RING_EXPORTER"):
    # The SDK imports drift_core while it initializes; hooking its span processor class here
    # is what makes the environment variable alone enough. Fail-open, like the SDK's loader.
    try:
        from . import sdk as _sdk

        _sdk.install_from_env()
    except Exception:  # pragma: no cover - never break the import over the optional hook
        import logging as _logging

        _logging.getLogger(__name__).warning("TUSK_RING_EXPORTER: could not hook the SDK", exc_info=True)
