//! `RingExporter`: the Python face of `drift_exporter::Exporter`.
//!
//! `push_span` borrows the span's strings from the Python objects and encodes them into a ring
//! slot: one copy, no parsing, no allocation, no lock, and it never raises for a full ring, an
//! oversize span or a push after shutdown (it returns `False`; the drop is counted by reason).
//! Waiting calls (`force_flush`, `shutdown`, and dropping an exporter that was not shut down)
//! release the GIL, so the exporter's threads, including a Python callback sink, keep running.
//! Fork safety lives in the exporter crate: a child gets its own ring and threads on its first
//! push and never touches the parent's.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use drift_exporter::{
    Exporter, ExporterConfig, ExporterError, HealthSnapshot, HealthValue, SdkFlavor, SinkConfig,
    SpanRecord, Timestamp,
};
use pyo3::exceptions::{PyOSError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};

use crate::args::{bool_arg, int_arg, opt_str_arg, str_arg};
use crate::guard::guarded;
use crate::pystr::str_view;
use crate::sdk_span::{SdkAttributes, push_with};
use drift_exporter::python_hook::{HookAttributes, HookSpan};

/// Budget of `force_flush()` / `shutdown()` called without a timeout.
const DEFAULT_WAIT: Duration = Duration::from_secs(30);
/// Budget of the shutdown run when an exporter is garbage-collected without `shutdown()`.
const DROP_WAIT: Duration = Duration::from_secs(5);

/// Spans into this process's shared-memory ring; an exporter thread (or a `drift-exporter run`
/// sidecar) turns them into `ExportSpansRequest`s off the application thread.
#[pyclass(module = "drift_core", name = "RingExporter", frozen)]
pub(crate) struct RingExporter {
    /// `None` only while being dropped.
    exporter: Option<Exporter>,
    sdk_version: String,
    /// Set once `shutdown` ran: later flushes have nothing to wait for (the exporter's
    /// threads are gone) and return at once.
    shut_down: AtomicBool,
}

impl RingExporter {
    fn exporter(&self) -> PyResult<&Exporter> {
        // Only `Drop` takes it out, and nothing can call a method after that.
        self.exporter
            .as_ref()
            .ok_or_else(|| PyOSError::new_err("RingExporter is being dropped"))
    }
}

#[pymethods]
impl RingExporter {
    /// Options: the exporter's option table (`drift_exporter::OPTIONS`), as keywords; unset ones
    /// come from the `TUSK_*` environment, then the defaults (per option). `sink` may also be a
    /// callable receiving each request's bytes.
    #[new]
    #[pyo3(signature = (*, sink = None, **options))]
    fn new(
        py: Python<'_>,
        sink: Option<&Bound<'_, PyAny>>,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        // In-process only, outside the shared option table (the sidecar has no ring of its own).
        let ring_anonymous =
            match options {
                Some(options) => match options.get_item("ring_anonymous")? {
                    Some(value) => {
                        options.del_item("ring_anonymous")?;
                        if value.is_none() {
                            None
                        } else {
                            Some(value.extract::<bool>().map_err(|_| {
                                PyTypeError::new_err("ring_anonymous must be a bool")
                            })?)
                        }
                    }
                    None => None,
                },
                None => None,
            };
        let mut programmatic = crate::options::overrides(options)?;
        let mut callback = None;
        if let Some(sink) = sink.filter(|sink| !sink.is_none()) {
            if let Ok(name) = sink.cast::<PyString>() {
                programmatic
                    .set_text("sink", &name.to_cow()?)
                    .map_err(|_| {
                        PyValueError::new_err(format!(
                            "unknown sink {:?} (expected \"api\", \"file\", \"sidecar\" or a \
                             callable)",
                            name.to_cow().unwrap_or_default()
                        ))
                    })?;
            } else {
                callback = Some(callback_sink(sink)?);
            }
        }
        let env = drift_exporter::Overrides::from_env().map_err(config_error)?;
        let mut config =
            ExporterConfig::from_layers(&[&env, &programmatic]).map_err(config_error)?;
        if let Some(callback) = callback {
            config.sink = callback;
        }
        programmatic
            .check_applies_to(&config.sink)
            .map_err(config_error)?;
        if let Some(anonymous) = ring_anonymous {
            config.ring.anonymous = anonymous;
        }
        let sdk_version = config.service.sdk_version.clone();
        // Creating the ring maps memory and starts threads: no Python objects involved.
        let exporter = guarded("RingExporter()", || {
            py.detach(|| Exporter::start(config)).map_err(config_error)
        })?;
        Ok(RingExporter {
            exporter: Some(exporter),
            sdk_version,
            shut_down: AtomicBool::new(false),
        })
    }

    /// Writes one span record into the ring. Returns False (never raises) when the ring is full,
    /// the span is too large, or the exporter is shut down; TypeError only for wrong argument
    /// types. JSON fields are the `json.dumps` text the SDK holds (`str`, `bytes` or None).
    #[pyo3(signature = (
        trace_id, span_id, parent_span_id, name, package_name, instrumentation_name,
        submodule_name, package_type, kind, status_code, status_message, is_pre_app_start,
        is_root_span, start_time_unix_nano, end_time_unix_nano, input_value = None,
        output_value = None, input_schema_merges = None, output_schema_merges = None,
        metadata = None, environment = None, transform_metadata = None, stack_trace = None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn push_span(
        &self,
        trace_id: &Bound<'_, PyAny>,
        span_id: &Bound<'_, PyAny>,
        parent_span_id: &Bound<'_, PyAny>,
        name: &Bound<'_, PyAny>,
        package_name: &Bound<'_, PyAny>,
        instrumentation_name: &Bound<'_, PyAny>,
        submodule_name: &Bound<'_, PyAny>,
        package_type: &Bound<'_, PyAny>,
        kind: &Bound<'_, PyAny>,
        status_code: &Bound<'_, PyAny>,
        status_message: &Bound<'_, PyAny>,
        is_pre_app_start: &Bound<'_, PyAny>,
        is_root_span: &Bound<'_, PyAny>,
        start_time_unix_nano: &Bound<'_, PyAny>,
        end_time_unix_nano: &Bound<'_, PyAny>,
        input_value: Option<&Bound<'_, PyAny>>,
        output_value: Option<&Bound<'_, PyAny>>,
        input_schema_merges: Option<&Bound<'_, PyAny>>,
        output_schema_merges: Option<&Bound<'_, PyAny>>,
        metadata: Option<&Bound<'_, PyAny>>,
        environment: Option<&Bound<'_, PyAny>>,
        transform_metadata: Option<&Bound<'_, PyAny>>,
        stack_trace: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        guarded("RingExporter.push_span", || {
            let start: i64 = int_arg(start_time_unix_nano, "start_time_unix_nano")?;
            let end: i64 = int_arg(end_time_unix_nano, "end_time_unix_nano")?;
            let trace_id = str_arg(trace_id, "trace_id")?;
            let span_id = str_arg(span_id, "span_id")?;
            let parent_span_id = str_arg(parent_span_id, "parent_span_id")?;
            let name = str_arg(name, "name")?;
            let package_name = str_arg(package_name, "package_name")?;
            let instrumentation_name = str_arg(instrumentation_name, "instrumentation_name")?;
            let submodule_name = str_arg(submodule_name, "submodule_name")?;
            let status_message = str_arg(status_message, "status_message")?;
            let environment = environment
                .map(|e| opt_str_arg(e, "environment"))
                .transpose()?
                .flatten();
            let stack_trace = stack_trace
                .map(|s| opt_str_arg(s, "stack_trace"))
                .transpose()?
                .flatten();
            let input_value = json_arg(input_value, "input_value")?;
            let output_value = json_arg(output_value, "output_value")?;
            let input_merges = json_arg(input_schema_merges, "input_schema_merges")?;
            let output_merges = json_arg(output_schema_merges, "output_schema_merges")?;
            let metadata = json_arg(metadata, "metadata")?;
            let transform_metadata = json_arg(transform_metadata, "transform_metadata")?;
            let (timestamp, duration) = Timestamp::start_and_duration(start, end);
            let record = SpanRecord {
                sdk: SdkFlavor::Python,
                sdk_version: &self.sdk_version,
                trace_id: &trace_id,
                span_id: &span_id,
                parent_span_id: &parent_span_id,
                name: &name,
                package_name: &package_name,
                instrumentation_name: &instrumentation_name,
                submodule_name: &submodule_name,
                package_type: int_arg(package_type, "package_type")?,
                kind: int_arg(kind, "kind")?,
                environment: environment.as_deref(),
                status_code: int_arg(status_code, "status_code")?,
                status_message: &status_message,
                is_pre_app_start: bool_arg(is_pre_app_start, "is_pre_app_start")?,
                is_root_span: bool_arg(is_root_span, "is_root_span")?,
                timestamp,
                duration,
                // An absent value is `{}` in the SDK (`get_attribute_as_dict(...) or {}`); the
                // record's input field is not optional, so say `{}` explicitly.
                input_value_json: input_value.as_ref().map_or(b"{}", |text| text.as_bytes()),
                output_value_json: output_value.as_ref().map(|text| text.as_bytes()),
                input_schema_merges_json: input_merges.as_ref().map(|text| text.as_bytes()),
                output_schema_merges_json: output_merges.as_ref().map(|text| text.as_bytes()),
                metadata_json: metadata.as_ref().map(|text| text.as_bytes()),
                transform_metadata_json: transform_metadata.as_ref().map(|text| text.as_bytes()),
                stack_trace: stack_trace.as_deref(),
            };
            Ok(self.exporter()?.push_span(&record).is_ok())
        })
    }

    /// The SDK hookup's push (`drift_core/sdk.py`): reads the span's attributes from
    /// `attributes` (the ended span's attribute mapping) under the names in `keys` with the
    /// SDK's rules and pushes the record. Returns 0 (pushed), 1 (dropped and counted) or 2 (not
    /// pushed: input + output text exceed `max_value_bytes`, the SDK's span size limit).
    #[pyo3(signature = (
        attributes, keys, trace_id, span_id, parent_span_id, default_name, package_type, kind,
        status_code, status_message, start_time_unix_nano, end_time_unix_nano, environment,
        max_value_bytes
    ))]
    #[allow(clippy::too_many_arguments)]
    fn _push_sdk_span(
        &self,
        attributes: &Bound<'_, PyAny>,
        keys: &Bound<'_, PyAny>,
        trace_id: &Bound<'_, PyAny>,
        span_id: &Bound<'_, PyAny>,
        parent_span_id: &Bound<'_, PyAny>,
        default_name: &Bound<'_, PyAny>,
        package_type: i32,
        kind: i32,
        status_code: i32,
        status_message: &Bound<'_, PyAny>,
        start_time_unix_nano: i64,
        end_time_unix_nano: i64,
        environment: &Bound<'_, PyAny>,
        max_value_bytes: usize,
    ) -> PyResult<u8> {
        guarded("RingExporter._push_sdk_span", || {
            let exporter = self.exporter()?;
            let trace_id = str_arg(trace_id, "trace_id")?;
            let span_id = str_arg(span_id, "span_id")?;
            let parent_span_id = str_arg(parent_span_id, "parent_span_id")?;
            let default_name = str_arg(default_name, "default_name")?;
            let status_message = str_arg(status_message, "status_message")?;
            let environment = opt_str_arg(environment, "environment")?;
            let span = HookSpan {
                sdk_version: &self.sdk_version,
                trace_id: &trace_id,
                span_id: &span_id,
                parent_span_id: &parent_span_id,
                default_name: &default_name,
                package_type,
                kind,
                status_code,
                status_message: &status_message,
                environment: environment.as_deref(),
                start_unix_nanos: start_time_unix_nano,
                end_unix_nanos: end_time_unix_nano,
                attributes: HookAttributes::default(),
            };
            let mut attributes = SdkAttributes::new(attributes, keys)?;
            push_with(&mut attributes, span, max_value_bytes, |record| {
                exporter.push_span(record).is_ok()
            })
        })
    }

    /// Waits until every span pushed so far is exported or dropped (GIL released). True when
    /// that happened within `timeout` seconds (default 30).
    #[pyo3(signature = (timeout = None))]
    fn force_flush(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let budget = wait_budget(timeout)?;
        let exporter = self.exporter()?;
        guarded("RingExporter.force_flush", || {
            if self.shut_down.load(Ordering::Acquire) {
                return Ok(exporter.health().in_flight == 0);
            }
            Ok(py.detach(|| exporter.force_flush(budget)))
        })
    }

    /// Stops accepting spans, exports what is queued within `timeout` seconds (default 30) and
    /// stops the exporter's threads. Idempotent. True when everything pushed was settled.
    #[pyo3(signature = (timeout = None))]
    fn shutdown(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let budget = wait_budget(timeout)?;
        let exporter = self.exporter()?;
        self.shut_down.store(true, Ordering::Release);
        guarded("RingExporter.shutdown", || {
            Ok(py.detach(|| exporter.shutdown(budget)))
        })
    }

    /// Counters, ring occupancy and circuit state as a dict (see `HealthSnapshot` in the stub).
    fn health_snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let exporter = self.exporter()?;
        guarded("RingExporter.health_snapshot", || {
            health_dict(py, &exporter.health())
        })
    }

    /// Path of this process's ring file (what a `drift-exporter run` sidecar attaches to).
    fn ring_path(&self, py: Python<'_>) -> PyResult<Option<PathBuf>> {
        let exporter = self.exporter()?;
        guarded("RingExporter.ring_path", || {
            Ok(py.detach(|| exporter.ring_path()))
        })
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (exc_type = None, exc = None, traceback = None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: Option<&Bound<'_, PyAny>>,
        exc: Option<&Bound<'_, PyAny>>,
        traceback: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        // The exception (if any) propagates: shutting down never suppresses it.
        let _ = (exc_type, exc, traceback);
        let exporter = self.exporter()?;
        self.shut_down.store(true, Ordering::Release);
        guarded("RingExporter.__exit__", || {
            py.detach(|| exporter.shutdown(DEFAULT_WAIT));
            Ok(())
        })
    }

    fn __repr__(&self) -> PyResult<String> {
        Ok(format!(
            "RingExporter(sink={})",
            sink_name(&self.exporter()?.config().sink)
        ))
    }
}

impl Drop for RingExporter {
    fn drop(&mut self) {
        let mut exporter = self.exporter.take();
        // Dropping an exporter shuts it down, which waits for its threads; a callback sink needs
        // the GIL, so wait with it released. During interpreter teardown, drop as is. A panic
        // must not unwind into CPython's deallocator.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = Python::try_attach(|py| py.detach(|| drop(exporter.take())));
            if let Some(exporter) = exporter.take() {
                exporter.shutdown(DROP_WAIT);
            }
        }));
    }
}

/// A JSON field: the text of a `str`, the content of `bytes`, or absent for `None`.
fn json_arg<'a>(
    object: Option<&'a Bound<'_, PyAny>>,
    name: &str,
) -> PyResult<Option<JsonText<'a>>> {
    let Some(object) = object else {
        return Ok(None);
    };
    if object.is_none() {
        return Ok(None);
    }
    if let Ok(string) = object.cast::<PyString>() {
        return str_view(string).map(|text| Some(JsonText::Str(text)));
    }
    if let Ok(bytes) = object.cast::<PyBytes>() {
        return Ok(Some(JsonText::Bytes(bytes.as_bytes())));
    }
    Err(PyTypeError::new_err(format!(
        "argument '{name}': expected str, bytes or None, got '{}'",
        object
            .get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_default()
    )))
}

enum JsonText<'a> {
    Str(std::borrow::Cow<'a, str>),
    Bytes(&'a [u8]),
}

impl JsonText<'_> {
    fn as_bytes(&self) -> &[u8] {
        match self {
            JsonText::Str(text) => text.as_bytes(),
            JsonText::Bytes(bytes) => bytes,
        }
    }
}

fn wait_budget(timeout: Option<f64>) -> PyResult<Duration> {
    match timeout {
        None => Ok(DEFAULT_WAIT),
        Some(seconds) if seconds.is_finite() && seconds >= 0.0 => {
            Ok(Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX))
        }
        Some(seconds) if seconds == f64::INFINITY => Ok(Duration::from_secs(u64::from(u32::MAX))),
        Some(_) => Err(PyValueError::new_err(
            "timeout must be a non-negative number of seconds",
        )),
    }
}

/// A callable `sink`: receives each request's bytes on the exporter's sender thread.
fn callback_sink(sink: &Bound<'_, PyAny>) -> PyResult<SinkConfig> {
    if !sink.is_callable() {
        return Err(PyTypeError::new_err(
            "sink must be \"api\", \"file\", \"sidecar\" or a callable taking bytes",
        ));
    }
    let callback: Py<PyAny> = sink.clone().unbind();
    Ok(SinkConfig::Callback(Arc::new(move |request: Vec<u8>| {
        // Runs on the exporter's sender thread. During interpreter teardown the request
        // is dropped rather than blocking on a GIL that will never be released.
        let _ = Python::try_attach(|py| {
            let bytes = PyBytes::new(py, &request);
            if let Err(error) = callback.call1(py, (bytes,)) {
                error.write_unraisable(py, Some(callback.bind(py)));
            }
        });
    })))
}

fn sink_name(sink: &SinkConfig) -> &'static str {
    match sink {
        SinkConfig::Api(_) => "'api'",
        SinkConfig::Files(_) => "'file'",
        SinkConfig::Callback(_) => "<callable>",
        SinkConfig::Sidecar => "'sidecar'",
    }
}

fn config_error(error: ExporterError) -> PyErr {
    match error {
        ExporterError::Config { .. } => PyValueError::new_err(error.to_string()),
        other => PyOSError::new_err(other.to_string()),
    }
}

/// The snapshot's named entries (`HealthSnapshot::entries`) as a dict, plus this process's pid.
fn health_dict<'py>(py: Python<'py>, health: &HealthSnapshot) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (name, value) in health.entries() {
        match value {
            HealthValue::Count(count) => dict.set_item(name, count)?,
            HealthValue::Number(number) => dict.set_item(name, number)?,
            HealthValue::Text(text) => dict.set_item(name, text)?,
            HealthValue::Flag(flag) => dict.set_item(name, flag)?,
            HealthValue::Dropped(dropped) => {
                let by_reason = PyDict::new(py);
                for (reason, count) in dropped.entries() {
                    by_reason.set_item(reason, count)?;
                }
                dict.set_item(name, by_reason)?;
            }
        }
    }
    dict.set_item("pid", std::process::id())?;
    Ok(dict)
}

pub(crate) fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<RingExporter>()?;
    // `setattr`: private, kept out of `__all__`.
    module.setattr(
        "_SdkAttributeKeys",
        module.py().get_type::<crate::sdk_span::SdkAttributeKeys>(),
    )
}
