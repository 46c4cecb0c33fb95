//! The Python SDK flavour's trace file line (`tusk-drift-python-sdk` 0.1.29,
//! `FilesystemSpanAdapter`): `json.dumps(_span_to_dict(span), ensure_ascii=False)` where the
//! values are the `normalized_value` the SDK's Rust core path returns (dicts in canonical key
//! order) and the schemas go through `JsonSchema.to_primitive()`.
//!
//! `json.dumps` writes `", "` and `": "` between items, floats as Python's `repr` (`0.0`,
//! `1e-07`, `1e+16`), and every span carries `"isUsed": true` and `"stackTrace": ""` (the
//! converter's defaults). The value rules (what `0.0`, a falsy value or invalid merges become)
//! are in `crate::process`.

use std::fmt::Write as _;

use drift_core_rs::{JsonSchema, ProcessedPayload, Value};

use super::js::write_string;
use crate::record::DecodedRecord;

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
    let scientific = format!("{:e}", number.abs());
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let k = digits.len() as i32;
    let n = exponent + 1;
    if -4 < n && n <= 16 {
        if n <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-n) as usize));
            out.push_str(&digits);
        } else if k <= n {
            out.push_str(&digits);
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
        Value::Int(number) => {
            let _ = write!(out, "{number}");
        }
        Value::UInt(number) => {
            let _ = write!(out, "{number}");
        }
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

/// `JsonSchema.to_primitive()`: `type`, `properties`, then `items`, `encoding`, `decoded_type`
/// and `match_importance` (a float) when set.
fn write_schema(schema: &JsonSchema<'_>, out: &mut String) {
    let _ = write!(
        out,
        "{{\"type\": {}, \"properties\": {{",
        schema.schema_type
    );
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
        let _ = write!(out, ", \"encoding\": {encoding}");
    }
    if let Some(decoded_type) = schema.decoded_type {
        let _ = write!(out, ", \"decoded_type\": {decoded_type}");
    }
    if let Some(importance) = schema.match_importance.filter(|m| m.is_finite()) {
        out.push_str(", \"match_importance\": ");
        write_float(importance, out);
    }
    out.push('}');
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
    push_key(&mut out, "inputValue");
    write_value(&input.normalized, &mut out);
    push_key(&mut out, "outputValue");
    write_value(&output.normalized, &mut out);
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
    let _ = write!(out, "{}", record.kind);
    push_key(&mut out, "status");
    let _ = write!(out, "{{\"code\": {}, \"message\": ", record.status_code);
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
        let _ = write!(
            out,
            "{{\"seconds\": {}, \"nanos\": {}}}",
            time.seconds, time.nanos
        );
    }
    push_key(&mut out, "isRootSpan");
    out.push_str(if record.is_root_span { "true" } else { "false" });
    // `parse_package_type` always gives a member, so the key is always there.
    push_key(&mut out, "packageType");
    let _ = write!(out, "{}", record.package_type);
    if let Some(environment) = record.environment {
        push_key(&mut out, "environment");
        write_string(environment, &mut out);
    }
    if let Some(metadata) = metadata {
        push_key(&mut out, "metadata");
        write_value(metadata, &mut out);
    }
    if let Some(transform) = transform_metadata {
        push_key(&mut out, "transformMetadata");
        write_value(transform, &mut out);
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
        ] {
            let mut out = String::new();
            write_float(value, &mut out);
            assert_eq!(out, text, "{value:e}");
        }
    }
}
