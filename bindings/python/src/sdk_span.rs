//! `RingExporter._push_sdk_span`: the per-span work of the SDK hookup (`drift_core/sdk.py`)
//! that reads the span's attributes, done in Rust.
//!
//! The hook's `on_end` keeps what needs the SDK's objects (mode, instrumentation scope, trace
//! blocking, OpenTelemetry kind and status) and hands over the attribute mapping. Reading a
//! dozen attributes with the SDK's `get_attribute_as_str` / `get_attribute_as_bool` /
//! `get_attribute_as_dict` rules costs about as much in Python as the ring push itself; here it
//! is a few dict lookups. The attribute names come from the hook (the SDK's `TdSpanAttributes`),
//! keyed by span schema field name in a [`SdkAttributeKeys`] built once, so this module knows no
//! SDK constant and the hook and this module agree by name, not by position.

use std::borrow::Cow;

use drift_exporter::record::SPAN_FIELDS;
use drift_exporter::{SdkFlavor, SpanRecord};
use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyString};

use crate::pystr::str_view;

/// The span schema fields (`drift_exporter::record::SPAN_FIELDS` names) `_push_sdk_span` reads
/// from the span's attributes; the hook names the attribute of each in a [`SdkAttributeKeys`].
/// The constants of [`key`] index this list.
const ATTRIBUTE_FIELDS: [&str; key::COUNT] = [
    "name",
    "package_name",
    "instrumentation_name",
    "submodule_name",
    "is_pre_app_start",
    "is_root_span",
    "input_value_json",
    "output_value_json",
    "input_schema_merges_json",
    "output_schema_merges_json",
    "metadata_json",
    "transform_metadata_json",
    "stack_trace",
];

/// Positions in [`ATTRIBUTE_FIELDS`].
pub(crate) mod key {
    pub const NAME: usize = 0;
    pub const PACKAGE_NAME: usize = 1;
    pub const INSTRUMENTATION_NAME: usize = 2;
    pub const SUBMODULE_NAME: usize = 3;
    pub const IS_PRE_APP_START: usize = 4;
    pub const IS_ROOT_SPAN: usize = 5;
    pub const INPUT_VALUE: usize = 6;
    pub const OUTPUT_VALUE: usize = 7;
    pub const INPUT_SCHEMA_MERGES: usize = 8;
    pub const OUTPUT_SCHEMA_MERGES: usize = 9;
    pub const METADATA: usize = 10;
    pub const TRANSFORM_METADATA: usize = 11;
    pub const STACK_TRACE: usize = 12;
    pub const COUNT: usize = 13;
}

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

// Every attribute field is a field of the span schema (checked at compile time).
const _: () = {
    let mut i = 0;
    while i < ATTRIBUTE_FIELDS.len() {
        let mut found = false;
        let mut row = 0;
        while row < SPAN_FIELDS.len() {
            found |= same(ATTRIBUTE_FIELDS[i], SPAN_FIELDS[row].name);
            row += 1;
        }
        assert!(found, "an attribute field is not a span schema field");
        i += 1;
    }
};

/// `drift_core._SdkAttributeKeys(**{field: attribute_name})`: which span attribute holds each
/// schema field the SDK hookup reads, checked once by name (every field of `fields` must be
/// given, as a `str`, and nothing else), then passed to every `_push_sdk_span`.
#[pyclass(module = "drift_core", name = "_SdkAttributeKeys", frozen)]
pub(crate) struct SdkAttributeKeys {
    names: [Py<PyString>; key::COUNT],
}

#[pymethods]
impl SdkAttributeKeys {
    #[new]
    #[pyo3(signature = (**keys))]
    fn new(keys: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let mut names: [Option<Py<PyString>>; key::COUNT] = Default::default();
        if let Some(keys) = keys {
            for (field, attribute) in keys.iter() {
                let field = field.cast::<PyString>()?.to_cow()?.into_owned();
                let Some(index) = ATTRIBUTE_FIELDS.iter().position(|known| *known == field) else {
                    return Err(PyTypeError::new_err(format!(
                        "unknown span field {field:?} (expected one of {})",
                        ATTRIBUTE_FIELDS.join(", ")
                    )));
                };
                let attribute = attribute.cast_into::<PyString>().map_err(|_| {
                    PyTypeError::new_err(format!("the attribute name of {field} must be a str"))
                })?;
                names[index] = Some(attribute.unbind());
            }
        }
        let missing: Vec<&str> = ATTRIBUTE_FIELDS
            .iter()
            .zip(&names)
            .filter(|(_, name)| name.is_none())
            .map(|(field, _)| *field)
            .collect();
        if !missing.is_empty() {
            return Err(PyTypeError::new_err(format!(
                "missing attribute names of the span fields {}",
                missing.join(", ")
            )));
        }
        Ok(SdkAttributeKeys {
            names: names.map(|name| name.expect("checked above")),
        })
    }

    /// The schema fields an SDK hookup names the attributes of, in order.
    #[classattr]
    fn fields() -> Vec<&'static str> {
        ATTRIBUTE_FIELDS.to_vec()
    }

    fn __getitem__<'py>(&self, py: Python<'py>, field: &str) -> PyResult<Bound<'py, PyString>> {
        ATTRIBUTE_FIELDS
            .iter()
            .position(|known| *known == field)
            .map(|index| self.names[index].bind(py).clone())
            .ok_or_else(|| pyo3::exceptions::PyKeyError::new_err(field.to_string()))
    }
}

/// What `_push_sdk_span` did with the span.
pub(crate) const PUSHED: u8 = 0;
/// Refused by the ring (full, too large, shut down): counted by the exporter.
pub(crate) const DROPPED: u8 = 1;
/// Not pushed: input + output text exceed the SDK's span size limit; the hook blocks the trace.
pub(crate) const OVER_SIZE_LIMIT: u8 = 2;

/// The attributes of one ended span, read with the SDK's rules.
pub(crate) struct SdkAttributes<'py> {
    attributes: Bound<'py, PyAny>,
    keys: Bound<'py, SdkAttributeKeys>,
    /// `str()` of non-`str` text attributes, kept alive while the record borrows them.
    converted: Vec<Bound<'py, PyString>>,
}

impl<'py> SdkAttributes<'py> {
    pub(crate) fn new(attributes: &Bound<'py, PyAny>, keys: &Bound<'py, PyAny>) -> PyResult<Self> {
        let keys = keys
            .cast::<SdkAttributeKeys>()
            .map_err(|_| PyTypeError::new_err("keys must be a drift_core._SdkAttributeKeys"))?;
        Ok(SdkAttributes {
            attributes: attributes.clone(),
            keys: keys.clone(),
            converted: Vec::new(),
        })
    }

    /// The attribute named by `keys[index]`, `None` when absent.
    fn get(&self, index: usize) -> PyResult<Option<Bound<'py, PyAny>>> {
        let py = self.attributes.py();
        let name = self.keys.get().names[index].bind(py);
        if let Ok(dict) = self.attributes.cast::<PyDict>() {
            // SAFETY: both objects are live (held by Bounds) and the GIL is held;
            // PyDict_GetItemWithError returns a borrowed reference or null.
            let found = unsafe { ffi::PyDict_GetItemWithError(dict.as_ptr(), name.as_ptr()) };
            if found.is_null() {
                return match PyErr::take(py) {
                    Some(error) => Err(error),
                    None => Ok(None),
                };
            }
            // SAFETY: `found` is a live borrowed reference owned by the dict.
            return Ok(Some(unsafe { Bound::from_borrowed_ptr(py, found) }));
        }
        // Any other mapping (a read-only proxy): its `get`.
        let value = self
            .attributes
            .call_method1(pyo3::intern!(py, "get"), (name,))?;
        Ok(if value.is_none() { None } else { Some(value) })
    }

    /// `get_attribute_as_str`: the `str`, `str(value)` of anything else, `None` when absent.
    pub(crate) fn text(&mut self, index: usize) -> PyResult<Option<Bound<'py, PyString>>> {
        let Some(value) = self.get(index)? else {
            return Ok(None);
        };
        match value.cast_into::<PyString>() {
            Ok(text) => Ok(Some(text)),
            Err(error) => {
                let text = error.into_inner().str()?;
                self.converted.push(text.clone());
                Ok(Some(text))
            }
        }
    }

    /// `get_attribute_as_bool` with default `False`.
    pub(crate) fn flag(&self, index: usize) -> PyResult<bool> {
        let Some(value) = self.get(index)? else {
            return Ok(false);
        };
        if let Ok(flag) = value.cast::<PyBool>() {
            return Ok(flag.is_true());
        }
        if let Ok(text) = value.cast::<PyString>() {
            let text = text.to_cow()?;
            return Ok(matches!(text.to_lowercase().as_str(), "true" | "1" | "yes"));
        }
        value.is_truthy()
    }

    /// A JSON attribute: the `json.dumps` text the SDK stored, `None` for anything else (what
    /// the stock `get_attribute_as_dict` makes of a non-`str`).
    pub(crate) fn json(&self, index: usize) -> PyResult<Option<Bound<'py, PyString>>> {
        Ok(self
            .get(index)?
            .and_then(|value| value.cast_into::<PyString>().ok()))
    }
}

/// The UTF-8 text of an optional attribute string.
pub(crate) fn view<'a>(text: &'a Option<Bound<'_, PyString>>) -> PyResult<Option<Cow<'a, str>>> {
    text.as_ref().map(|text| str_view(text)).transpose()
}

/// The fields `_push_sdk_span` needs besides the attributes.
pub(crate) struct SdkSpanFields<'a> {
    pub trace_id: &'a str,
    pub span_id: &'a str,
    pub parent_span_id: &'a str,
    pub default_name: &'a str,
    pub package_type: i32,
    pub kind: i32,
    pub status_code: i32,
    pub status_message: &'a str,
    pub environment: Option<&'a str>,
    pub sdk_version: &'a str,
}

/// Reads the attributes and calls `push` with the record; `OVER_SIZE_LIMIT` when the input and
/// output text together exceed `max_value_bytes` (the SDK's `MAX_SPAN_SIZE_BYTES`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn push_with(
    attributes: &mut SdkAttributes<'_>,
    fields: &SdkSpanFields<'_>,
    timestamp: drift_exporter::Timestamp,
    duration: drift_exporter::Timestamp,
    max_value_bytes: usize,
    push: impl FnOnce(&SpanRecord<'_>) -> bool,
) -> PyResult<u8> {
    let input = attributes.json(key::INPUT_VALUE)?;
    let output = attributes.json(key::OUTPUT_VALUE)?;
    let input_text = view(&input)?;
    let output_text = view(&output)?;
    // The stock path measures len(json.dumps(value).encode()) of the parsed values; the
    // attribute is that json.dumps text (ASCII unless ensure_ascii was off), so its UTF-8 length
    // is the same estimate.
    let value_bytes =
        input_text.as_ref().map_or(0, |t| t.len()) + output_text.as_ref().map_or(0, |t| t.len());
    if value_bytes > max_value_bytes {
        return Ok(OVER_SIZE_LIMIT);
    }
    let name = attributes.text(key::NAME)?;
    let package_name = attributes.text(key::PACKAGE_NAME)?;
    let instrumentation_name = attributes.text(key::INSTRUMENTATION_NAME)?;
    let submodule_name = attributes.text(key::SUBMODULE_NAME)?;
    let stack_trace = attributes.text(key::STACK_TRACE)?;
    let input_merges = attributes.json(key::INPUT_SCHEMA_MERGES)?;
    let output_merges = attributes.json(key::OUTPUT_SCHEMA_MERGES)?;
    let metadata = attributes.json(key::METADATA)?;
    let transform = attributes.json(key::TRANSFORM_METADATA)?;
    let is_pre_app_start = attributes.flag(key::IS_PRE_APP_START)?;
    let is_root_span = attributes.flag(key::IS_ROOT_SPAN)?;

    let name_text = view(&name)?;
    let package_text = view(&package_name)?;
    let instrumentation_text = view(&instrumentation_name)?;
    let submodule_text = view(&submodule_name)?;
    let stack_text = view(&stack_trace)?;
    let input_merges_text = view(&input_merges)?;
    let output_merges_text = view(&output_merges)?;
    let metadata_text = view(&metadata)?;
    let transform_text = view(&transform)?;
    let record = SpanRecord {
        sdk: SdkFlavor::Python,
        sdk_version: fields.sdk_version,
        trace_id: fields.trace_id,
        span_id: fields.span_id,
        parent_span_id: fields.parent_span_id,
        name: name_text.as_deref().unwrap_or(fields.default_name),
        package_name: package_text.as_deref().unwrap_or(""),
        instrumentation_name: instrumentation_text.as_deref().unwrap_or(""),
        submodule_name: submodule_text.as_deref().unwrap_or(""),
        package_type: fields.package_type,
        kind: fields.kind,
        environment: fields.environment,
        status_code: fields.status_code,
        status_message: fields.status_message,
        is_pre_app_start,
        is_root_span,
        timestamp,
        duration,
        // Absent is `{}` in the SDK (`get_attribute_as_dict(...) or {}`).
        input_value_json: input_text.as_ref().map_or(b"{}", |t| t.as_bytes()),
        output_value_json: output_text.as_ref().map(|t| t.as_bytes()),
        input_schema_merges_json: input_merges_text.as_ref().map(|t| t.as_bytes()),
        output_schema_merges_json: output_merges_text.as_ref().map(|t| t.as_bytes()),
        metadata_json: metadata_text.as_ref().map(|t| t.as_bytes()),
        transform_metadata_json: transform_text.as_ref().map(|t| t.as_bytes()),
        // The stock converter reads it with a "" default; "" is "no stack trace".
        stack_trace: stack_text.as_deref().filter(|t| !t.is_empty()),
    };
    Ok(if push(&record) { PUSHED } else { DROPPED })
}
