"""Route the Tusk Drift Python SDK's finished spans through the ring exporter.

One line after ``TuskDrift.initialize(...)``::

    import drift_core.sdk; drift_core.sdk.install()

or, with no code change, the environment variable ``TUSK_RING_EXPORTER=1`` (the SDK imports
``drift_core`` while it initializes; the import installs the hook on the SDK's span processor
class and the ring exporter is created with the SDK's own settings when the first span ends).

The seam is the SDK's ``TdSpanProcessor.on_end``. In RECORD mode the stock method parses the
span's JSON attributes, builds schemas, hashes and protobuf bytes on the request's thread
(about 1.6 ms for a 2 KB span) and queues the result for a Python batch thread. The hooked
method reads the same attributes as the ``str`` the SDK already holds and writes them into the
shared-memory ring with one copy; the exporter thread (or a ``drift-exporter`` sidecar) does the
parsing, schema, hashing and protobuf work off the app thread with the same rules the SDK's
stock path applies, so the recorded hashes are identical.

Every other mode, and spans that are not the SDK's own, go to the stock method unchanged. The
SDK's trace blocking is kept: a SERVER span with ERROR status blocks its trace, and so does a
span whose values exceed the SDK's size limit.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from typing import Any

from . import RingExporter

__all__ = ["install", "uninstall", "installed_exporter", "ENV_VAR"]

logger = logging.getLogger(__name__)

#: Environment variable that installs the hook when the SDK imports ``drift_core``.
#: ``1``/``true``/``yes``/``on`` picks the sink from the SDK's configuration (``api`` when the SDK
#: exports to the Tusk backend, else ``file`` in its traces directory); ``api``, ``file`` or
#: ``sidecar`` force one.
ENV_VAR = "TUSK_RING_EXPORTER"
_TRUTHY = {"1", "true", "yes", "on"}
_SINKS = {"api", "file", "sidecar"}

# OpenTelemetry SpanKind values (INTERNAL=0 .. CONSUMER=4) to tusk.drift.core.v1.SpanKind,
# as the SDK's otel_span_kind_to_drift maps them.
_OTEL_KIND_TO_DRIFT = {0: 1, 1: 2, 2: 3, 3: 4, 4: 5}
_DRIFT_KIND_SERVER = 2
_STATUS_ERROR = 2

_state_lock = threading.Lock()
_exporter: RingExporter | None = None
_originals: dict[str, Any] = {}
_class_patched = False
_creation_failed = False


def installed_exporter() -> RingExporter | None:
    """The ring exporter the hook pushes to, or ``None`` before the first span / install()."""
    return _exporter


def install(sdk: Any = None, *, sink: Any = None, **options: Any) -> RingExporter:
    """Hook the SDK's span processor so RECORD-mode spans go through a ring exporter.

    ``sdk`` defaults to ``TuskDrift.get_instance()``, which must be initialized. ``sink`` and
    ``options`` are passed to :class:`drift_core.RingExporter`; the API sink's url, key,
    service id, environment, SDK version and instance id default to the SDK's own. Returns the
    exporter (call ``force_flush``/``health_snapshot`` on it). Idempotent.
    """
    global _exporter
    processor = _processor_of(sdk)
    with _state_lock:
        if _exporter is None:
            _exporter = RingExporter(**_exporter_options(sdk, sink, options))
            atexit.register(_shutdown_at_exit)
        exporter = _exporter
        _patch_class(type(processor))
    return exporter


def uninstall(timeout: float = 5.0) -> None:
    """Restore the SDK's stock ``on_end`` and shut the ring exporter down (flushing it)."""
    global _exporter, _class_patched
    with _state_lock:
        exporter, _exporter = _exporter, None
        if _class_patched:
            cls = _originals.pop("class")
            for name in ("on_end", "shutdown", "force_flush"):
                setattr(cls, name, _originals.pop(name))
            _class_patched = False
    if exporter is not None:
        exporter.shutdown(timeout)


def install_from_env() -> bool:
    """Install the class hook if ``TUSK_RING_EXPORTER`` asks for it; never raises."""
    raw = os.environ.get(ENV_VAR, "").strip().lower()
    if not raw or raw not in _TRUTHY | _SINKS:
        return False
    try:
        from drift.core.tracing.td_span_processor import TdSpanProcessor
    except Exception as exc:  # the SDK is optional: drift_core works without it
        logger.debug("%s set but the Tusk Drift SDK is not importable: %s", ENV_VAR, exc)
        return False
    with _state_lock:
        _originals["env_sink"] = None if raw in _TRUTHY else raw
        _patch_class(TdSpanProcessor)
    return True


def _processor_of(sdk: Any) -> Any:
    if sdk is None:
        from drift.core.drift_sdk import TuskDrift

        sdk = TuskDrift.get_instance()
    processor = getattr(sdk, "_td_span_processor", None)
    if processor is None:
        raise RuntimeError("the Tusk Drift SDK is not initialized: call TuskDrift.initialize() first")
    return processor


def _exporter_options(sdk: Any, sink: Any, options: dict[str, Any]) -> dict[str, Any]:
    """Fill the exporter's options from the SDK's configured export adapter."""
    if sdk is None:
        from drift.core.drift_sdk import TuskDrift

        sdk = TuskDrift.get_instance()
    api_config = None
    directory = None
    span_exporter = getattr(sdk, "span_exporter", None)
    for adapter in span_exporter.get_adapters() if span_exporter is not None else []:
        if api_config is None and type(adapter).__name__ == "ApiSpanAdapter":
            api_config = getattr(adapter, "_config", None)
        if directory is None and type(adapter).__name__ == "FilesystemSpanAdapter":
            directory = getattr(adapter, "_base_directory", None)
    if sink is None:
        sink = "api" if api_config is not None else "file"
    merged: dict[str, Any] = {"sink": sink}
    if api_config is not None:
        merged.update(
            url=api_config.tusk_backend_base_url,
            api_key=api_config.api_key,
            service_id=api_config.observable_service_id,
            environment=api_config.environment,
            sdk_version=api_config.sdk_version,
            sdk_instance_id=api_config.sdk_instance_id,
        )
    else:
        config = getattr(sdk, "config", None)
        environment = getattr(config, "env", None)
        if environment:
            merged["environment"] = environment
        instance_id = getattr(sdk, "_sdk_instance_id", None)
        if instance_id:
            merged["sdk_instance_id"] = instance_id
        try:
            from drift.version import SDK_VERSION

            merged["sdk_version"] = SDK_VERSION
        except Exception:
            pass
    if sink == "file":
        merged["directory"] = str(directory) if directory is not None else os.path.join(os.getcwd(), ".tusk", "traces")
    merged.update({k: v for k, v in options.items() if v is not None})
    if merged.get("sink") != "api":
        for key in ("url", "api_key", "service_id"):
            merged.pop(key, None)
    if merged.get("sink") != "file":
        merged.pop("directory", None)
    return merged


def _exporter_for(processor: Any) -> RingExporter | None:
    """The exporter, created on first use when the hook came from the environment variable.
    If it cannot be created (say the ring directory is not writable) the failure is logged
    once and the SDK's stock path handles every span from then on."""
    global _exporter, _creation_failed
    exporter = _exporter
    if exporter is not None or _creation_failed:
        return exporter
    with _state_lock:
        if _exporter is None and not _creation_failed:
            try:
                _exporter = RingExporter(**_exporter_options(None, _originals.get("env_sink"), {}))
            except Exception as exc:
                _creation_failed = True
                logger.error("%s: could not start the ring exporter, using the stock path: %s", ENV_VAR, exc)
                return None
            atexit.register(_shutdown_at_exit)
        return _exporter


def _shutdown_at_exit() -> None:
    exporter = _exporter
    if exporter is not None:
        exporter.shutdown(10.0)


def _attribute_getter(span: Any) -> Any:
    """`get` of the ended span's attributes. A ReadableSpan's `attributes` is a read-only proxy
    over OpenTelemetry's BoundedAttributes, whose Mapping.get goes through Python-level
    __getitem__ and a lock; the span is ended, so its plain dict is read directly when it is
    there (`get` of the public mapping otherwise)."""
    bounded = getattr(span, "_attributes", None)
    inner = getattr(bounded, "_dict", None)
    if type(inner) is dict or isinstance(inner, dict):
        return inner.get
    attributes = span.attributes
    return attributes.get if attributes is not None else {}.get


def _patch_class(cls: Any) -> None:
    """Replace on_end/shutdown/force_flush on the processor class (caller holds _state_lock)."""
    global _class_patched
    if _class_patched:
        return
    from drift.core.trace_blocking_manager import MAX_SPAN_SIZE_BYTES, TraceBlockingManager
    from drift.core.tracing.otel_converter import parse_package_type
    from drift.core.tracing.td_attributes import TdSpanAttributes as A
    from drift.core.types import TD_INSTRUMENTATION_LIBRARY_NAME, TuskDriftMode

    stock_on_end = cls.on_end
    stock_shutdown = cls.shutdown
    stock_force_flush = cls.force_flush
    record_mode = TuskDriftMode.RECORD
    blocking = TraceBlockingManager.get_instance
    package_types: dict[Any, int] = {}

    def package_type_of(raw: Any) -> int:
        value = package_types.get(raw)
        if value is None:
            text = "UNKNOWN" if raw is None else raw if isinstance(raw, str) else str(raw)
            value = package_types[raw] = parse_package_type(text).value
        return value

    def as_text(value: Any, default: str = "") -> str:
        if value is None:
            return default
        return value if isinstance(value, str) else str(value)

    def as_flag(value: Any, default: bool = False) -> bool:
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            return value.lower() in ("true", "1", "yes")
        return bool(value)

    def as_json(value: Any) -> str | None:
        # The SDK stores these attributes as json.dumps text; anything else is passed as
        # absent, the same as the stock path's get_attribute_as_dict does with it.
        return value if isinstance(value, str) else None

    def on_end(self: Any, span: Any) -> None:
        if self._mode != record_mode or not self._started:
            return stock_on_end(self, span)
        exporter = _exporter if _exporter is not None else _exporter_for(self)
        if exporter is None:
            return stock_on_end(self, span)
        scope = getattr(span, "instrumentation_scope", None)
        if scope is None or scope.name != TD_INSTRUMENTATION_LIBRARY_NAME:
            return None
        try:
            context = span.context
            trace_id = format(context.trace_id, "032x")
            manager = blocking()
            if manager.is_trace_blocked(trace_id):
                return None
            kind = span.kind
            kind_value = _OTEL_KIND_TO_DRIFT.get(kind.value if hasattr(kind, "value") else kind, 0)
            status = span.status
            status_code = status.status_code.value
            if kind_value == _DRIFT_KIND_SERVER and status_code == _STATUS_ERROR:
                manager.block_trace(trace_id, reason="server_error")
                return None
            get = _attribute_getter(span)
            input_json = as_json(get(A.INPUT_VALUE))
            output_json = as_json(get(A.OUTPUT_VALUE))
            # The stock path measures json.dumps of the parsed values; the attribute text is
            # that same json.dumps output, so its length is the same estimate.
            if (len(input_json) if input_json else 0) + (len(output_json) if output_json else 0) > MAX_SPAN_SIZE_BYTES:
                manager.block_trace(trace_id, reason="size_limit")
                return None
            parent = span.parent
            parent_span_id = format(parent.span_id, "016x") if parent is not None and parent.span_id else ""
            start = span.start_time or 0
            exporter.push_span(
                trace_id,
                format(context.span_id, "016x"),
                parent_span_id,
                as_text(get(A.NAME), span.name),
                as_text(get(A.PACKAGE_NAME)),
                as_text(get(A.INSTRUMENTATION_NAME)),
                as_text(get(A.SUBMODULE_NAME)),
                package_type_of(get(A.PACKAGE_TYPE)),
                kind_value,
                status_code,
                status.description or "",
                as_flag(get(A.IS_PRE_APP_START)),
                as_flag(get(A.IS_ROOT_SPAN)),
                start,
                span.end_time or 0,
                input_json,
                output_json,
                as_json(get(A.INPUT_SCHEMA_MERGES)),
                as_json(get(A.OUTPUT_SCHEMA_MERGES)),
                as_json(get(A.METADATA)),
                self._environment,
                # Not part of the exported Span; the file sink writes them, as the SDK's does.
                as_json(get(A.TRANSFORM_METADATA)),
                as_text(get(A.STACK_TRACE)) or None,
            )
        except Exception as exc:  # a span must never break the app's request
            logger.error("Error in ring exporter on_end: %s", exc, exc_info=True)
        return None

    def shutdown(self: Any) -> None:
        exporter = _exporter
        if exporter is not None:
            exporter.force_flush(30.0)
        return stock_shutdown(self)

    def force_flush(self: Any, timeout_millis: int = 30000) -> bool:
        exporter = _exporter
        flushed = exporter.force_flush(timeout_millis / 1000.0) if exporter is not None else True
        return stock_force_flush(self, timeout_millis) and flushed

    _originals["class"] = cls
    _originals["on_end"] = stock_on_end
    _originals["shutdown"] = stock_shutdown
    _originals["force_flush"] = stock_force_flush
    cls.on_end = on_end
    cls.shutdown = shutdown
    cls.force_flush = force_flush
    _class_patched = True
