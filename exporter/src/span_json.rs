//! The span as one JSON object, in the shape of the SDKs' filesystem exporters
//! (`tusk-drift-python-sdk` 0.1.29 `FilesystemSpanAdapter._span_to_dict`, which mirrors the Node
//! SDK's `CleanSpanData`): camelCase keys, `status: {code, message}`,
//! `timestamp: {seconds, nanos}`, values and schemas as JSON.

use drift_core_rs::{CoreError, ProcessedPayload, Value, canonical};

use crate::record::DecodedRecord;

fn push_str(out: &mut String, text: &str) {
    // serde_json escapes like Python's `json.dumps(ensure_ascii=False)`: quotes, backslashes
    // and control characters; everything else is written as UTF-8.
    out.push_str(&serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_string()));
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
    push_key(&mut out, "kind");
    out.push_str(&record.kind.to_string());
    push_key(&mut out, "status");
    out.push_str(&format!("{{\"code\":{},\"message\":", record.status_code));
    push_str(&mut out, record.status_message);
    out.push('}');
    push_key(&mut out, "isPreAppStart");
    out.push_str(if record.is_pre_app_start {
        "true"
    } else {
        "false"
    });
    push_key(&mut out, "timestamp");
    out.push_str(&format!(
        "{{\"seconds\":{},\"nanos\":{}}}",
        record.timestamp.seconds, record.timestamp.nanos
    ));
    push_key(&mut out, "duration");
    out.push_str(&format!(
        "{{\"seconds\":{},\"nanos\":{}}}",
        record.duration.seconds, record.duration.nanos
    ));
    push_key(&mut out, "isRootSpan");
    out.push_str(if record.is_root_span { "true" } else { "false" });
    push_key(&mut out, "packageType");
    out.push_str(&record.package_type.to_string());
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
