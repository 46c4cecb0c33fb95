//! Argument extraction with the published binding's error messages.
//!
//! drift-core-python 0.1.9 was built with a pyo3 whose type errors read
//! `argument 'payload_json': 'int' object cannot be cast as 'str'`; current pyo3 words them
//! differently, so `str` and `bool` arguments are checked here to keep the published text.

use std::borrow::Cow;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyString};

use crate::pystr::str_view;

fn type_name(object: &Bound<'_, PyAny>) -> String {
    object
        .get_type()
        .name()
        .map(|name| name.to_string())
        .unwrap_or_else(|_| "object".to_owned())
}

fn cast_error(name: &str, object: &Bound<'_, PyAny>, target: &str) -> PyErr {
    PyTypeError::new_err(format!(
        "argument '{name}': '{}' object cannot be cast as '{target}'",
        type_name(object)
    ))
}

/// A `str` argument's text, borrowed from the string object when possible.
pub(crate) fn str_arg<'a>(object: &'a Bound<'_, PyAny>, name: &str) -> PyResult<Cow<'a, str>> {
    let string = object
        .cast::<PyString>()
        .map_err(|_| cast_error(name, object, "str"))?;
    str_view(string)
}

/// An optional `str` argument (`None` allowed).
pub(crate) fn opt_str_arg<'a>(
    object: &'a Bound<'_, PyAny>,
    name: &str,
) -> PyResult<Option<Cow<'a, str>>> {
    if object.is_none() {
        Ok(None)
    } else {
        str_arg(object, name).map(Some)
    }
}

/// A `bool` argument: exactly `True` or `False`, as the published binding requires.
pub(crate) fn bool_arg(object: &Bound<'_, PyAny>, name: &str) -> PyResult<bool> {
    object
        .cast::<PyBool>()
        .map(|b| b.is_true())
        .map_err(|_| cast_error(name, object, "bool"))
}

/// An optional `bytes` argument (exactly `bytes` or `None`), with the published message.
pub(crate) fn opt_bytes_arg<'a, 'py>(
    object: &'a Bound<'py, PyAny>,
) -> PyResult<Option<&'a Bound<'py, PyBytes>>> {
    if object.is_none() {
        return Ok(None);
    }
    object
        .cast::<PyBytes>()
        .map(Some)
        .map_err(|_| PyTypeError::new_err("expected bytes or None"))
}

/// An integer argument, converted like the published binding's pyo3 did (`__index__`, with
/// `OverflowError` when out of range), the error prefixed with the argument's name.
pub(crate) fn int_arg<'py, T>(object: &Bound<'py, PyAny>, name: &str) -> PyResult<T>
where
    T: for<'a> FromPyObject<'a, 'py>,
{
    object.extract::<T>().map_err(|error| {
        let error: PyErr = error.into();
        let py = object.py();
        if error.is_instance_of::<PyTypeError>(py) {
            PyTypeError::new_err(format!("argument '{name}': {}", error.value(py)))
        } else {
            error
        }
    })
}
