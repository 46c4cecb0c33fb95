//! The published `@use-tusk/drift-core-node` API: same names, argument order and result shapes
//! (see `index.d.ts`). Conversion and error mapping only; the work is `drift_core_rs`'s.

use drift_core_rs::{
    CoreError, JsonSchema, SpanClassification, SpanFlags, SpanHashes, SpanIdentity, SpanInput,
    SpanPayload, SpanPayloads, SpanStatusInput, SpanTiming, Value, parse_json_read_once,
};
use napi::JsValue;
use napi::bindgen_prelude::{Buffer, Env, Unknown};
use napi_derive::napi;

use crate::env_state::env_state;
use crate::error::{ErrorCode, JsError, from_core, from_napi, js_error};
use crate::js_string::{JsBytes, JsCreated, JsText, create_js_string_with};
use crate::js_text_arg::{TextArg, with_text_args};
use crate::span_input::{BuildInput, read_input};

/// Largest `buildSpanProtoBytes` arena kept between calls; one grown past it by a huge span is
/// freed rather than held for the life of the environment.
const RETAINED_ARENA_BYTES: usize = 4 << 20;

/// `normalizeAndHash` result.
#[napi(object, object_from_js = false)]
pub struct NormalizeAndHashResult {
    #[napi(ts_type = "string")]
    pub normalized_json: JsCreated,
    #[napi(ts_type = "string")]
    pub deterministic_hash: JsText,
}

/// `processExportPayload` result.
#[napi(object, object_from_js = false)]
pub struct ProcessExportPayloadResult {
    #[napi(ts_type = "string")]
    pub normalized_json: JsText,
    #[napi(ts_type = "string")]
    pub decoded_json: JsText,
    #[napi(ts_type = "string")]
    pub decoded_value_hash: JsText,
    #[napi(ts_type = "string")]
    pub decoded_schema_json: JsText,
    #[napi(ts_type = "string")]
    pub decoded_schema_hash: JsText,
    #[napi(ts_type = "Buffer")]
    pub protobuf_struct_bytes: JsBytes,
}

/// Runs `body` on the text of the one string argument `payloadJson`.
fn with_payload<R>(
    env: &Env,
    payload_json: Unknown<'_>,
    body: impl FnOnce(&str) -> Result<R, JsError>,
) -> Result<R, JsError> {
    let arg = TextArg {
        value: payload_json.raw(),
        name: "payloadJson",
        optional: false,
    };
    // SAFETY: `env` and `payload_json` belong to the current call; a required argument is
    // always read as `Some`.
    unsafe { with_text_args(env.raw(), [arg], |[json]| body(json.unwrap_or_default())) }
}

/// The canonical text of `json` as a JS string, written into a reused buffer; `then` gets the
/// text too (before the JS string is made from it).
fn canonical_js_string<X>(
    env: &Env,
    json: &str,
    then: impl FnOnce(&str) -> X,
) -> Result<(JsCreated, X), JsError> {
    let mut extra = None;
    // SAFETY: `env` is the live environment of the current call; `normalize_json_into` appends
    // only the canonical text (valid UTF-8) to the empty buffer.
    let created = unsafe {
        create_js_string_with(env.raw(), |out| {
            drift_core_rs::normalize_json_into(json, out).map_err(from_core)?;
            // SAFETY: the canonical text just appended to the empty buffer, valid UTF-8.
            extra = Some(then(std::str::from_utf8_unchecked(out)));
            Ok::<(), JsError>(())
        })
    }?
    .map_err(from_napi)?;
    let extra = extra.ok_or_else(|| js_error(ErrorCode::InvalidArg, "no canonical text"))?;
    Ok((created, extra))
}

/// Canonical JSON text: keys sorted by UTF-8 bytes at every level, compact.
#[napi(ts_args_type = "payloadJson: string", ts_return_type = "string")]
pub fn normalize_json(env: Env, payload_json: Unknown<'_>) -> Result<JsCreated, JsError> {
    crate::error::guarded("normalize_json", || {
        with_payload(&env, payload_json, |json| {
            canonical_js_string(&env, json, |_| ()).map(|(text, ())| text)
        })
    })
}

/// Lowercase hex SHA-256 of the canonical JSON text.
#[napi(ts_args_type = "payloadJson: string", ts_return_type = "string")]
pub fn deterministic_hash(env: Env, payload_json: Unknown<'_>) -> Result<JsText, JsError> {
    crate::error::guarded("deterministic_hash", || {
        with_payload(&env, payload_json, |json| {
            drift_core_rs::deterministic_hash(json)
                .map(JsText)
                .map_err(from_core)
        })
    })
}

/// Canonical text and its hash, from one parse.
#[napi(ts_args_type = "payloadJson: string")]
pub fn normalize_and_hash(
    env: Env,
    payload_json: Unknown<'_>,
) -> Result<NormalizeAndHashResult, JsError> {
    crate::error::guarded("normalize_and_hash", || {
        let (normalized_json, deterministic_hash) = with_payload(&env, payload_json, |json| {
            canonical_js_string(&env, json, |text| {
                drift_core_rs::hash::sha256_hex(text.as_bytes())
            })
        })?;
        Ok(NormalizeAndHashResult {
            normalized_json,
            deterministic_hash: JsText(deterministic_hash),
        })
    })
}

/// `google.protobuf.Struct` bytes of the top-level object (empty when it is not an object).
#[napi(ts_args_type = "payloadJson: string", ts_return_type = "Buffer")]
pub fn object_to_protobuf_struct_bytes(
    env: Env,
    payload_json: Unknown<'_>,
) -> Result<JsBytes, JsError> {
    crate::error::guarded("object_to_protobuf_struct_bytes", || {
        with_payload(&env, payload_json, |json| {
            drift_core_rs::object_to_protobuf_struct_bytes(json)
                .map(JsBytes)
                .map_err(from_core)
        })
    })
}

/// Number of top-level keys (0 when the top level is not an object).
#[napi(ts_args_type = "payloadJson: string")]
pub fn object_to_protobuf_struct_field_count(
    env: Env,
    payload_json: Unknown<'_>,
) -> Result<u32, JsError> {
    crate::error::guarded("object_to_protobuf_struct_field_count", || {
        let count = with_payload(&env, payload_json, |json| {
            drift_core_rs::object_to_protobuf_struct_field_count(json).map_err(from_core)
        })?;
        // A JSON text with more than 4 billion keys cannot reach here (V8 strings are shorter).
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    })
}

/// Normalized and decoded text, their hashes, the decoded schema and the `Struct` bytes.
#[napi(ts_args_type = "payloadJson: string, schemaMergesJson?: string | undefined | null")]
pub fn process_export_payload(
    env: Env,
    payload_json: Unknown<'_>,
    schema_merges_json: Option<Unknown<'_>>,
) -> Result<ProcessExportPayloadResult, JsError> {
    crate::error::guarded("process_export_payload", || {
        let payload = TextArg {
            value: payload_json.raw(),
            name: "payloadJson",
            optional: false,
        };
        let process = |json: Option<&str>, merges: Option<&str>| {
            // `with_text_args` yields `None` only for optional arguments.
            drift_core_rs::process_export_payload(json.unwrap_or_default(), merges)
                .map_err(from_core)
        };
        let result = match schema_merges_json {
            Some(merges) => {
                let merges = TextArg {
                    value: merges.raw(),
                    name: "schemaMergesJson",
                    optional: true,
                };
                // SAFETY: `env` and both values belong to this very call.
                unsafe {
                    with_text_args(env.raw(), [payload, merges], |[json, merges]| {
                        process(json, merges)
                    })
                }
            }
            // SAFETY: as above.
            None => unsafe { with_text_args(env.raw(), [payload], |[json]| process(json, None)) },
        }?;
        Ok(ProcessExportPayloadResult {
            normalized_json: JsText(result.normalized_json),
            decoded_json: JsText(result.decoded_json),
            decoded_value_hash: JsText(result.decoded_value_hash),
            decoded_schema_json: JsText(result.decoded_schema_json),
            decoded_schema_hash: JsText(result.decoded_schema_hash),
            protobuf_struct_bytes: JsBytes(result.protobuf_struct_bytes),
        })
    })
}

/// `buildSpanProtoBytes` input, with the published field names and types. Schemas, metadata and
/// values are JSON texts; prebuilt `Struct` bytes win over the JSON values when given.
// Declared for the generated `index.d.ts`; the call reads the object itself (`span_input`).
#[napi(object, object_to_js = false)]
pub struct BuildSpanProtoBytesInput {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: String,
    pub name: String,
    pub package_name: String,
    pub instrumentation_name: String,
    pub submodule_name: String,
    pub package_type: i32,
    pub environment: Option<String>,
    pub kind: i32,
    pub input_schema_json: String,
    pub output_schema_json: String,
    pub input_schema_hash: String,
    pub output_schema_hash: String,
    pub input_value_hash: String,
    pub output_value_hash: String,
    pub status_code: i32,
    pub status_message: String,
    pub is_pre_app_start: bool,
    pub is_root_span: bool,
    pub timestamp_seconds: i64,
    pub timestamp_nanos: i32,
    pub duration_seconds: i64,
    pub duration_nanos: i32,
    pub metadata_json: Option<String>,
    pub input_value_json: Option<String>,
    pub output_value_json: Option<String>,
    pub input_value_proto_struct_bytes: Option<Buffer>,
    pub output_value_proto_struct_bytes: Option<Buffer>,
}

/// Parses one JSON argument of `buildSpanProtoBytes`. The published addon names the argument
/// in the message (`invalid input_schema_json: expected value at line 1 column 1`), and encodes
/// the value it read with one `serde_json::from_str`: its numbers are read once.
fn parse_field<'a>(field: &str, json: &'a str) -> Result<Value<'a>, JsError> {
    parse_json_read_once(json).map_err(|error| field_json_error(field, error))
}

fn field_json_error(field: &str, error: CoreError) -> JsError {
    match error {
        CoreError::InvalidJson {
            message,
            line,
            column,
        } => js_error(
            ErrorCode::InvalidJson,
            format!("invalid {field}: {message} at line {line} column {column}"),
        ),
        CoreError::RecursionLimit { line, column } => js_error(
            ErrorCode::InvalidJson,
            format!("invalid {field}: recursion limit exceeded at line {line} column {column}"),
        ),
        other => from_core(other),
    }
}

fn parse_optional<'a>(field: &str, json: Option<&'a str>) -> Result<Option<Value<'a>>, JsError> {
    json.map(|text| parse_field(field, text)).transpose()
}

/// The payload of a value: prebuilt `Struct` bytes win, then the parsed JSON, else empty.
fn payload<'a>(bytes: Option<&'a [u8]>, value: Option<&'a Value<'a>>) -> SpanPayload<'a> {
    match (bytes, value) {
        (Some(bytes), _) => SpanPayload::StructBytes(bytes),
        (None, Some(value)) => SpanPayload::Value(value),
        (None, None) => SpanPayload::None,
    }
}

/// `tusk.drift.core.v1.Span` bytes. Unlike the published addon's, deterministic: schema
/// properties are written in key order.
#[napi(
    ts_args_type = "input: BuildSpanProtoBytesInput",
    ts_return_type = "Buffer"
)]
pub fn build_span_proto_bytes(env: Env, input: Unknown<'_>) -> Result<JsBytes, JsError> {
    crate::error::guarded("build_span_proto_bytes", || {
        let state = env_state(&env)?;
        // The environment's arena, unless a getter of this very input re-entered the function.
        let mut fresh = Vec::new();
        let mut reused = state.build_input_arena.try_borrow_mut().ok();
        let arena = match reused.as_deref_mut() {
            Some(arena) => arena,
            None => &mut fresh,
        };
        arena.clear();
        // SAFETY: `env` and `input` belong to this very call.
        let read = unsafe { read_input(env.raw(), input.raw(), arena) };
        let result = read.and_then(|ranges| build_span(&ranges.view(arena)?));
        if arena.capacity() > RETAINED_ARENA_BYTES {
            *arena = Vec::new();
        }
        result
    })
}

fn build_span(input: &BuildInput<'_>) -> Result<JsBytes, JsError> {
    let input_schema_value = parse_field("input_schema_json", input.input_schema_json)?;
    let output_schema_value = parse_field("output_schema_json", input.output_schema_json)?;
    let metadata = parse_optional("metadata_json", input.metadata_json)?;
    let input_value = parse_optional("input_value_json", input.input_value_json)?;
    let output_value = parse_optional("output_value_json", input.output_value_json)?;
    let input_schema = JsonSchema::from_value(&input_schema_value);
    let output_schema = JsonSchema::from_value(&output_schema_value);

    let span = SpanInput {
        identity: SpanIdentity {
            trace_id: input.trace_id,
            span_id: input.span_id,
            parent_span_id: input.parent_span_id,
            name: input.name,
        },
        classification: SpanClassification {
            package_name: input.package_name,
            instrumentation_name: input.instrumentation_name,
            submodule_name: input.submodule_name,
            package_type: input.package_type,
            kind: input.kind,
            environment: input.environment,
        },
        payloads: SpanPayloads {
            input: payload(input.input_value_proto_struct_bytes, input_value.as_ref()),
            output: payload(input.output_value_proto_struct_bytes, output_value.as_ref()),
            input_schema: Some(&input_schema),
            output_schema: Some(&output_schema),
            metadata: payload(None, metadata.as_ref()),
        },
        hashes: SpanHashes {
            input_value_hash: input.input_value_hash,
            output_value_hash: input.output_value_hash,
            input_schema_hash: input.input_schema_hash,
            output_schema_hash: input.output_schema_hash,
        },
        status: SpanStatusInput {
            code: input.status_code,
            message: input.status_message,
        },
        timing: SpanTiming {
            timestamp_seconds: input.timestamp_seconds,
            timestamp_nanos: input.timestamp_nanos,
            duration_seconds: input.duration_seconds,
            duration_nanos: input.duration_nanos,
        },
        flags: SpanFlags {
            is_pre_app_start: input.is_pre_app_start,
            is_root_span: input.is_root_span,
        },
    };
    drift_core_rs::build_span_proto_bytes(&span)
        .map(JsBytes)
        .map_err(from_core)
}

/// `tusk.drift.backend.v1.ExportSpansRequest` bytes: the header fields and each span, checked
/// to be a well-formed `Span` and appended as is.
#[napi(ts_return_type = "Buffer")]
pub fn build_export_spans_request_bytes(
    observable_service_id: String,
    environment: String,
    sdk_version: String,
    sdk_instance_id: String,
    spans: Vec<Buffer>,
) -> Result<JsBytes, JsError> {
    crate::error::guarded("build_export_spans_request_bytes", || {
        drift_core_rs::build_export_spans_request_bytes(
            &observable_service_id,
            &environment,
            &sdk_version,
            &sdk_instance_id,
            &spans,
        )
        .map(JsBytes)
        .map_err(from_core)
    })
}

/// Test-only trigger (hidden from the typings): panics inside a guarded entry point, to prove
/// that a panic reaches JavaScript as an `Error` with `code === 'InternalError'`.
#[doc(hidden)]
#[napi(js_name = "__testPanic", skip_typescript)]
pub fn test_panic() -> Result<(), JsError> {
    crate::error::guarded("__testPanic", || panic!("test panic trigger"))
}
