//! Reads the span object given to `RingExporter.pushSpan` into a [`SpanRecord`].
//!
//! This is the hot path of the ring exporter on the event loop, so it talks to N-API directly
//! (see [`crate::js_read`]: one named lookup per field, one-call string copies). Every
//! string lands in one reusable arena owned by the exporter (no allocation per span once the
//! arena has grown to the largest span seen); the record then borrows from the arena.

use std::ffi::CStr;
use std::ops::Range;

use drift_exporter::{SdkFlavor, SpanRecord, Timestamp};
use napi::sys;

use crate::error::{ErrorCode, JsError, JsResult, js_error};
use crate::js_read::{ReadFailure, append_utf8, is_nullish, named_property, type_of};

/// The span fields `pushSpan` reads, in the argument order of `pushSpanFields`; the
/// discriminant indexes [`FIELD_NAMES`] and the environment's key array.
#[derive(Debug, Clone, Copy)]
pub enum Field {
    TraceId,
    SpanId,
    ParentSpanId,
    Name,
    PackageName,
    InstrumentationName,
    SubmoduleName,
    PackageType,
    Kind,
    Environment,
    StatusCode,
    StatusMessage,
    IsPreAppStart,
    IsRootSpan,
    TimestampSeconds,
    TimestampNanos,
    DurationSeconds,
    DurationNanos,
    InputValueJson,
    OutputValueJson,
    InputSchemaMergesJson,
    OutputSchemaMergesJson,
    MetadataJson,
    TransformMetadataJson,
    StackTrace,
}

/// Number of span fields.
pub const FIELD_COUNT: usize = 25;

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
    c"kind",
    c"environment",
    c"statusCode",
    c"statusMessage",
    c"isPreAppStart",
    c"isRootSpan",
    c"timestampSeconds",
    c"timestampNanos",
    c"durationSeconds",
    c"durationNanos",
    c"inputValueJson",
    c"outputValueJson",
    c"inputSchemaMergesJson",
    c"outputSchemaMergesJson",
    c"metadataJson",
    c"transformMetadataJson",
    c"stackTrace",
];

impl Field {
    fn name(self) -> &'static str {
        FIELD_NAMES[self as usize].to_str().unwrap_or("?")
    }
}

/// Byte ranges of the span's strings inside the arena (`None`: absent).
#[derive(Debug, Default)]
struct StringFields {
    trace_id: Range<usize>,
    span_id: Range<usize>,
    parent_span_id: Range<usize>,
    name: Range<usize>,
    package_name: Range<usize>,
    instrumentation_name: Range<usize>,
    submodule_name: Range<usize>,
    environment: Option<Range<usize>>,
    status_message: Range<usize>,
    input_value_json: Range<usize>,
    output_value_json: Option<Range<usize>>,
    input_schema_merges_json: Option<Range<usize>>,
    output_schema_merges_json: Option<Range<usize>>,
    metadata_json: Option<Range<usize>>,
    transform_metadata_json: Option<Range<usize>>,
    stack_trace: Option<Range<usize>>,
}

/// The non-string fields.
#[derive(Debug, Default, Clone, Copy)]
struct ScalarFields {
    package_type: i32,
    kind: i32,
    status_code: i32,
    is_pre_app_start: bool,
    is_root_span: bool,
    timestamp: Timestamp,
    duration: Timestamp,
}

/// One span read from JavaScript: the arena holding its strings and the parsed fields.
#[derive(Debug, Default)]
pub struct SpanReader {
    arena: Vec<u8>,
    strings: StringFields,
    scalars: ScalarFields,
}

impl SpanReader {
    /// Reads every field of `object` (a JS value, checked to be an object). Errors name the
    /// field and the expected type; nothing is kept from a failed read.
    ///
    /// # Safety
    /// `env` must be the live environment of the current call and `object` a value of it.
    pub unsafe fn read_object(
        &mut self,
        env: sys::napi_env,
        object: sys::napi_value,
    ) -> JsResult<()> {
        // SAFETY: forwarded contract of this function.
        let value_type = unsafe { type_of(env, object) };
        if value_type != Some(sys::ValueType::napi_object) {
            return Err(js_error(
                ErrorCode::InvalidArg,
                "pushSpan expects a span object",
            ));
        }
        // SAFETY: live env and object for the whole call (contract).
        unsafe {
            self.read(ObjectReader {
                env,
                source: Source::Object(object),
            })
        }
    }

    /// Reads the span from positional arguments, in [`Field`] order (`pushSpanFields`).
    ///
    /// # Safety
    /// `env` must be the live environment of the current call and `args` values of it.
    pub unsafe fn read_args(
        &mut self,
        env: sys::napi_env,
        args: &[sys::napi_value; FIELD_COUNT],
    ) -> JsResult<()> {
        // SAFETY: live env and argument values for the whole call (contract).
        unsafe {
            self.read(ObjectReader {
                env,
                source: Source::Args(args),
            })
        }
    }

    /// # Safety
    /// The reader's env and values must be live for the whole call.
    unsafe fn read(&mut self, reader: ObjectReader<'_>) -> JsResult<()> {
        self.arena.clear();
        let arena = &mut self.arena;
        // SAFETY: every call below needs the reader's env and values live, which this
        // function's contract guarantees for its whole duration.
        unsafe {
            self.strings = StringFields {
                trace_id: reader.required_string(Field::TraceId, arena)?,
                span_id: reader.required_string(Field::SpanId, arena)?,
                parent_span_id: reader.string_or_empty(Field::ParentSpanId, arena)?,
                name: reader.required_string(Field::Name, arena)?,
                package_name: reader.required_string(Field::PackageName, arena)?,
                instrumentation_name: reader.required_string(Field::InstrumentationName, arena)?,
                submodule_name: reader.string_or_empty(Field::SubmoduleName, arena)?,
                environment: reader.string_into(Field::Environment, arena)?,
                status_message: reader.string_or_empty(Field::StatusMessage, arena)?,
                input_value_json: reader.required_string(Field::InputValueJson, arena)?,
                output_value_json: reader.string_into(Field::OutputValueJson, arena)?,
                input_schema_merges_json: reader
                    .string_into(Field::InputSchemaMergesJson, arena)?,
                output_schema_merges_json: reader
                    .string_into(Field::OutputSchemaMergesJson, arena)?,
                metadata_json: reader.string_into(Field::MetadataJson, arena)?,
                transform_metadata_json: reader.string_into(Field::TransformMetadataJson, arena)?,
                stack_trace: reader.string_into(Field::StackTrace, arena)?,
            };
            self.scalars = ScalarFields {
                package_type: reader.i32_or(Field::PackageType, 0)?,
                kind: reader.required_i32(Field::Kind)?,
                status_code: reader.required_i32(Field::StatusCode)?,
                is_pre_app_start: reader.bool_or_false(Field::IsPreAppStart)?,
                is_root_span: reader.bool_or_false(Field::IsRootSpan)?,
                timestamp: Timestamp {
                    seconds: reader.required_i64(Field::TimestampSeconds)?,
                    nanos: reader.required_i32(Field::TimestampNanos)?,
                },
                duration: Timestamp {
                    seconds: reader.required_i64(Field::DurationSeconds)?,
                    nanos: reader.required_i32(Field::DurationNanos)?,
                },
            };
        }
        Ok(())
    }

    /// The record of the span read last, borrowing the arena.
    pub fn record<'a>(&'a self, sdk_version: &'a str) -> SpanRecord<'a> {
        let bytes = |range: &Range<usize>| &self.arena[range.clone()];
        // The arena holds only what `napi_get_value_string_utf8` wrote: valid UTF-8 (lone
        // surrogates become U+FFFD), and every range ends on a string boundary, so these
        // conversions cannot fail; an empty string is the safe fallback should that change.
        let text = |range: &Range<usize>| std::str::from_utf8(bytes(range)).unwrap_or_default();
        let strings = &self.strings;
        let scalars = self.scalars;
        SpanRecord {
            sdk: SdkFlavor::Node,
            sdk_version,
            trace_id: text(&strings.trace_id),
            span_id: text(&strings.span_id),
            parent_span_id: text(&strings.parent_span_id),
            name: text(&strings.name),
            package_name: text(&strings.package_name),
            instrumentation_name: text(&strings.instrumentation_name),
            submodule_name: text(&strings.submodule_name),
            package_type: scalars.package_type,
            kind: scalars.kind,
            environment: strings.environment.as_ref().map(text),
            status_code: scalars.status_code,
            status_message: text(&strings.status_message),
            is_pre_app_start: scalars.is_pre_app_start,
            is_root_span: scalars.is_root_span,
            timestamp: scalars.timestamp,
            duration: scalars.duration,
            input_value_json: bytes(&strings.input_value_json),
            output_value_json: strings.output_value_json.as_ref().map(bytes),
            input_schema_merges_json: strings.input_schema_merges_json.as_ref().map(bytes),
            output_schema_merges_json: strings.output_schema_merges_json.as_ref().map(bytes),
            metadata_json: strings.metadata_json.as_ref().map(bytes),
            transform_metadata_json: strings.transform_metadata_json.as_ref().map(bytes),
            stack_trace: strings.stack_trace.as_ref().map(text),
        }
    }
}

/// Where the field values come from.
enum Source<'a> {
    /// Properties of a span object, looked up by name.
    Object(sys::napi_value),
    /// Positional arguments in [`Field`] order.
    Args(&'a [sys::napi_value; FIELD_COUNT]),
}

/// Reads the typed fields of one span.
struct ObjectReader<'a> {
    env: sys::napi_env,
    source: Source<'a>,
}

fn wrong_type(field: Field, expected: &str) -> JsError {
    js_error(
        ErrorCode::InvalidArg,
        format!("span field `{}` must be {expected}", field.name()),
    )
}

impl ObjectReader<'_> {
    /// # Safety
    /// The reader's env and values must be live (see [`SpanReader::read`]).
    unsafe fn property(&self, field: Field) -> JsResult<sys::napi_value> {
        let object = match self.source {
            Source::Args(args) => return Ok(args[field as usize]),
            Source::Object(object) => object,
        };
        // SAFETY: per this function's contract.
        unsafe { named_property(self.env, object, FIELD_NAMES[field as usize]) }.ok_or_else(|| {
            js_error(
                ErrorCode::InvalidArg,
                format!("could not read span field `{}`", field.name()),
            )
        })
    }

    /// # Safety
    /// `self.env` must be live and `value` one of its values.
    unsafe fn is_nullish(&self, value: sys::napi_value) -> bool {
        // SAFETY: per this function's contract.
        unsafe { is_nullish(self.env, value) }
    }

    /// Appends the UTF-8 of a string property to `arena`; `Ok(None)` when it is absent
    /// (`undefined`/`null`).
    ///
    /// # Safety
    /// As [`ObjectReader::property`].
    unsafe fn string_into(
        &self,
        field: Field,
        arena: &mut Vec<u8>,
    ) -> JsResult<Option<Range<usize>>> {
        // SAFETY: per this function's contract.
        let value = unsafe { self.property(field)? };
        // SAFETY: live env and value (contract).
        unsafe { append_utf8(self.env, value, arena) }.map_err(|failure| match failure {
            ReadFailure::WrongType => wrong_type(field, "a string"),
            ReadFailure::TooLong => wrong_type(field, "a shorter string"),
        })
    }

    /// # Safety
    /// As [`ObjectReader::property`].
    unsafe fn required_string(&self, field: Field, arena: &mut Vec<u8>) -> JsResult<Range<usize>> {
        // SAFETY: per this function's contract.
        unsafe { self.string_into(field, arena)? }.ok_or_else(|| wrong_type(field, "a string"))
    }

    /// # Safety
    /// As [`ObjectReader::property`].
    unsafe fn string_or_empty(&self, field: Field, arena: &mut Vec<u8>) -> JsResult<Range<usize>> {
        let at = arena.len();
        // SAFETY: per this function's contract.
        Ok(unsafe { self.string_into(field, arena)? }.unwrap_or(at..at))
    }

    /// An integer-valued number property; `Ok(None)` when absent.
    ///
    /// # Safety
    /// As [`ObjectReader::property`].
    unsafe fn integer(&self, field: Field) -> JsResult<Option<f64>> {
        // SAFETY: per this function's contract.
        let value = unsafe { self.property(field)? };
        let mut number = 0f64;
        // SAFETY: live env and value; `number` is a valid out pointer.
        let status = unsafe { sys::napi_get_value_double(self.env, value, &mut number) };
        if status == sys::Status::napi_ok {
            if !number.is_finite() || number.fract() != 0.0 {
                return Err(wrong_type(field, "an integer"));
            }
            return Ok(Some(number));
        }
        // SAFETY: per this function's contract.
        if unsafe { self.is_nullish(value) } {
            return Ok(None);
        }
        Err(wrong_type(field, "a number"))
    }

    /// # Safety
    /// As [`ObjectReader::property`].
    unsafe fn i32_or(&self, field: Field, default: i32) -> JsResult<i32> {
        // SAFETY: per this function's contract.
        match unsafe { self.integer(field)? } {
            None => Ok(default),
            Some(number) => to_i32(field, number),
        }
    }

    /// # Safety
    /// As [`ObjectReader::property`].
    unsafe fn required_i32(&self, field: Field) -> JsResult<i32> {
        // SAFETY: per this function's contract.
        match unsafe { self.integer(field)? } {
            None => Err(wrong_type(field, "a number")),
            Some(number) => to_i32(field, number),
        }
    }

    /// # Safety
    /// As [`ObjectReader::property`].
    unsafe fn required_i64(&self, field: Field) -> JsResult<i64> {
        // Exact integers only: beyond 2^53 a double no longer names one integer.
        const MAX_SAFE: f64 = 9_007_199_254_740_991.0;
        // SAFETY: per this function's contract.
        match unsafe { self.integer(field)? } {
            None => Err(wrong_type(field, "a number")),
            Some(number) if number.abs() <= MAX_SAFE => Ok(number as i64),
            Some(_) => Err(wrong_type(field, "a safe integer")),
        }
    }

    /// # Safety
    /// As [`ObjectReader::property`].
    unsafe fn bool_or_false(&self, field: Field) -> JsResult<bool> {
        // SAFETY: per this function's contract.
        let value = unsafe { self.property(field)? };
        let mut flag = false;
        // SAFETY: live env and value; `flag` is a valid out pointer.
        let status = unsafe { sys::napi_get_value_bool(self.env, value, &mut flag) };
        if status == sys::Status::napi_ok {
            return Ok(flag);
        }
        // SAFETY: per this function's contract.
        if unsafe { self.is_nullish(value) } {
            return Ok(false);
        }
        Err(wrong_type(field, "a boolean"))
    }
}

fn to_i32(field: Field, number: f64) -> JsResult<i32> {
    if number >= f64::from(i32::MIN) && number <= f64::from(i32::MAX) {
        Ok(number as i32)
    } else {
        Err(wrong_type(field, "a 32-bit integer"))
    }
}

/// The shape `RingExporter.pushSpan` reads, declared for the generated `index.d.ts` (the hot
/// path reads the fields itself, see [`SpanReader`]). JSON fields carry the SDK's text as is.
#[napi_derive::napi(object, object_to_js = false)]
pub struct RingSpan {
    pub trace_id: String,
    pub span_id: String,
    /// Empty or absent for a root span.
    pub parent_span_id: Option<String>,
    pub name: String,
    pub package_name: String,
    pub instrumentation_name: String,
    pub submodule_name: Option<String>,
    /// `tusk.drift.core.v1.PackageType` (0..=11); default 0.
    pub package_type: Option<i32>,
    /// `tusk.drift.core.v1.SpanKind` (0..=5).
    pub kind: i32,
    pub environment: Option<String>,
    /// `tusk.drift.core.v1.StatusCode` (0..=2).
    pub status_code: i32,
    pub status_message: Option<String>,
    pub is_pre_app_start: Option<bool>,
    pub is_root_span: Option<bool>,
    pub timestamp_seconds: i64,
    pub timestamp_nanos: i32,
    pub duration_seconds: i64,
    pub duration_nanos: i32,
    /// The input value as `JSON.stringify` text.
    pub input_value_json: String,
    /// The output value as JSON text; absent or empty means `{}`.
    pub output_value_json: Option<String>,
    /// Schema merges (`{key: {encoding?, decoded_type?, match_importance?}}`) as JSON text.
    pub input_schema_merges_json: Option<String>,
    pub output_schema_merges_json: Option<String>,
    pub metadata_json: Option<String>,
    pub transform_metadata_json: Option<String>,
    pub stack_trace: Option<String>,
}
