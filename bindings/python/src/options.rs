//! `RingExporter(**options)`: keyword arguments → the exporter's typed overrides, driven by the
//! exporter's one option table (`drift_exporter::OPTIONS`, snake_case names as in Python). The
//! names the binding used before the table (`url`, `service_id`, `directory`,
//! `capacity_bytes`) are accepted as aliases. Wrong types are TypeError, bad values ValueError,
//! both naming the option.

use drift_exporter::{OPTIONS, OptionKind, Overrides};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyInt, PyString, PyTuple};

/// Former keyword → option name.
const ALIASES: [(&str, &str); 4] = [
    ("url", "api_url"),
    ("service_id", "observable_service_id"),
    ("directory", "traces_dir"),
    ("capacity_bytes", "ring_capacity_bytes"),
];

/// The programmatic layer: every keyword the caller set (None counts as unset).
pub(crate) fn overrides(kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Overrides> {
    let mut overrides = Overrides::default();
    let Some(kwargs) = kwargs else {
        return Ok(overrides);
    };
    let mut seen: Vec<&'static str> = Vec::new();
    for (key, value) in kwargs.iter() {
        let key: String = key.extract()?;
        let name = ALIASES
            .iter()
            .find(|(alias, _)| *alias == key)
            .map(|(_, name)| *name)
            .unwrap_or(key.as_str());
        let Some(spec) = OPTIONS.iter().find(|spec| spec.name == name) else {
            return Err(PyTypeError::new_err(format!(
                "RingExporter() got an unexpected keyword argument '{key}'"
            )));
        };
        if seen.contains(&spec.name) {
            return Err(PyTypeError::new_err(format!(
                "RingExporter() got '{key}' and '{}' for the same option",
                spec.name
            )));
        }
        seen.push(spec.name);
        if value.is_none() {
            continue;
        }
        let result = match spec.kind {
            OptionKind::Integer => {
                if value.is_instance_of::<PyBool>() || !value.is_instance_of::<PyInt>() {
                    return Err(type_error(&key, "an int", &value));
                }
                let number: i128 = value.extract()?;
                let number = u64::try_from(number).map_err(|_| {
                    PyValueError::new_err(format!(
                        "invalid configuration {key}: expected a non-negative integer, got {number}"
                    ))
                })?;
                overrides.set_integer(spec.name, number)
            }
            OptionKind::Path => {
                let path: std::path::PathBuf = value
                    .extract()
                    .map_err(|_| type_error(&key, "a str or os.PathLike", &value))?;
                overrides.set_text(spec.name, &path.to_string_lossy())
            }
            OptionKind::Text | OptionKind::Sink => {
                let text = value
                    .cast::<PyString>()
                    .map_err(|_| type_error(&key, "a str", &value))?;
                overrides.set_text(spec.name, &text.to_cow()?)
            }
        };
        result.map_err(|error| PyValueError::new_err(error.to_string()))?;
    }
    Ok(overrides)
}

fn type_error(key: &str, expected: &str, value: &Bound<'_, PyAny>) -> PyErr {
    let got = value
        .get_type()
        .name()
        .map(|name| name.to_string())
        .unwrap_or_default();
    PyTypeError::new_err(format!(
        "invalid configuration {key}: expected {expected}, got '{got}'"
    ))
}

/// `drift_core._exporter_options()`: `(name, environment variable, help)` of every option, for
/// the tests that hold the stub and the other binding to the table.
#[pyfunction]
pub(crate) fn _exporter_options(py: Python<'_>) -> PyResult<Vec<Bound<'_, PyTuple>>> {
    OPTIONS
        .iter()
        .map(|spec| PyTuple::new(py, [spec.name, spec.env, spec.help]))
        .collect()
}
