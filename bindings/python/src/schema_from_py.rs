//! `input_schema` / `output_schema` arguments (schema dicts) to the core's [`JsonSchema`].
//!
//! The published builder converts the argument with the payload rules (so a `set` anywhere is
//! a `TypeError`) and then reads the JSON value leniently, never raising: anything that is not
//! an object is the default (empty) schema; `type`, `encoding` and `decoded_type` are taken
//! when they are integers that fit i64 and truncated to i32 (`as`, like the published
//! `as_i64() as i32`); `match_importance` when it is a number (`null` for NaN/inf is dropped);
//! `properties` entries whose value is not an object are default schemas; an `items` key with
//! any value (even `null`) sets `items`, the default schema unless the value is an object;
//! other keys are ignored. The parity tests pin each of these cases.
//!
//! The same result is computed here without building a `Value` tree: one checking pass (the
//! published errors, in the same order) and one reading pass that looks up only the six keys a
//! schema has. The SDK passes two schemas per span, so this is the span builder's main cost.

use std::borrow::Cow;

use drift_core_rs::{JsonSchema, Value};
use pyo3::ffi;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use crate::from_py::{Kind, check_convertible, float_value_as, int_value, kind_of};
use crate::pystr::str_view;

/// Builds the schema of `object` (property names are copied: schemas are small).
pub(crate) fn schema_from_py(object: &Bound<'_, PyAny>) -> PyResult<JsonSchema<'static>> {
    check_convertible(object)?;
    // The check bounded the nesting (127 levels), so the reading recursion is bounded too.
    read(object)
}

fn read(object: &Bound<'_, PyAny>) -> PyResult<JsonSchema<'static>> {
    let Ok(dict) = object.cast::<PyDict>() else {
        return Ok(JsonSchema::default());
    };
    let py = dict.py();
    let mut schema = JsonSchema {
        schema_type: lookup(dict, intern!(py, "type"))?
            .and_then(|v| as_i32(&v))
            .unwrap_or_default(),
        encoding: lookup(dict, intern!(py, "encoding"))?.and_then(|v| as_i32(&v)),
        decoded_type: lookup(dict, intern!(py, "decoded_type"))?.and_then(|v| as_i32(&v)),
        match_importance: lookup(dict, intern!(py, "match_importance"))?.and_then(|v| as_f64(&v)),
        ..JsonSchema::default()
    };
    if let Some(items) = lookup(dict, intern!(py, "items"))? {
        schema.items = Some(Box::new(read(&items)?));
    }
    if let Some(properties) = lookup(dict, intern!(py, "properties"))?
        && let Ok(properties) = properties.cast::<PyDict>()
    {
        let mut children = Vec::with_capacity(properties.len());
        for (key, child) in properties.iter() {
            // Keys are `str` without lone surrogates: the check pass raised otherwise.
            let key = str_view(key.cast::<PyString>()?)?.into_owned();
            children.push((key, child));
        }
        // The schema's properties are kept in canonical (UTF-8 byte) order; dict keys are unique.
        children.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        schema.properties = children
            .into_iter()
            .map(|(key, child)| Ok((Cow::Owned(key), read(&child)?)))
            .collect::<PyResult<_>>()?;
    }
    Ok(schema)
}

/// The value of `key`, as the published conversion's object lookup sees it (a dict subclass's
/// own `__getitem__` is not called, as in the conversion).
fn lookup<'py>(
    dict: &Bound<'py, PyDict>,
    key: &Bound<'py, PyString>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    // SAFETY: both pointers are live objects (held by the Bounds) and the GIL is held;
    // PyDict_GetItemWithError returns a borrowed reference or null (with or without an error).
    let found = unsafe { ffi::PyDict_GetItemWithError(dict.as_ptr(), key.as_ptr()) };
    if found.is_null() {
        return match PyErr::take(dict.py()) {
            Some(error) => Err(error),
            None => Ok(None),
        };
    }
    // SAFETY: `found` is a live borrowed reference owned by the dict; this takes a new one.
    Ok(Some(unsafe { Bound::from_borrowed_ptr(dict.py(), found) }))
}

/// serde_json's `as_i64()` followed by `as i32` on the converted value (the published
/// conversion truncates): integers that fit i64 only; bools, floats and bigger ints are `None`.
fn as_i32(value: &Bound<'_, PyAny>) -> Option<i32> {
    match kind_of(value.as_ptr()) {
        Kind::Int => match int_value(value.as_ptr()) {
            Ok(Value::Int(i)) => Some(i as i32),
            _ => None,
        },
        _ => None,
    }
}

/// serde_json's `as_f64()` on the converted value: any number; NaN and infinities were
/// converted to `null`, so they are `None`. The published span builder reads the converted
/// value directly (no text round trip), so a float keeps its bits.
fn as_f64(value: &Bound<'_, PyAny>) -> Option<f64> {
    let converted = match kind_of(value.as_ptr()) {
        Kind::Int => match int_value(value.as_ptr()).ok()? {
            // Beyond i64: the published conversion's own double, not the round-tripped one.
            Value::Float(_) => Value::Float(int_as_double(value)?),
            other => other,
        },
        Kind::Float => float_value_as(value.as_ptr(), false),
        _ => return None,
    };
    converted.as_f64().filter(|f| f.is_finite())
}

/// The double of a Python int (correctly rounded, as `float(int)`); `None` beyond the range.
fn int_as_double(value: &Bound<'_, PyAny>) -> Option<f64> {
    value.extract::<f64>().ok().filter(|f| f.is_finite())
}
