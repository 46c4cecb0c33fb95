//! `RingExporter._push_sdk_span`: the per-span work of the SDK hookup (`drift_core/sdk.py`)
//! that reads the span's attributes, done in Rust. This module only converts: it reads each
//! attribute as the SDK's getters do and hands the texts to the Python flavour's rules
//! (`drift_exporter::python_hook`), which make the span's record.
//!
//! The hook's `on_end` keeps what needs the SDK's objects (mode, instrumentation scope, trace
//! blocking, OpenTelemetry kind and status) and hands over the attribute mapping. Reading a
//! dozen attributes with the SDK's `get_attribute_as_str` / `get_attribute_as_bool` /
//! `get_attribute_as_dict` rules costs about as much in Python as the ring push itself; here it
//! is a few dict lookups. The attribute names come from the hook (the SDK's `TdSpanAttributes`),
//! keyed by span schema field name in a [`SdkAttributeKeys`] built once, so this module knows no
//! SDK constant and the hook and this module agree by name, not by position.

use std::borrow::Cow;

use drift_exporter::SpanRecord;
use drift_exporter::python_hook::{
    ATTRIBUTE_FIELDS, HookAttributes, HookSpan, attribute, flag_from_text,
};
use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyString};

use crate::pystr::str_view;

/// `drift_core._SdkAttributeKeys(**{field: attribute_name})`: which span attribute holds each
/// schema field the SDK hookup reads, checked once by name (every field of `fields` must be
/// given, as a `str`, and nothing else), then passed to every `_push_sdk_span`.
#[pyclass(module = "drift_core", name = "_SdkAttributeKeys", frozen)]
pub(crate) struct SdkAttributeKeys {
    names: [Py<PyString>; attribute::COUNT],
}

#[pymethods]
impl SdkAttributeKeys {
    #[new]
    #[pyo3(signature = (**keys))]
    fn new(keys: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let mut names: [Option<Py<PyString>>; attribute::COUNT] = Default::default();
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
            return Ok(flag_from_text(&text.to_cow()?));
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

/// Reads the attributes the hookup names, lets the Python flavour's rules make the span's
/// record of them (`drift_exporter::python_hook`), and calls `push` with it;
/// `OVER_SIZE_LIMIT` when the value texts exceed `max_value_bytes`.
pub(crate) fn push_with(
    attributes: &mut SdkAttributes<'_>,
    span: HookSpan<'_>,
    max_value_bytes: usize,
    push: impl FnOnce(&SpanRecord<'_>) -> bool,
) -> PyResult<u8> {
    // Each text stays bound (shadowed, not dropped) while the record borrows its UTF-8 view.
    let name = attributes.text(attribute::NAME)?;
    let name = view(&name)?;
    let package_name = attributes.text(attribute::PACKAGE_NAME)?;
    let package_name = view(&package_name)?;
    let instrumentation_name = attributes.text(attribute::INSTRUMENTATION_NAME)?;
    let instrumentation_name = view(&instrumentation_name)?;
    let submodule_name = attributes.text(attribute::SUBMODULE_NAME)?;
    let submodule_name = view(&submodule_name)?;
    let stack_trace = attributes.text(attribute::STACK_TRACE)?;
    let stack_trace = view(&stack_trace)?;
    let input = attributes.json(attribute::INPUT_VALUE)?;
    let input = view(&input)?;
    let output = attributes.json(attribute::OUTPUT_VALUE)?;
    let output = view(&output)?;
    let input_merges = attributes.json(attribute::INPUT_SCHEMA_MERGES)?;
    let input_merges = view(&input_merges)?;
    let output_merges = attributes.json(attribute::OUTPUT_SCHEMA_MERGES)?;
    let output_merges = view(&output_merges)?;
    let metadata = attributes.json(attribute::METADATA)?;
    let metadata = view(&metadata)?;
    let transform = attributes.json(attribute::TRANSFORM_METADATA)?;
    let transform = view(&transform)?;
    let span = HookSpan {
        attributes: HookAttributes {
            name: name.as_deref(),
            package_name: package_name.as_deref(),
            instrumentation_name: instrumentation_name.as_deref(),
            submodule_name: submodule_name.as_deref(),
            is_pre_app_start: attributes.flag(attribute::IS_PRE_APP_START)?,
            is_root_span: attributes.flag(attribute::IS_ROOT_SPAN)?,
            input_value_json: input.as_deref(),
            output_value_json: output.as_deref(),
            input_schema_merges_json: input_merges.as_deref(),
            output_schema_merges_json: output_merges.as_deref(),
            metadata_json: metadata.as_deref(),
            transform_metadata_json: transform.as_deref(),
            stack_trace: stack_trace.as_deref(),
        },
        ..span
    };
    Ok(match span.record(max_value_bytes) {
        Ok(record) if push(&record) => PUSHED,
        Ok(_) => DROPPED,
        Err(_over_size_limit) => OVER_SIZE_LIMIT,
    })
}
