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

use std::borrow::Cow;

use drift_core_rs::{JsonSchema, Value};
use pyo3::prelude::*;

use crate::from_py::with_value;

/// Builds the schema of `object` (keys are copied: schemas are small).
pub(crate) fn schema_from_py(object: &Bound<'_, PyAny>) -> PyResult<JsonSchema<'static>> {
    with_value(object, |value| Ok(schema_of(&value)))
}

fn schema_of(value: &Value<'_>) -> JsonSchema<'static> {
    let Value::Object(object) = value else {
        return JsonSchema::default();
    };
    let mut schema = JsonSchema {
        schema_type: object.get("type").and_then(as_i32).unwrap_or_default(),
        encoding: object.get("encoding").and_then(as_i32),
        decoded_type: object.get("decoded_type").and_then(as_i32),
        match_importance: object.get("match_importance").and_then(as_f64),
        ..JsonSchema::default()
    };
    if let Some(items) = object.get("items") {
        schema.items = Some(Box::new(schema_of(items)));
    }
    if let Some(Value::Object(properties)) = object.get("properties") {
        // Members are already sorted and unique, as the core's schema requires.
        schema.properties = properties
            .members()
            .iter()
            .map(|(key, child)| (Cow::Owned(key.to_string()), schema_of(child)))
            .collect();
    }
    schema
}

/// serde_json's `as_i64()` followed by `as i32` (the published conversion truncates).
fn as_i32(value: &Value<'_>) -> Option<i32> {
    match value {
        Value::Int(i) => Some(*i as i32),
        Value::UInt(u) => i64::try_from(*u).ok().map(|i| i as i32),
        _ => None,
    }
}

/// serde_json's `as_f64()`: any number; non-finite values never get here (they are `null`).
fn as_f64(value: &Value<'_>) -> Option<f64> {
    value.as_f64().filter(|f| f.is_finite())
}
