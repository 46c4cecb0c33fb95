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

The hook reaches into the SDK's private objects, so it checks the SDK's version first
(``SUPPORTED_SDK_VERSIONS``): on any other version it does not install, logs one warning, and the
SDK's stock path keeps running. An invalid ``TUSK_RING_EXPORTER`` value does the same. When the
hook is active, one log line says so, with the sink and the ring.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from typing import Any

from . import RingExporter, _SdkAttributeKeys

__all__ = ["install", "uninstall", "installed_exporter", "ENV_VAR", "SUPPORTED_SDK_VERSIONS"]

logger = logging.getLogger(__name__)
# The startup line and the fail-open warnings go through the SDK's own logger ("drift"), so they
# appear with its format and level next to its own startup lines.
_sdk_log = logging.getLogger("drift.ring_exporter")

#: Versions of tusk-drift-python-sdk whose span processor the hook was written and tested
#: against (tests/test_stock_identity.py diffs the ring's output with each one's stock path).
SUPPORTED_SDK_VERSIONS = frozenset({"0.1.29"})

#: Environment variable that installs the hook when the SDK imports ``drift_core``.
#: ``1``/``true``/``yes``/``on`` picks the sink from the SDK's configuration (``api`` when the SDK
#: exports to the Tusk backend, else ``file`` in its traces directory); ``api``, ``file`` or
#: ``sidecar`` force one.
ENV_VAR = "TUSK_RING_EXPORTER"
_TRUTHY = {"1", "true", "yes", "on"}
_FALSY = {"", "0", "false", "no", "off"}
_SINKS = {"api", "file", "sidecar"}

_DRIFT_KIND_SERVER = 2
_STATUS_ERROR = 2

_state_lock = threading.Lock()
_exporter: RingExporter | None = None
_originals: dict[str, Any] = {}
_class_patched = False
_creation_failed = False
_announced = False


def _sdk_version() -> str | None:
    try:
        from drift.version import SDK_VERSION

        return str(SDK_VERSION)
    except Exception:
        return None


def _version_supported() -> bool:
    """True for an SDK version the hook knows; otherwise one warning says why it stays off."""
    version = _sdk_version()
    if version in SUPPORTED_SDK_VERSIONS:
        return True
    _sdk_log.warning(
        "drift_core: the ring exporter hook supports tusk-drift-python-sdk %s, not %s; it is not "
        "installed and the SDK's stock export path stays in use",
        ", ".join(sorted(SUPPORTED_SDK_VERSIONS)),
        version if version is not None else "an SDK whose version cannot be read",
    )
    return False


def _announce(options: dict[str, Any]) -> None:
    """The startup line: the hook is active, with which sink and ring (never the key)."""
    global _announced
    if _announced:
        return
    _announced = True
    sink = options.get("sink") or "default"
    where = ""
    if sink == "file" and options.get("directory"):
        where = f" ({options['directory']})"
    elif sink == "api" and options.get("url"):
        where = f" ({options['url']})"
    ring_dir = options.get("ring_dir") or os.environ.get("TUSK_RING_DIR")
    ring = f"ring in {ring_dir}" if ring_dir else "in-process ring"
    _sdk_log.info(
        "ring exporter active for tusk-drift-python-sdk %s: sink %s%s, %s, spans taken at TdSpanProcessor.on_end",
        _sdk_version(),
        sink,
        where,
        ring,
    )


def installed_exporter() -> RingExporter | None:
    """The ring exporter the hook pushes to, or ``None`` before the first span / install()."""
    return _exporter


def install(sdk: Any = None, *, sink: Any = None, **options: Any) -> RingExporter | None:
    """Hook the SDK's span processor so RECORD-mode spans go through a ring exporter.

    ``sdk`` defaults to ``TuskDrift.get_instance()``, which must be initialized. ``sink`` and
    ``options`` are passed to :class:`drift_core.RingExporter`; the API sink's url, key,
    service id, environment, SDK version and instance id default to the SDK's own. Returns the
    exporter (call ``force_flush``/``health_snapshot`` on it), or ``None`` when the installed
    SDK's version is not one the hook supports (a warning says so; nothing is patched).
    Idempotent.
    """
    global _exporter
    if _exporter is None and not _version_supported():
        return None
    processor = _processor_of(sdk)
    with _state_lock:
        if _exporter is None:
            exporter_options = _exporter_options(sdk, sink, options)
            _exporter = RingExporter(**exporter_options)
            atexit.register(_shutdown_at_exit)
            _announce(exporter_options)
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
    """Install the class hook if ``TUSK_RING_EXPORTER`` asks for it; never raises. An invalid
    value or an SDK version the hook does not know logs one warning and leaves the stock path."""
    raw = os.environ.get(ENV_VAR, "").strip().lower()
    if raw in _FALSY:
        return False
    if raw not in _TRUTHY | _SINKS:
        _sdk_log.warning(
            "%s=%r is not one of 1, true, yes, on, api, file, sidecar (or 0, false, no, off); "
            "the SDK's stock export path stays in use",
            ENV_VAR,
            os.environ.get(ENV_VAR, ""),
        )
        return False
    try:
        from drift.core.tracing.td_span_processor import TdSpanProcessor
    except Exception as exc:  # the SDK is optional: drift_core works without it
        logger.debug("%s set but the Tusk Drift SDK is not importable: %s", ENV_VAR, exc)
        return False
    if not _version_supported():
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
                exporter_options = _exporter_options(None, _originals.get("env_sink"), {})
                _exporter = RingExporter(**exporter_options)
            except Exception as exc:
                _creation_failed = True
                _sdk_log.warning(
                    "%s: could not start the ring exporter (%s); the SDK's stock export path stays in use",
                    ENV_VAR,
                    exc,
                )
                return None
            atexit.register(_shutdown_at_exit)
            _announce(exporter_options)
        return _exporter


def _shutdown_at_exit() -> None:
    exporter = _exporter
    if exporter is not None:
        exporter.shutdown(10.0)


def _attributes_of(span: Any) -> Any:
    """The ended span's attributes as a mapping. A ReadableSpan's `attributes` is a read-only
    proxy over OpenTelemetry's BoundedAttributes, whose Mapping.get goes through Python-level
    __getitem__ and a lock; the span is ended, so its plain dict is read directly when it is
    there (the public mapping otherwise)."""
    inner = getattr(getattr(span, "_attributes", None), "_dict", None)
    if isinstance(inner, dict):
        return inner
    attributes = span.attributes
    return attributes if attributes is not None else {}


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

    # The attribute holding each span schema field RingExporter._push_sdk_span reads, by field name
    # (the SDK's own constants: nothing here hard-codes an attribute name). Checked by name once,
    # here: a missing or unknown field raises.
    attribute_keys = _SdkAttributeKeys(
        name=A.NAME,
        package_name=A.PACKAGE_NAME,
        instrumentation_name=A.INSTRUMENTATION_NAME,
        submodule_name=A.SUBMODULE_NAME,
        is_pre_app_start=A.IS_PRE_APP_START,
        is_root_span=A.IS_ROOT_SPAN,
        input_value_json=A.INPUT_VALUE,
        output_value_json=A.OUTPUT_VALUE,
        input_schema_merges_json=A.INPUT_SCHEMA_MERGES,
        output_schema_merges_json=A.OUTPUT_SCHEMA_MERGES,
        metadata_json=A.METADATA,
        transform_metadata_json=A.TRANSFORM_METADATA,
        stack_trace=A.STACK_TRACE,
    )
    k_package_type = A.PACKAGE_TYPE
    from opentelemetry.trace import SpanKind as OTelSpanKind
    from opentelemetry.trace import StatusCode as OTelStatusCode

    # otel_span_kind_to_drift and otel_status_to_drift_status, by identity (Enum.__hash__ and
    # .value are Python-level calls).
    kind_server, kind_client = OTelSpanKind.SERVER, OTelSpanKind.CLIENT
    kind_internal, kind_producer, kind_consumer = OTelSpanKind.INTERNAL, OTelSpanKind.PRODUCER, OTelSpanKind.CONSUMER
    status_ok, status_error = OTelStatusCode.OK, OTelStatusCode.ERROR
    managers: list[Any] = []

    def drift_kind(kind: Any) -> int:
        if kind is kind_server:
            return 2
        if kind is kind_client:
            return 3
        if kind is kind_internal:
            return 1
        if kind is kind_producer:
            return 4
        if kind is kind_consumer:
            return 5
        if isinstance(kind, int):  # the stock converter accepts a raw int
            return kind if 0 <= kind <= 5 else 0
        return 0

    def on_end(self: Any, span: Any) -> None:
        if self._mode != record_mode or not self._started:
            return stock_on_end(self, span)
        exporter = _exporter if _exporter is not None else _exporter_for(self)
        if exporter is None:
            return stock_on_end(self, span)
        scope = span.instrumentation_scope
        if scope is None or scope.name != TD_INSTRUMENTATION_LIBRARY_NAME:
            return None
        try:
            context = span.context
            # format(trace_id, "032x") of the stock converter; to_bytes().hex() is twice as fast.
            trace_id = context.trace_id.to_bytes(16, "big").hex()
            if not managers:
                managers.append(blocking())
            manager = managers[0]
            # is_trace_blocked takes a lock; skip it while nothing is blocked (reading the
            # set's size without the lock is atomic in CPython).
            blocked = getattr(manager, "_blocked_trace_ids", None)
            if (blocked is None or blocked) and manager.is_trace_blocked(trace_id):
                return None
            kind = drift_kind(span.kind)
            status = span.status
            code = status.status_code
            status_code = 1 if code is status_ok else 2 if code is status_error else 0
            if kind == _DRIFT_KIND_SERVER and status_code == _STATUS_ERROR:
                manager.block_trace(trace_id, reason="server_error")
                return None
            attributes = _attributes_of(span)
            raw_package_type = attributes.get(k_package_type)
            package_type = package_types.get(raw_package_type)
            if package_type is None:
                package_type = package_type_of(raw_package_type)
            parent = span.parent
            outcome = exporter._push_sdk_span(
                attributes,
                attribute_keys,
                trace_id,
                context.span_id.to_bytes(8, "big").hex(),
                parent.span_id.to_bytes(8, "big").hex() if parent is not None and parent.span_id else "",
                span.name,
                package_type,
                kind,
                status_code,
                status.description or "",
                span.start_time or 0,
                span.end_time or 0,
                self._environment,
                MAX_SPAN_SIZE_BYTES,
            )
            if outcome == 2:  # over the SDK's span size limit: the stock path blocks the trace
                manager.block_trace(trace_id, reason="size_limit")
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
