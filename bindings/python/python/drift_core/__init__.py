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

try:
    from .drift_core import (
        RingExporter,
        _SdkAttributeKeys as _SdkAttributeKeys,
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
except ImportError as _error:
    # The SDK imports drift_core optionally and falls back to its Python path when the import
    # fails; with the ring exporter asked for, say once why it is not running.
    # A failed import leaves no module to remember that it warned: the logger (kept by the
    # logging registry) does, so a second import attempt stays quiet.
    import logging as _logging

    _log = _logging.getLogger("drift.ring_exporter")
    asked = _os.environ.get("TUSK_RING_EXPORTER", "").strip().lower() not in ("", "0", "false", "no", "off")
    if asked and not getattr(_log, "_drift_core_import_warned", False):
        _log._drift_core_import_warned = True  # type: ignore[attr-defined]
        _log.warning(
            "TUSK_RING_EXPORTER is set but the native module of drift_core could not be loaded (%s); "
            "the SDK's stock export path stays in use",
            _error,
        )
    raise

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
