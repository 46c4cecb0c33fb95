//! The Python SDK flavour (`tusk-drift-python-sdk` 0.1.29): how its stock export path reads a
//! span's attribute texts (`otel_converter.py`: `get_attribute_as_dict(...) or {}`, the merges'
//! enum filtering, then the Rust core's `process_export_payload_pyobject`), and its trace file line
//! (`FilesystemSpanAdapter`,
//! `FilesystemSpanAdapter`): `json.dumps(_span_to_dict(span), ensure_ascii=False)` where the
//! values are the `normalized_value` the SDK's Rust core path returns (dicts in canonical key
//! order) and the schemas go through `JsonSchema.to_primitive()`.
//!
//! `json.dumps` writes `", "` and `": "` between items, floats as Python's `repr` (`0.0`,
//! `1e-07`, `1e+16`), and every span carries `"isUsed": true` and `"stackTrace": ""` (the
//! converter's defaults).

use std::fmt::Write as _;

use drift_core_rs::{
    CoreError, JsonFlavour, JsonSchema, ParseOptions, ProcessedPayload, SchemaMerge, SchemaMerges,
    Value, parse_json_with, process_export_value,
};

use super::dumps::write_canonical_as_dumps;
use super::js::write_string;
use crate::process::{ProcessError, Side};
use crate::record::DecodedRecord;

/// Reads a JSON text as the Python SDK's `json.loads` sees it (`JsonFlavour::Python`).
pub(crate) fn parse(text: &str) -> Result<Value<'_>, CoreError> {
    parse_json_with(
        text,
        ParseOptions {
            flavour: JsonFlavour::Python,
        },
    )
}

/// Python truthiness of the value `json.loads(text)` returns. The SDK replaces a falsy value by
/// `{}` (`get_attribute_as_dict(...) or {}`). NaN and infinities (null after conversion) are
/// truthy in Python, so a null counts as falsy only when the text says `null`.
fn falsy(value: &Value<'_>, text: &str) -> bool {
    match value {
        Value::Null => text.trim_matches(|c: char| c.is_ascii_whitespace()) == "null",
        Value::Bool(flag) => !flag,
        Value::Int(number) => *number == 0,
        Value::UInt(number) => *number == 0,
        Value::Float(number) => *number == 0.0,
        Value::String(text) => text.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(object) => object.is_empty(),
    }
}

/// A number Python's `Enum(value)` lookup would accept for a member value in `0..=max`
/// (`True`/`1.0` hash like `1`).
fn enum_value(value: &Value<'_>, max: i64) -> Option<i32> {
    let number = match value {
        Value::Bool(flag) => i64::from(*flag),
        Value::Int(number) => *number,
        Value::UInt(number) => i64::try_from(*number).ok()?,
        Value::Float(number) if number.fract() == 0.0 && number.abs() < 1e18 => *number as i64,
        _ => return None,
    };
    (0..=max).contains(&number).then_some(number as i32)
}

/// The Python SDK's merge handling: `get_attribute_as_schema_merges` (non-object entries skipped,
/// enum values outside the enums dropped) then `_schema_merges_to_primitive` (empty rules
/// dropped). Invalid merges JSON means "no merges" there (a logged warning).
fn schema_merges(text: &str) -> SchemaMerges {
    let Ok(Value::Object(object)) = parse_json_with(
        text,
        ParseOptions {
            flavour: JsonFlavour::Python,
        },
    ) else {
        return SchemaMerges::new();
    };
    let rules = object.members().iter().filter_map(|(key, rule)| {
        let Value::Object(rule) = rule else {
            return None;
        };
        let merge = SchemaMerge {
            encoding: rule.get("encoding").and_then(|value| enum_value(value, 1)),
            decoded_type: rule
                .get("decoded_type")
                .and_then(|value| enum_value(value, 11)),
            match_importance: rule.get("match_importance").and_then(|value| match value {
                Value::Bool(_) => None,
                other => other.as_f64(),
            }),
        };
        let empty = merge.encoding.is_none()
            && merge.decoded_type.is_none()
            && merge.match_importance.is_none();
        (!empty).then(|| (key.to_string(), merge))
    });
    SchemaMerges::from_rules(rules)
}

pub(crate) fn empty_object<'a>() -> Value<'a> {
    Value::Object(drift_core_rs::Object::from_members(Vec::new()))
}

/// The Python SDK's `get_attribute_as_dict(attributes, key) or {}`: an absent attribute or one
/// `json.loads` rejects (`JSONDecodeError`, which includes an empty text) reads as `None`, and
/// `None` or any falsy value becomes `{}`. Nesting beyond Python's recursion limit raises
/// `RecursionError` there, which is not caught: the span is lost, so it is an error here too.
fn value<'a>(text: Option<&'a str>, field: &'static str) -> Result<Value<'a>, ProcessError> {
    let Some(text) = text else {
        return Ok(empty_object());
    };
    match parse(text) {
        Ok(value) if falsy(&value, text) => Ok(empty_object()),
        Ok(value) => Ok(value),
        Err(CoreError::InvalidJson { .. }) => Ok(empty_object()),
        Err(error) => Err(ProcessError::Json { field, error }),
    }
}

/// One side of a Python record: `get_attribute_as_dict(...) or {}`, the SDK's lenient merges
/// (invalid JSON is no merges), then the core's `process_export_value`.
pub(crate) fn process_side<'a>(
    side: Side,
    text: Option<&'a str>,
    merges_text: Option<&str>,
) -> Result<ProcessedPayload<'a>, ProcessError> {
    let field = side.value_field();
    let value = value(text, field)?;
    let merges = merges_text.map(schema_merges).unwrap_or_default();
    process_export_value(value, &merges).map_err(|error| ProcessError::Json { field, error })
}

/// Metadata: `get_attribute_as_dict`, an object or nothing (absent or invalid JSON is `None`,
/// the SDK logs a warning).
pub(crate) fn optional_object(text: Option<&str>) -> Option<Value<'_>> {
    match parse(text?) {
        Ok(value @ Value::Object(_)) => Some(value),
        _ => None,
    }
}

/// Python's `repr(float)` of a finite double: the shortest digits that read back, in fixed
/// notation with at least one decimal (`1.0`, `0.0001`, `1234567890123456.0`) when the decimal
/// point falls in `-4 < n <= 16`, else `d.ddde±XX` with at least two exponent digits.
pub(crate) fn write_float(number: f64, out: &mut String) {
    if number == 0.0 {
        out.push_str(if number.is_sign_negative() {
            "-0.0"
        } else {
            "0.0"
        });
        return;
    }
    if number < 0.0 {
        out.push('-');
    }
    // An integer below 2^53 (n <= 16): its digits and `.0`.
    if let Some(integer) = super::js::exact_integer(number.abs()) {
        super::js::write_u64(integer, out);
        out.push_str(".0");
        return;
    }
    let (digits, exponent) = super::js::shortest_digits(number.abs());
    let digits = digits.as_str();
    let k = digits.len() as i32;
    let n = exponent + 1;
    if -4 < n && n <= 16 {
        if n <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-n) as usize));
            out.push_str(digits);
        } else if k <= n {
            out.push_str(digits);
            out.extend(std::iter::repeat_n('0', (n - k) as usize));
            out.push_str(".0");
        } else {
            out.push_str(&digits[..n as usize]);
            out.push('.');
            out.push_str(&digits[n as usize..]);
        }
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let e = n - 1;
        let _ = write!(out, "e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    }
}

/// `json.dumps(value, ensure_ascii=False)` of the Python object the core's value converts to
/// (non-finite floats are `None` there).
pub(crate) fn write_value(value: &Value<'_>, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Value::Int(number) => super::js::write_i64(*number, out),
        Value::UInt(number) => super::js::write_u64(*number, out),
        Value::Float(number) if number.is_finite() => write_float(*number, out),
        Value::Float(_) => out.push_str("null"),
        Value::String(text) => write_string(text, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(item, out);
            }
            out.push(']');
        }
        Value::Object(object) => {
            out.push('{');
            for (i, (key, member)) in object.members().iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_string(key, out);
                out.push_str(": ");
                write_value(member, out);
            }
            out.push('}');
        }
    }
}

/// `json.dumps(json.loads(text), ensure_ascii=False)` for a text `json.dumps` wrote (the SDK
/// stores metadata as `json.dumps(metadata)`): the dict keeps the text's key order, and numbers
/// and literals (`1e-07`, `NaN`) are already in `repr` form, so only the layout (`", "`,
/// `": "`) and the strings' escapes (`\u00e9` becomes `é`) change. Strings are decoded with the
/// JSON parser of this crate; `None` if the text is not JSON to it.
pub(crate) fn write_dumps_text(text: &str, out: &mut String) -> Option<()> {
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b' ' | b'\t' | b'\n' | b'\r' => at += 1,
            b',' => {
                out.push_str(", ");
                at += 1;
            }
            b':' => {
                out.push_str(": ");
                at += 1;
            }
            b'"' => {
                // The string token ends at the first unescaped quote.
                let mut end = at + 1;
                while end < bytes.len() && bytes[end] != b'"' {
                    end += if bytes[end] == b'\\' { 2 } else { 1 };
                }
                let token = text.get(at..=end)?;
                match super::js::parse(token).ok()? {
                    super::js::JsValue::String(decoded) => write_string(&decoded, out),
                    _ => return None,
                }
                at = end + 1;
            }
            _ => {
                // Numbers, literals and brackets: up to the next delimiter, as written.
                let start = at;
                at += 1;
                while at < bytes.len()
                    && !matches!(bytes[at], b',' | b':' | b'"' | b' ' | b'\t' | b'\n' | b'\r')
                    && !matches!(bytes[at - 1], b'{' | b'[' | b'}' | b']')
                    && !matches!(bytes[at], b'{' | b'[' | b'}' | b']')
                {
                    at += 1;
                }
                out.push_str(text.get(start..at)?);
            }
        }
    }
    Some(())
}

/// `asdict(_dict_to_transform_metadata(data))`: `{"transformed": data.get("transformed",
/// False), "actions": [...]}` with each dict action rebuilt as `TransformAction(type, field,
/// reason, description)` (defaults `"redact"`, `""`, `""`, `None`); anything else in the data is
/// dropped. `false` when the data is not an object (the SDK's converter fails on it).
fn write_transform_metadata(data: &Value<'_>, out: &mut String) -> bool {
    let Value::Object(data) = data else {
        return false;
    };
    out.push_str("{\"transformed\": ");
    match data.get("transformed") {
        Some(value) => write_value(value, out),
        None => out.push_str("false"),
    }
    out.push_str(", \"actions\": [");
    if let Some(Value::Array(actions)) = data.get("actions") {
        let mut first = true;
        for action in actions {
            let Value::Object(action) = action else {
                continue;
            };
            if !first {
                out.push_str(", ");
            }
            first = false;
            out.push('{');
            for (i, (key, default)) in [
                ("type", "\"redact\""),
                ("field", "\"\""),
                ("reason", "\"\""),
                ("description", "null"),
            ]
            .into_iter()
            .enumerate()
            {
                if i > 0 {
                    out.push_str(", ");
                }
                write_string(key, out);
                out.push_str(": ");
                match action.get(key) {
                    Some(value) => write_value(value, out),
                    None => out.push_str(default),
                }
            }
            out.push('}');
        }
    }
    out.push_str("]}");
    true
}

/// `JsonSchema.to_primitive()`: `type`, `properties`, then `items`, `encoding`, `decoded_type`
/// and `match_importance` (a float) when set.
fn write_schema(schema: &JsonSchema<'_>, out: &mut String) {
    // Integers through `write_int`, not `write!`: `core::fmt` per schema node was a tenth of
    // writing a Python line.
    out.push_str("{\"type\": ");
    write_int(schema.schema_type, out);
    out.push_str(", \"properties\": {");
    for (i, (key, child)) in schema.properties.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_string(key, out);
        out.push_str(": ");
        write_schema(child, out);
    }
    out.push('}');
    if let Some(items) = &schema.items {
        out.push_str(", \"items\": ");
        write_schema(items, out);
    }
    if let Some(encoding) = schema.encoding {
        out.push_str(", \"encoding\": ");
        write_int(encoding, out);
    }
    if let Some(decoded_type) = schema.decoded_type {
        out.push_str(", \"decoded_type\": ");
        write_int(decoded_type, out);
    }
    if let Some(importance) = schema.match_importance.filter(|m| m.is_finite()) {
        out.push_str(", \"match_importance\": ");
        write_float(importance, out);
    }
    out.push('}');
}

/// Appends `value` in decimal (as `{value}` would).
fn write_int(value: i32, out: &mut String) {
    super::js::write_i64(i64::from(value), out);
}

fn push_key(out: &mut String, key: &str) {
    if !out.ends_with('{') {
        out.push_str(", ");
    }
    write_string(key, out);
    out.push_str(": ");
}

/// The span line of `FilesystemSpanAdapter._span_to_dict`, key for key.
pub(crate) fn json_line(
    record: &DecodedRecord<'_>,
    input: &ProcessedPayload<'_>,
    output: &ProcessedPayload<'_>,
    metadata: Option<&Value<'_>>,
    transform_metadata: Option<&Value<'_>>,
) -> String {
    let mut out = String::with_capacity(
        512 + 2 * (input.normalized_json.len() + output.normalized_json.len()),
    );
    out.push('{');
    for (key, value) in [
        ("traceId", record.trace_id),
        ("spanId", record.span_id),
        ("parentSpanId", record.parent_span_id),
        ("name", record.name),
        ("packageName", record.package_name),
        ("instrumentationName", record.instrumentation_name),
        ("submoduleName", record.submodule_name),
    ] {
        push_key(&mut out, key);
        write_string(value, &mut out);
    }
    // The values' canonical texts re-laid out (`super::dumps`), not a second walk of the trees.
    push_key(&mut out, "inputValue");
    write_canonical_as_dumps(&input.normalized_json, &mut out);
    push_key(&mut out, "outputValue");
    write_canonical_as_dumps(&output.normalized_json, &mut out);
    push_key(&mut out, "inputSchema");
    write_schema(&input.decoded_schema, &mut out);
    push_key(&mut out, "outputSchema");
    write_schema(&output.decoded_schema, &mut out);
    for (key, hash) in [
        ("inputSchemaHash", &input.decoded_schema_hash),
        ("outputSchemaHash", &output.decoded_schema_hash),
        ("inputValueHash", &input.decoded_value_hash),
        ("outputValueHash", &output.decoded_value_hash),
    ] {
        push_key(&mut out, key);
        write_string(hash, &mut out);
    }
    push_key(&mut out, "kind");
    write_int(record.kind, &mut out);
    push_key(&mut out, "status");
    out.push_str("{\"code\": ");
    write_int(record.status_code, &mut out);
    out.push_str(", \"message\": ");
    write_string(record.status_message, &mut out);
    out.push('}');
    push_key(&mut out, "isPreAppStart");
    out.push_str(if record.is_pre_app_start {
        "true"
    } else {
        "false"
    });
    for (key, time) in [
        ("timestamp", record.timestamp),
        ("duration", record.duration),
    ] {
        push_key(&mut out, key);
        out.push_str("{\"seconds\": ");
        super::js::write_i64(time.seconds, &mut out);
        out.push_str(", \"nanos\": ");
        write_int(time.nanos, &mut out);
        out.push('}');
    }
    push_key(&mut out, "isRootSpan");
    out.push_str(if record.is_root_span { "true" } else { "false" });
    // `parse_package_type` always gives a member, so the key is always there.
    push_key(&mut out, "packageType");
    write_int(record.package_type, &mut out);
    if let Some(environment) = record.environment {
        push_key(&mut out, "environment");
        write_string(environment, &mut out);
    }
    if let Some(metadata) = metadata {
        push_key(&mut out, "metadata");
        // The attribute's own key order (`get_attribute_as_dict` is `json.loads`).
        let mark = out.len();
        let written = record
            .metadata_json
            .and_then(|text| write_dumps_text(text, &mut out));
        if written.is_none() {
            out.truncate(mark);
            write_value(metadata, &mut out);
        }
    }
    if let Some(transform) = transform_metadata {
        let mark = out.len();
        push_key(&mut out, "transformMetadata");
        if !write_transform_metadata(transform, &mut out) {
            out.truncate(mark);
        }
    }
    // `get_attribute_as_bool(attributes, IS_USED, default=True)`: the hook does not carry the
    // attribute (no instrumentation of 0.1.29 sets it in RECORD mode).
    push_key(&mut out, "isUsed");
    out.push_str("true");
    // `get_attribute_as_str(attributes, STACK_TRACE)`: "" when absent.
    push_key(&mut out, "stackTrace");
    write_string(record.stack_trace.unwrap_or(""), &mut out);
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::write_float;

    #[test]
    fn dumps_text_is_rewritten_as_json_dumps_writes_it() {
        let mut out = String::new();
        super::write_dumps_text(
            r#"{"z": 1, "a": "\u00e9\"x\\", "f": [1e-07, -0.0, NaN, -Infinity], "o": {}, "e": [], "b": true}"#,
            &mut out,
        )
        .unwrap();
        assert_eq!(
            out,
            r#"{"z": 1, "a": "é\"x\\", "f": [1e-07, -0.0, NaN, -Infinity], "o": {}, "e": [], "b": true}"#
        );
        let mut compact = String::new();
        super::write_dumps_text(r#"{"k":[1,{"x":null}]}"#, &mut compact).unwrap();
        assert_eq!(compact, r#"{"k": [1, {"x": null}]}"#);
    }

    #[test]
    fn transform_metadata_is_the_dataclass_form() {
        let data = drift_core_rs::parse_json(
            r#"{"extra": 1, "actions": [{"field": "password", "type": "mask", "x": 2}, 3]}"#,
        )
        .unwrap();
        let mut out = String::new();
        assert!(super::write_transform_metadata(&data, &mut out));
        assert_eq!(
            out,
            r#"{"transformed": false, "actions": [{"type": "mask", "field": "password", "reason": "", "description": null}]}"#
        );
    }

    #[test]
    fn integers_are_written_as_display_does() {
        for value in [0, 1, -1, 9, 10, 6, 7, i32::MAX, i32::MIN] {
            let mut out = String::new();
            super::write_int(value, &mut out);
            assert_eq!(out, value.to_string());
        }
    }

    #[test]
    fn floats_are_written_as_python_repr() {
        for (value, text) in [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (10.5, "10.5"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1e-7, "1e-07"),
            (1234567890123456.0, "1234567890123456.0"),
            (1e16, "1e+16"),
            (123456789012345680000.0, "1.2345678901234568e+20"),
            (1.5e300, "1.5e+300"),
            (0.1 + 0.2, "0.30000000000000004"),
            // Ties between two shortest digit strings go to the even one, as in CPython.
            (f64::from_bits(4820257830011514452), "184682136014194.62"),
            (f64::from_bits(4834713910019302605), "1713777369532723.2"),
        ] {
            let mut out = String::new();
            write_float(value, &mut out);
            assert_eq!(out, text, "{value:e}");
        }
    }
}
