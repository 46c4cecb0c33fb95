//! Reads the `buildSpanProtoBytes` input object (29 fields) straight through N-API.
//!
//! napi-rs's generated conversion looked every field up by C-string name (V8 interns the key
//! again on each call) and allocated a `String` per field: about 10 µs per call before the core
//! started. Here each field is one named lookup ([`crate::js_read`]), every string
//! and byte field is copied once into a reusable arena, and the core gets slices of it.
//!
//! Conversions keep napi-rs's (and so the published addon's) semantics: strings and booleans
//! must have that type, numbers convert as `napi_get_value_int32`/`int64`, optional fields
//! accept `undefined` and `null`. Errors name the field.

use std::ffi::CStr;
use std::ops::Range;

use napi::sys;

use crate::error::{ErrorCode, JsError, JsResult, js_error};
use crate::js_read::{
    ReadFailure, append_buffer, append_utf8, boolean, int32, int64, named_property, type_of,
};

/// The input's fields; the discriminant indexes [`FIELD_NAMES`].
#[derive(Debug, Clone, Copy)]
enum Field {
    TraceId,
    SpanId,
    ParentSpanId,
    Name,
    PackageName,
    InstrumentationName,
    SubmoduleName,
    PackageType,
    Environment,
    Kind,
    InputSchemaJson,
    OutputSchemaJson,
    InputSchemaHash,
    OutputSchemaHash,
    InputValueHash,
    OutputValueHash,
    StatusCode,
    StatusMessage,
    IsPreAppStart,
    IsRootSpan,
    TimestampSeconds,
    TimestampNanos,
    DurationSeconds,
    DurationNanos,
    MetadataJson,
    InputValueJson,
    OutputValueJson,
    InputValueProtoStructBytes,
    OutputValueProtoStructBytes,
}

/// Number of input fields.
const FIELD_COUNT: usize = 29;

/// JavaScript property names, in [`Field`] order.
const FIELD_NAMES: [&CStr; FIELD_COUNT] = [
    c"traceId",
    c"spanId",
    c"parentSpanId",
    c"name",
    c"packageName",
    c"instrumentationName",
    c"submoduleName",
    c"packageType",
    c"environment",
    c"kind",
    c"inputSchemaJson",
    c"outputSchemaJson",
    c"inputSchemaHash",
    c"outputSchemaHash",
    c"inputValueHash",
    c"outputValueHash",
    c"statusCode",
    c"statusMessage",
    c"isPreAppStart",
    c"isRootSpan",
    c"timestampSeconds",
    c"timestampNanos",
    c"durationSeconds",
    c"durationNanos",
    c"metadataJson",
    c"inputValueJson",
    c"outputValueJson",
    c"inputValueProtoStructBytes",
    c"outputValueProtoStructBytes",
];

impl Field {
    fn name(self) -> &'static str {
        FIELD_NAMES[self as usize].to_str().unwrap_or("?")
    }
}

/// Byte ranges, in the arena, of the input's strings and bytes (`None`: absent).
#[derive(Debug)]
pub struct InputRanges {
    trace_id: Range<usize>,
    span_id: Range<usize>,
    parent_span_id: Range<usize>,
    name: Range<usize>,
    package_name: Range<usize>,
    instrumentation_name: Range<usize>,
    submodule_name: Range<usize>,
    environment: Option<Range<usize>>,
    input_schema_json: Range<usize>,
    output_schema_json: Range<usize>,
    input_schema_hash: Range<usize>,
    output_schema_hash: Range<usize>,
    input_value_hash: Range<usize>,
    output_value_hash: Range<usize>,
    status_message: Range<usize>,
    metadata_json: Option<Range<usize>>,
    input_value_json: Option<Range<usize>>,
    output_value_json: Option<Range<usize>>,
    input_value_proto_struct_bytes: Option<Range<usize>>,
    output_value_proto_struct_bytes: Option<Range<usize>>,
    package_type: i32,
    kind: i32,
    status_code: i32,
    is_pre_app_start: bool,
    is_root_span: bool,
    timestamp_seconds: i64,
    timestamp_nanos: i32,
    duration_seconds: i64,
    duration_nanos: i32,
}

/// The input with its strings and bytes borrowed from the arena.
#[derive(Debug)]
pub struct BuildInput<'a> {
    pub trace_id: &'a str,
    pub span_id: &'a str,
    pub parent_span_id: &'a str,
    pub name: &'a str,
    pub package_name: &'a str,
    pub instrumentation_name: &'a str,
    pub submodule_name: &'a str,
    pub package_type: i32,
    pub environment: Option<&'a str>,
    pub kind: i32,
    pub input_schema_json: &'a str,
    pub output_schema_json: &'a str,
    pub input_schema_hash: &'a str,
    pub output_schema_hash: &'a str,
    pub input_value_hash: &'a str,
    pub output_value_hash: &'a str,
    pub status_code: i32,
    pub status_message: &'a str,
    pub is_pre_app_start: bool,
    pub is_root_span: bool,
    pub timestamp_seconds: i64,
    pub timestamp_nanos: i32,
    pub duration_seconds: i64,
    pub duration_nanos: i32,
    pub metadata_json: Option<&'a str>,
    pub input_value_json: Option<&'a str>,
    pub output_value_json: Option<&'a str>,
    pub input_value_proto_struct_bytes: Option<&'a [u8]>,
    pub output_value_proto_struct_bytes: Option<&'a [u8]>,
}

impl InputRanges {
    /// The input read last, borrowing `arena` (the one it was read into).
    pub fn view<'a>(&self, arena: &'a [u8]) -> JsResult<BuildInput<'a>> {
        let bytes = |range: &Range<usize>| arena.get(range.clone()).unwrap_or_default();
        // The arena holds what `napi_get_value_string_utf8` wrote for these ranges: valid UTF-8
        // (lone surrogates become U+FFFD), so the check only guards against a mixed-up arena.
        let text = |range: &Range<usize>| {
            std::str::from_utf8(bytes(range)).map_err(|_| {
                js_error(
                    ErrorCode::InvalidArg,
                    "buildSpanProtoBytes input is not valid text",
                )
            })
        };
        let optional_text = |range: &Option<Range<usize>>| range.as_ref().map(text).transpose();
        Ok(BuildInput {
            trace_id: text(&self.trace_id)?,
            span_id: text(&self.span_id)?,
            parent_span_id: text(&self.parent_span_id)?,
            name: text(&self.name)?,
            package_name: text(&self.package_name)?,
            instrumentation_name: text(&self.instrumentation_name)?,
            submodule_name: text(&self.submodule_name)?,
            package_type: self.package_type,
            environment: optional_text(&self.environment)?,
            kind: self.kind,
            input_schema_json: text(&self.input_schema_json)?,
            output_schema_json: text(&self.output_schema_json)?,
            input_schema_hash: text(&self.input_schema_hash)?,
            output_schema_hash: text(&self.output_schema_hash)?,
            input_value_hash: text(&self.input_value_hash)?,
            output_value_hash: text(&self.output_value_hash)?,
            status_code: self.status_code,
            status_message: text(&self.status_message)?,
            is_pre_app_start: self.is_pre_app_start,
            is_root_span: self.is_root_span,
            timestamp_seconds: self.timestamp_seconds,
            timestamp_nanos: self.timestamp_nanos,
            duration_seconds: self.duration_seconds,
            duration_nanos: self.duration_nanos,
            metadata_json: optional_text(&self.metadata_json)?,
            input_value_json: optional_text(&self.input_value_json)?,
            output_value_json: optional_text(&self.output_value_json)?,
            input_value_proto_struct_bytes: self.input_value_proto_struct_bytes.as_ref().map(bytes),
            output_value_proto_struct_bytes: self
                .output_value_proto_struct_bytes
                .as_ref()
                .map(bytes),
        })
    }
}

/// Reads every field of `object` (checked to be an object) into `arena`, appending.
///
/// # Safety
/// `env` must be the live environment of the current call and `object` a value of it.
pub unsafe fn read_input(
    env: sys::napi_env,
    object: sys::napi_value,
    arena: &mut Vec<u8>,
) -> JsResult<InputRanges> {
    // SAFETY: forwarded contract of this function.
    if unsafe { type_of(env, object) } != Some(sys::ValueType::napi_object) {
        return Err(js_error(
            ErrorCode::InvalidArg,
            "buildSpanProtoBytes expects an input object",
        ));
    }
    let reader = InputReader { env, object };
    // SAFETY: env and object are live for the whole call (contract).
    unsafe {
        Ok(InputRanges {
            trace_id: reader.string(Field::TraceId, arena)?,
            span_id: reader.string(Field::SpanId, arena)?,
            parent_span_id: reader.string(Field::ParentSpanId, arena)?,
            name: reader.string(Field::Name, arena)?,
            package_name: reader.string(Field::PackageName, arena)?,
            instrumentation_name: reader.string(Field::InstrumentationName, arena)?,
            submodule_name: reader.string(Field::SubmoduleName, arena)?,
            package_type: reader.int32(Field::PackageType)?,
            environment: reader.optional_string(Field::Environment, arena)?,
            kind: reader.int32(Field::Kind)?,
            input_schema_json: reader.string(Field::InputSchemaJson, arena)?,
            output_schema_json: reader.string(Field::OutputSchemaJson, arena)?,
            input_schema_hash: reader.string(Field::InputSchemaHash, arena)?,
            output_schema_hash: reader.string(Field::OutputSchemaHash, arena)?,
            input_value_hash: reader.string(Field::InputValueHash, arena)?,
            output_value_hash: reader.string(Field::OutputValueHash, arena)?,
            status_code: reader.int32(Field::StatusCode)?,
            status_message: reader.string(Field::StatusMessage, arena)?,
            is_pre_app_start: reader.boolean(Field::IsPreAppStart)?,
            is_root_span: reader.boolean(Field::IsRootSpan)?,
            timestamp_seconds: reader.int64(Field::TimestampSeconds)?,
            timestamp_nanos: reader.int32(Field::TimestampNanos)?,
            duration_seconds: reader.int64(Field::DurationSeconds)?,
            duration_nanos: reader.int32(Field::DurationNanos)?,
            metadata_json: reader.optional_string(Field::MetadataJson, arena)?,
            input_value_json: reader.optional_string(Field::InputValueJson, arena)?,
            output_value_json: reader.optional_string(Field::OutputValueJson, arena)?,
            input_value_proto_struct_bytes: reader
                .optional_bytes(Field::InputValueProtoStructBytes, arena)?,
            output_value_proto_struct_bytes: reader
                .optional_bytes(Field::OutputValueProtoStructBytes, arena)?,
        })
    }
}

fn field_error(field: Field, failure: ReadFailure, expected: &str) -> JsError {
    let expected = match failure {
        ReadFailure::WrongType => expected,
        ReadFailure::TooLong => "a shorter string",
    };
    js_error(
        ErrorCode::InvalidArg,
        format!(
            "buildSpanProtoBytes input field `{}` must be {expected}",
            field.name()
        ),
    )
}

fn missing(field: Field, expected: &str) -> JsError {
    field_error(field, ReadFailure::WrongType, expected)
}

/// Reads the typed fields of one input object.
struct InputReader {
    env: sys::napi_env,
    object: sys::napi_value,
}

impl InputReader {
    /// # Safety
    /// The reader's env and object must be live (see [`read_input`]).
    unsafe fn property(&self, field: Field) -> JsResult<sys::napi_value> {
        // SAFETY: per this function's contract.
        unsafe { named_property(self.env, self.object, FIELD_NAMES[field as usize]) }.ok_or_else(
            || {
                js_error(
                    ErrorCode::InvalidArg,
                    format!(
                        "could not read buildSpanProtoBytes input field `{}`",
                        field.name()
                    ),
                )
            },
        )
    }

    /// # Safety
    /// As [`InputReader::property`].
    unsafe fn optional_string(
        &self,
        field: Field,
        arena: &mut Vec<u8>,
    ) -> JsResult<Option<Range<usize>>> {
        // SAFETY: per this function's contract.
        let value = unsafe { self.property(field)? };
        // SAFETY: live env and value (contract).
        unsafe { append_utf8(self.env, value, arena) }
            .map_err(|failure| field_error(field, failure, "a string"))
    }

    /// # Safety
    /// As [`InputReader::property`].
    unsafe fn string(&self, field: Field, arena: &mut Vec<u8>) -> JsResult<Range<usize>> {
        // SAFETY: per this function's contract.
        unsafe { self.optional_string(field, arena)? }.ok_or_else(|| missing(field, "a string"))
    }

    /// # Safety
    /// As [`InputReader::property`].
    unsafe fn optional_bytes(
        &self,
        field: Field,
        arena: &mut Vec<u8>,
    ) -> JsResult<Option<Range<usize>>> {
        // SAFETY: per this function's contract.
        let value = unsafe { self.property(field)? };
        // SAFETY: live env and value (contract).
        unsafe { append_buffer(self.env, value, arena) }
            .map_err(|failure| field_error(field, failure, "a Buffer"))
    }

    /// # Safety
    /// As [`InputReader::property`].
    unsafe fn int32(&self, field: Field) -> JsResult<i32> {
        // SAFETY: per this function's contract.
        let value = unsafe { self.property(field)? };
        // SAFETY: live env and value (contract).
        unsafe { int32(self.env, value) }
            .map_err(|failure| field_error(field, failure, "a number"))?
            .ok_or_else(|| missing(field, "a number"))
    }

    /// # Safety
    /// As [`InputReader::property`].
    unsafe fn int64(&self, field: Field) -> JsResult<i64> {
        // SAFETY: per this function's contract.
        let value = unsafe { self.property(field)? };
        // SAFETY: live env and value (contract).
        unsafe { int64(self.env, value) }
            .map_err(|failure| field_error(field, failure, "a number"))?
            .ok_or_else(|| missing(field, "a number"))
    }

    /// # Safety
    /// As [`InputReader::property`].
    unsafe fn boolean(&self, field: Field) -> JsResult<bool> {
        // SAFETY: per this function's contract.
        let value = unsafe { self.property(field)? };
        // SAFETY: live env and value (contract).
        unsafe { boolean(self.env, value) }
            .map_err(|failure| field_error(field, failure, "a boolean"))?
            .ok_or_else(|| missing(field, "a boolean"))
    }
}
