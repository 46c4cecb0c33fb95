//! The published API of drift-core-python 0.1.9: same names, argument names, return shapes and
//! exception types (see `docs/design.md`, "Python binding").

use std::borrow::Cow;

use drift_core_rs::{
    CoreError, SchemaMerges, SpanClassification, SpanFlags, SpanHashes, SpanIdentity, SpanInput,
    SpanPayload, SpanPayloads, SpanStatusInput, SpanTiming, Value,
};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

use crate::args::{bool_arg, int_arg, opt_bytes_arg, opt_str_arg, str_arg};
use crate::errors::core_error;
use crate::from_py::{check_convertible, check_types, with_span_value, with_value};
use crate::guard::guarded;
use crate::schema_from_py::schema_from_py;
use crate::to_py::{schema_to_py, value_to_py};

/// Text inputs at least this long are processed with the GIL released: below it, releasing and
/// re-acquiring the GIL (a few hundred ns) costs more than other threads could gain.
const DETACH_THRESHOLD_BYTES: usize = 4096;

/// Runs `f` on `text`, with the GIL released when the text is long. `text` borrows from a
/// `str` object the caller's frame keeps referenced, and strings are immutable, so it stays valid
/// while other threads run.
pub(crate) fn on_text<T: Send>(
    py: Python<'_>,
    text: &str,
    f: impl FnOnce(&str) -> Result<T, CoreError> + Send,
) -> PyResult<T> {
    let result = if text.len() >= DETACH_THRESHOLD_BYTES {
        py.detach(|| f(text))
    } else {
        f(text)
    };
    result.map_err(core_error)
}

fn text_arg<'a>(payload_json: &'a Bound<'_, PyAny>) -> PyResult<Cow<'a, str>> {
    str_arg(payload_json, "payload_json")
}

/// Largest canonical-text buffer kept between calls on a thread.
const RETAINED_TEXT_BYTES: usize = 1 << 20;

thread_local! {
    static TEXT_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The canonical text of `text`, written into a buffer reused across calls on the thread, and
/// `then` of it (both with the GIL released for long texts), handed to `f` (which copies the
/// text into a Python object): no allocation of its own per call.
fn with_canonical_text<'py, X: Send, T>(
    py: Python<'py>,
    text: &str,
    then: impl FnOnce(&str) -> X + Send,
    f: impl FnOnce(&str, X) -> PyResult<T>,
) -> PyResult<T> {
    TEXT_BUFFER.with(|cell| {
        let mut fresh = Vec::new();
        let mut reused = cell.try_borrow_mut().ok();
        let buffer = match reused.as_deref_mut() {
            Some(buffer) => buffer,
            None => &mut fresh,
        };
        buffer.clear();
        let result = on_text(py, text, |text| {
            drift_core_rs::normalize_json_into(text, buffer)?;
            // SAFETY: `normalize_json_into` succeeded and appended only the canonical text,
            // valid UTF-8, to the buffer it was given empty.
            Ok(then(unsafe { std::str::from_utf8_unchecked(buffer) }))
        })
        // SAFETY: reached only when the closure above succeeded, so the buffer holds exactly the
        // canonical text (valid UTF-8) and nothing has written to it since.
        .and_then(|extra| f(unsafe { std::str::from_utf8_unchecked(buffer) }, extra));
        if buffer.capacity() > RETAINED_TEXT_BYTES {
            *buffer = Vec::new();
        }
        result
    })
}

/// Canonical JSON text of `payload_json` (sorted keys, compact, published number format).
#[pyfunction]
#[pyo3(signature = (payload_json))]
fn normalize_json<'py>(
    py: Python<'py>,
    payload_json: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyString>> {
    guarded("normalize_json", || {
        with_canonical_text(
            py,
            &text_arg(payload_json)?,
            |_| (),
            |text, ()| Ok(PyString::new(py, text)),
        )
    })
}

/// Lowercase hex SHA-256 of the canonical JSON text of `payload_json`.
#[pyfunction]
#[pyo3(signature = (payload_json))]
fn deterministic_hash(py: Python<'_>, payload_json: &Bound<'_, PyAny>) -> PyResult<String> {
    guarded("deterministic_hash", || {
        on_text(
            py,
            &text_arg(payload_json)?,
            drift_core_rs::deterministic_hash,
        )
    })
}

/// `(canonical_text, hash)` of `payload_json`.
#[pyfunction]
#[pyo3(signature = (payload_json))]
fn normalize_and_hash<'py>(
    py: Python<'py>,
    payload_json: &Bound<'py, PyAny>,
) -> PyResult<(Bound<'py, PyString>, String)> {
    guarded("normalize_and_hash", || {
        with_canonical_text(
            py,
            &text_arg(payload_json)?,
            |text| drift_core_rs::hash::sha256_hex(text.as_bytes()),
            |text, hash| Ok((PyString::new(py, text), hash)),
        )
    })
}

/// `google.protobuf.Struct` bytes of the top-level object of `payload_json` (empty otherwise).
#[pyfunction]
#[pyo3(signature = (payload_json))]
fn object_to_protobuf_struct_bytes<'py>(
    py: Python<'py>,
    payload_json: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    guarded("object_to_protobuf_struct_bytes", || {
        let bytes = on_text(
            py,
            &text_arg(payload_json)?,
            drift_core_rs::object_to_protobuf_struct_bytes,
        )?;
        Ok(PyBytes::new(py, &bytes))
    })
}

/// Number of top-level keys of `payload_json` (0 when it is not an object).
#[pyfunction]
#[pyo3(signature = (payload_json))]
fn object_to_protobuf_struct_field_count(
    py: Python<'_>,
    payload_json: &Bound<'_, PyAny>,
) -> PyResult<usize> {
    guarded("object_to_protobuf_struct_field_count", || {
        on_text(
            py,
            &text_arg(payload_json)?,
            drift_core_rs::object_to_protobuf_struct_field_count,
        )
    })
}

/// `(normalized_json, decoded_json, decoded_value_hash, decoded_schema_json,
/// decoded_schema_hash, protobuf_struct_bytes)` of a payload given as JSON text.
#[pyfunction]
#[pyo3(signature = (payload_json, schema_merges_json))]
fn process_export_payload<'py>(
    py: Python<'py>,
    payload_json: &Bound<'py, PyAny>,
    schema_merges_json: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyTuple>> {
    guarded("process_export_payload", || {
        let payload = str_arg(payload_json, "payload_json")?;
        let merges = opt_str_arg(schema_merges_json, "schema_merges_json")?;
        let merges = merges.as_deref();
        let out = on_text(py, &payload, |text| {
            drift_core_rs::process_export_payload(text, merges)
        })?;
        PyTuple::new(
            py,
            [
                out.normalized_json.into_pyobject(py)?.into_any(),
                out.decoded_json.into_pyobject(py)?.into_any(),
                out.decoded_value_hash.into_pyobject(py)?.into_any(),
                out.decoded_schema_json.into_pyobject(py)?.into_any(),
                out.decoded_schema_hash.into_pyobject(py)?.into_any(),
                PyBytes::new(py, &out.protobuf_struct_bytes).into_any(),
            ],
        )
    })
}

/// `(normalized_value, decoded_value_hash, decoded_schema, decoded_schema_hash,
/// protobuf_struct_bytes)` of a payload given as Python objects.
#[pyfunction]
#[pyo3(signature = (payload, schema_merges))]
fn process_export_payload_pyobject<'py>(
    py: Python<'py>,
    payload: &Bound<'py, PyAny>,
    schema_merges: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyTuple>> {
    guarded("process_export_payload_pyobject", || {
        // The published binding converts the payload, then the merges (to JSON text), then
        // meets the payload's nesting (its text round trip), then reads the merges text: the
        // first error in that order is the one raised.
        let merges_text = match merges_text_from_py(schema_merges) {
            Ok(text) => text,
            Err(merges_error) => {
                check_types(payload)?;
                return Err(merges_error);
            }
        };
        with_value(payload, |value| {
            let merges = match merges_text.as_deref() {
                Some(text) => drift_core_rs::parse_schema_merges(text).map_err(core_error)?,
                None => SchemaMerges::new(),
            };
            let out = drift_core_rs::process_export_value(value, &merges).map_err(core_error)?;
            PyTuple::new(
                py,
                [
                    value_to_py(py, &out.normalized)?,
                    out.decoded_value_hash.into_pyobject(py)?.into_any(),
                    schema_to_py(py, &out.decoded_schema)?.into_any(),
                    out.decoded_schema_hash.into_pyobject(py)?.into_any(),
                    PyBytes::new(py, &out.protobuf_struct_bytes).into_any(),
                ],
            )
        })
    })
}

/// Schema merges given as Python objects, as the JSON text the published binding reads them
/// from (`None` for `None`). It serializes them and deserializes that text, so its errors carry
/// positions in the canonical text; doing the same keeps every message identical (merges are a
/// few dozen bytes).
fn merges_text_from_py(merges: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
    if merges.is_none() {
        return Ok(None);
    }
    with_value(merges, |value| {
        drift_core_rs::canonical::to_string(&value)
            .map(Some)
            .map_err(core_error)
    })
}

/// `tusk.drift.core.v1.Span` bytes from the 29 published arguments (schemas and values as
/// Python objects; prebuilt `Struct` bytes win over values).
#[pyfunction]
#[pyo3(signature = (
    trace_id, span_id, parent_span_id, name, package_name, instrumentation_name, submodule_name,
    package_type, environment, kind, input_schema, output_schema, input_schema_hash,
    output_schema_hash, input_value_hash, output_value_hash, status_code, status_message,
    is_pre_app_start, is_root_span, timestamp_seconds, timestamp_nanos, duration_seconds,
    duration_nanos, metadata, input_value, output_value, input_value_proto_struct_bytes,
    output_value_proto_struct_bytes
))]
#[allow(clippy::too_many_arguments)]
fn build_span_proto_bytes_pyobject<'py>(
    py: Python<'py>,
    trace_id: &Bound<'py, PyAny>,
    span_id: &Bound<'py, PyAny>,
    parent_span_id: &Bound<'py, PyAny>,
    name: &Bound<'py, PyAny>,
    package_name: &Bound<'py, PyAny>,
    instrumentation_name: &Bound<'py, PyAny>,
    submodule_name: &Bound<'py, PyAny>,
    package_type: &Bound<'py, PyAny>,
    environment: &Bound<'py, PyAny>,
    kind: &Bound<'py, PyAny>,
    input_schema: &Bound<'py, PyAny>,
    output_schema: &Bound<'py, PyAny>,
    input_schema_hash: &Bound<'py, PyAny>,
    output_schema_hash: &Bound<'py, PyAny>,
    input_value_hash: &Bound<'py, PyAny>,
    output_value_hash: &Bound<'py, PyAny>,
    status_code: &Bound<'py, PyAny>,
    status_message: &Bound<'py, PyAny>,
    is_pre_app_start: &Bound<'py, PyAny>,
    is_root_span: &Bound<'py, PyAny>,
    timestamp_seconds: &Bound<'py, PyAny>,
    timestamp_nanos: &Bound<'py, PyAny>,
    duration_seconds: &Bound<'py, PyAny>,
    duration_nanos: &Bound<'py, PyAny>,
    metadata: &Bound<'py, PyAny>,
    input_value: &Bound<'py, PyAny>,
    output_value: &Bound<'py, PyAny>,
    input_value_proto_struct_bytes: &Bound<'py, PyAny>,
    output_value_proto_struct_bytes: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    guarded("build_span_proto_bytes_pyobject", || {
        // Typed arguments first, in order, as the published binding's argument parsing did.
        let identity_text = [
            str_arg(trace_id, "trace_id")?,
            str_arg(span_id, "span_id")?,
            str_arg(parent_span_id, "parent_span_id")?,
            str_arg(name, "name")?,
            str_arg(package_name, "package_name")?,
            str_arg(instrumentation_name, "instrumentation_name")?,
            str_arg(submodule_name, "submodule_name")?,
        ];
        let package_type: i32 = int_arg(package_type, "package_type")?;
        let environment = opt_str_arg(environment, "environment")?;
        let kind: i32 = int_arg(kind, "kind")?;
        let hashes_text = [
            str_arg(input_schema_hash, "input_schema_hash")?,
            str_arg(output_schema_hash, "output_schema_hash")?,
            str_arg(input_value_hash, "input_value_hash")?,
            str_arg(output_value_hash, "output_value_hash")?,
        ];
        let status_code: i32 = int_arg(status_code, "status_code")?;
        let status_message = str_arg(status_message, "status_message")?;
        let flags = SpanFlags {
            is_pre_app_start: bool_arg(is_pre_app_start, "is_pre_app_start")?,
            is_root_span: bool_arg(is_root_span, "is_root_span")?,
        };
        let timing = SpanTiming {
            timestamp_seconds: int_arg(timestamp_seconds, "timestamp_seconds")?,
            timestamp_nanos: int_arg(timestamp_nanos, "timestamp_nanos")?,
            duration_seconds: int_arg(duration_seconds, "duration_seconds")?,
            duration_nanos: int_arg(duration_nanos, "duration_nanos")?,
        };
        let input_schema = schema_from_py(input_schema)?;
        let output_schema = schema_from_py(output_schema)?;
        // Values are converted (and so type-checked) even when Struct bytes replace them, as
        // the published binding does; then the bytes arguments are checked.
        with_span_value(metadata, |metadata| {
            let input_given = !input_value_proto_struct_bytes.is_none();
            let output_given = !output_value_proto_struct_bytes.is_none();
            with_value_unless(input_value, input_given, |input| {
                with_value_unless(output_value, output_given, |output| {
                    let input_bytes = opt_bytes_arg(input_value_proto_struct_bytes)?;
                    let output_bytes = opt_bytes_arg(output_value_proto_struct_bytes)?;
                    let span = SpanInput {
                        identity: SpanIdentity {
                            trace_id: &identity_text[0],
                            span_id: &identity_text[1],
                            parent_span_id: &identity_text[2],
                            name: &identity_text[3],
                        },
                        classification: SpanClassification {
                            package_name: &identity_text[4],
                            instrumentation_name: &identity_text[5],
                            submodule_name: &identity_text[6],
                            package_type,
                            kind,
                            environment: environment.as_deref(),
                        },
                        payloads: SpanPayloads {
                            input: span_payload(input_bytes, &input),
                            output: span_payload(output_bytes, &output),
                            input_schema: Some(&input_schema),
                            output_schema: Some(&output_schema),
                            metadata: SpanPayload::Value(&metadata),
                        },
                        hashes: SpanHashes {
                            input_schema_hash: &hashes_text[0],
                            output_schema_hash: &hashes_text[1],
                            input_value_hash: &hashes_text[2],
                            output_value_hash: &hashes_text[3],
                        },
                        status: SpanStatusInput {
                            code: status_code,
                            message: &status_message,
                        },
                        timing,
                        flags,
                    };
                    let bytes = drift_core_rs::build_span_proto_bytes(&span).map_err(core_error)?;
                    Ok(PyBytes::new(py, &bytes))
                })
            })
        })
    })
}

/// Prebuilt `Struct` bytes win over the value, as in the published builder.
fn span_payload<'a>(
    bytes: Option<&'a Bound<'_, PyBytes>>,
    value: &'a Option<Value<'a>>,
) -> SpanPayload<'a> {
    match (bytes, value) {
        (Some(bytes), _) => SpanPayload::StructBytes(bytes.as_bytes()),
        (None, Some(value)) => SpanPayload::Value(value),
        (None, None) => SpanPayload::None,
    }
}

/// The value of `object` for `f`, or, when `replaced` (prebuilt Struct bytes will be used
/// instead), only the published conversion's checks: the same errors, nothing built.
fn with_value_unless<R>(
    object: &Bound<'_, PyAny>,
    replaced: bool,
    f: impl for<'v> FnOnce(Option<Value<'v>>) -> PyResult<R>,
) -> PyResult<R> {
    if replaced {
        check_convertible(object)?;
        f(None)
    } else {
        with_span_value(object, |value| f(Some(value)))
    }
}

/// `tusk.drift.backend.v1.ExportSpansRequest` bytes: the header fields plus each span's bytes,
/// validated and embedded as given.
#[pyfunction]
#[pyo3(signature = (observable_service_id, environment, sdk_version, sdk_instance_id, spans))]
fn build_export_spans_request_bytes_pyobject<'py>(
    py: Python<'py>,
    observable_service_id: &Bound<'py, PyAny>,
    environment: &Bound<'py, PyAny>,
    sdk_version: &Bound<'py, PyAny>,
    sdk_instance_id: &Bound<'py, PyAny>,
    spans: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    guarded("build_export_spans_request_bytes_pyobject", || {
        let service = str_arg(observable_service_id, "observable_service_id")?;
        let environment = str_arg(environment, "environment")?;
        let sdk_version = str_arg(sdk_version, "sdk_version")?;
        let instance = str_arg(sdk_instance_id, "sdk_instance_id")?;
        let list = spans
            .cast::<PyList>()
            .map_err(|_| PyTypeError::new_err("spans must be a list of bytes"))?;
        // Strong references keep every span's buffer alive (bytes are immutable) while the
        // request is assembled with the GIL released.
        let items: Vec<Bound<'py, PyBytes>> = list
            .iter()
            .map(|item| {
                item.cast_into::<PyBytes>()
                    .map_err(|_| PyTypeError::new_err("each span must be bytes"))
            })
            .collect::<PyResult<_>>()?;
        let views: Vec<&[u8]> = items.iter().map(|bytes| bytes.as_bytes()).collect();
        let total: usize = views.iter().map(|view| view.len()).sum();
        let build = || {
            drift_core_rs::build_export_spans_request_bytes(
                &service,
                &environment,
                &sdk_version,
                &instance,
                &views,
            )
        };
        let request = if total >= DETACH_THRESHOLD_BYTES {
            py.detach(build)
        } else {
            build()
        };
        Ok(PyBytes::new(py, &request.map_err(core_error)?))
    })
}

pub(crate) fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(normalize_json, module)?)?;
    module.add_function(wrap_pyfunction!(deterministic_hash, module)?)?;
    module.add_function(wrap_pyfunction!(normalize_and_hash, module)?)?;
    module.add_function(wrap_pyfunction!(object_to_protobuf_struct_bytes, module)?)?;
    module.add_function(wrap_pyfunction!(
        object_to_protobuf_struct_field_count,
        module
    )?)?;
    module.add_function(wrap_pyfunction!(process_export_payload, module)?)?;
    module.add_function(wrap_pyfunction!(process_export_payload_pyobject, module)?)?;
    module.add_function(wrap_pyfunction!(build_span_proto_bytes_pyobject, module)?)?;
    module.add_function(wrap_pyfunction!(
        build_export_spans_request_bytes_pyobject,
        module
    )?)?;
    Ok(())
}
