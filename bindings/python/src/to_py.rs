//! The core's values and schemas back to Python objects, in the published shapes.
//!
//! Objects become `dict`s whose keys are inserted in canonical (UTF-8 byte) order, as the
//! published binding returns them; schemas become `{"type": T, "properties": {...}}` dicts with
//! `items`, `encoding`, `decoded_type` and `match_importance` only when set.

use drift_core_rs::{JsonSchema, Value};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString};
use pyo3::{IntoPyObjectExt, intern};

/// A Python object equal to `value` (`None`, `bool`, `int`, `float`, `str`, `list`, `dict`).
pub(crate) fn value_to_py<'py>(py: Python<'py>, value: &Value<'_>) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Int(i) => PyInt::new(py, *i).into_any(),
        Value::UInt(u) => PyInt::new(py, *u).into_any(),
        Value::Float(f) if f.is_finite() => PyFloat::new(py, *f).into_any(),
        Value::Float(_) => py.None().into_bound(py),
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(value_to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(object) => {
            let dict = PyDict::new(py);
            for (key, member) in object.members() {
                dict.set_item(PyString::new(py, key), value_to_py(py, member)?)?;
            }
            dict.into_any()
        }
    })
}

/// The published dict form of a schema.
pub(crate) fn schema_to_py<'py>(
    py: Python<'py>,
    schema: &JsonSchema<'_>,
) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    // Sorted key order, as the published binding builds these dicts.
    if let Some(decoded_type) = schema.decoded_type {
        dict.set_item(intern!(py, "decoded_type"), decoded_type)?;
    }
    if let Some(encoding) = schema.encoding {
        dict.set_item(intern!(py, "encoding"), encoding)?;
    }
    if let Some(items) = &schema.items {
        dict.set_item(intern!(py, "items"), schema_to_py(py, items)?)?;
    }
    if let Some(importance) = schema.match_importance.filter(|m| m.is_finite()) {
        dict.set_item(intern!(py, "match_importance"), importance.into_py_any(py)?)?;
    }
    let properties = PyDict::new(py);
    for (key, child) in &schema.properties {
        properties.set_item(PyString::new(py, key), schema_to_py(py, child)?)?;
    }
    dict.set_item(intern!(py, "properties"), properties)?;
    dict.set_item(intern!(py, "type"), schema.schema_type)?;
    Ok(dict)
}
