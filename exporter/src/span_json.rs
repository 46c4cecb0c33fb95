//! The span as one JSON object, in the shape of the SDKs' filesystem exporters
//! (`tusk-drift-python-sdk` 0.1.29 `FilesystemSpanAdapter._span_to_dict`, which mirrors the Node
//! SDK's `CleanSpanData`): camelCase keys, `status: {code, message}`,
//! `timestamp: {seconds, nanos}`, values and schemas as JSON.

use std::fmt::Write as _;

use drift_core_rs::{CoreError, ProcessedPayload, Value, canonical};

use crate::record::DecodedRecord;

/// Appends `text` as a JSON string, escaped as serde_json and Python's
/// `json.dumps(ensure_ascii=False)` do: `"`, `\\` and control characters (short forms for
/// `\b \f \n \r \t`, `\u00XX` for the rest); everything else as UTF-8. Written in place:
/// this runs for a dozen strings of every span.
fn push_str(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(text.len() + 2);
    out.push('"');
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let escape: &str = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        // Every byte escaped is ASCII, so `start..i` ends on a character boundary.
        out.push_str(&text[start..i]);
        if escape.is_empty() {
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&text[start..]);
    out.push('"');
}

fn push_key(out: &mut String, key: &str) {
    if !out.ends_with('{') {
        out.push(',');
    }
    push_str(out, key);
    out.push(':');
}

pub(crate) fn render(
    record: &DecodedRecord<'_>,
    input: &ProcessedPayload<'_>,
    output: &ProcessedPayload<'_>,
    metadata: Option<&Value<'_>>,
    transform_metadata: Option<&Value<'_>>,
) -> Result<String, CoreError> {
    let mut out = String::with_capacity(
        512 + input.normalized_json.len()
            + output.normalized_json.len()
            + input.decoded_schema_json.len()
            + output.decoded_schema_json.len(),
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
        push_str(&mut out, value);
    }
    for (key, json) in [
        ("inputValue", &input.normalized_json),
        ("outputValue", &output.normalized_json),
        ("inputSchema", &input.decoded_schema_json),
        ("outputSchema", &output.decoded_schema_json),
    ] {
        push_key(&mut out, key);
        out.push_str(json);
    }
    for (key, hash) in [
        ("inputSchemaHash", &input.decoded_schema_hash),
        ("outputSchemaHash", &output.decoded_schema_hash),
        ("inputValueHash", &input.decoded_value_hash),
        ("outputValueHash", &output.decoded_value_hash),
    ] {
        push_key(&mut out, key);
        push_str(&mut out, hash);
    }
    // `write!` into a String cannot fail.
    push_key(&mut out, "kind");
    let _ = write!(out, "{}", record.kind);
    push_key(&mut out, "status");
    let _ = write!(out, "{{\"code\":{},\"message\":", record.status_code);
    push_str(&mut out, record.status_message);
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
            "{{\"seconds\":{},\"nanos\":{}}}",
            time.seconds, time.nanos
        );
    }
    push_key(&mut out, "isRootSpan");
    out.push_str(if record.is_root_span { "true" } else { "false" });
    push_key(&mut out, "packageType");
    let _ = write!(out, "{}", record.package_type);
    if let Some(environment) = record.environment {
        push_key(&mut out, "environment");
        push_str(&mut out, environment);
    }
    if let Some(metadata) = metadata {
        push_key(&mut out, "metadata");
        out.push_str(&canonical::to_string(metadata)?);
    }
    if let Some(transform) = transform_metadata {
        push_key(&mut out, "transformMetadata");
        out.push_str(&canonical::to_string(transform)?);
    }
    if let Some(stack_trace) = record.stack_trace {
        push_key(&mut out, "stackTrace");
        push_str(&mut out, stack_trace);
    }
    out.push('}');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::push_str;

    #[test]
    fn strings_are_escaped_exactly_like_serde_json() {
        let mut every_control: String = (0u8..0x20).map(char::from).collect();
        every_control.push('\u{7f}');
        for text in [
            "",
            "plain",
            "quote \" backslash \\ slash /",
            "é北京 😀",
            "tab\tnl\ncr\r",
            every_control.as_str(),
            "\u{0}at start and end\u{1f}",
        ] {
            let mut out = String::from("x");
            push_str(&mut out, text);
            assert_eq!(out[1..], serde_json::to_string(text).unwrap(), "{text:?}");
        }
    }
}
