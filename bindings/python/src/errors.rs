//! The one place where Rust errors become Python exceptions.
//!
//! The published drift-core-python raises `ValueError` for bad JSON, bad enums and bad protobuf
//! bytes (messages starting `invalid json: `, `invalid <field> enum: `, `serialization error: `)
//! and `TypeError` for Python values it cannot convert. Those types and prefixes are kept, so an
//! SDK that catches or logs them sees no difference.

use drift_core_rs::{CoreError, Value};
use pyo3::PyErr;
use pyo3::exceptions::{PyTypeError, PyValueError};

/// Nesting the published binding accepts: 127 levels of arrays/objects (`from_py` stops there,
/// the messages here name the position).
pub(crate) const MAX_DEPTH: usize = 127;

/// `CoreError` to the exception type the published binding raises for it.
pub(crate) fn core_error(error: CoreError) -> PyErr {
    match error {
        CoreError::UnsupportedValue => PyTypeError::new_err(error.to_string()),
        other => PyValueError::new_err(other.to_string()),
    }
}

/// A Python value of a type the published rules do not convert.
pub(crate) fn unsupported_value_error() -> PyErr {
    core_error(CoreError::UnsupportedValue)
}

/// A dict key that is not a `str`, in the published wording (pyo3's old downcast message).
pub(crate) fn key_type_error(type_name: &str) -> PyErr {
    PyTypeError::new_err(format!("'{type_name}' object cannot be cast as 'str'"))
}

/// A Python value nested 128 levels deep. The published binding serializes the value to its
/// canonical text and re-parses it, so the error names the column of the first bracket that
/// opens level 128 in that text. `value` holds every container up to that level (deeper ones
/// are empty placeholders), which is all the text before that bracket depends on.
pub(crate) fn too_deep_error(value: &Value<'_>) -> PyErr {
    let text = drift_core_rs::canonical::to_string(value).unwrap_or_default();
    core_error(CoreError::ValueTooDeep {
        column: first_too_deep_column(text.as_bytes()),
    })
}

/// 1-based byte column of the first `[`/`{` (outside strings) that opens level `MAX_DEPTH + 1`.
fn first_too_deep_column(text: &[u8]) -> usize {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (index, &byte) in text.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return index + 1;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    text.len()
}

/// A Rust panic caught at the FFI boundary: never unwind into CPython.
pub(crate) fn internal_error(context: &str) -> PyErr {
    PyValueError::new_err(format!("serialization error: internal error in {context}"))
}
