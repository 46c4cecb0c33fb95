//! Reads the span object given to `RingExporter.pushSpan` into a [`SpanRecord`].
//!
//! This is the hot path of the ring exporter on the event loop, so it talks to N-API directly:
//! property names are static C strings (no allocation per lookup) and every string's UTF-8 is
//! written into one reusable arena owned by the exporter (no allocation per span once the arena
//! has grown to the largest span seen). The record then borrows its fields from the arena.

use std::ffi::CStr;
use std::ops::Range;
use std::ptr;

use drift_exporter::{SdkFlavor, SpanRecord, Timestamp};
use napi::sys;

use crate::error::{ErrorCode, JsResult, js_error};

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

/// A JS value read from a property: the raw handle and whether it is `undefined`/`null`.
struct Property {
    value: sys::napi_value,
}

impl SpanReader {
    /// Reads every field of `object` (a JS value, checked to be an object). Errors name the
    /// field and the expected type; nothing is kept from a failed read.
    ///
    /// # Safety
    /// `env` must be the live environment of the current call and `object` a value of it.
    pub unsafe fn read(&mut self, env: sys::napi_env, object: sys::napi_value) -> JsResult<()> {
        // SAFETY: forwarded contract of this function.
        let value_type = unsafe { type_of(env, object) };
        if value_type != Some(sys::ValueType::napi_object) {
            return Err(js_error(ErrorCode::InvalidArg, "pushSpan expects a span object"));
        }
        self.arena.clear();
        let reader = ObjectReader { env, object };
        // SAFETY (all calls below): `env` and `object` are live for this call, as required.
        unsafe {
            self.strings.trace_id = reader.required_string(c"traceId", &mut self.arena)?;
            self.strings.span_id = reader.required_string(c"spanId", &mut self.arena)?;
            self.strings.parent_span_id = reader.string_or_empty(c"parentSpanId", &mut self.arena)?;
            self.strings.name = reader.required_string(c"name", &mut self.arena)?;
            self.strings.package_name = reader.required_string(c"packageName", &mut self.arena)?;
            self.strings.instrumentation_name = reader.required_string(c"instrumentationName", &mut self.arena)?;
            self.strings.submodule_name = reader.string_or_empty(c"submoduleName", &mut self.arena)?;
            self.strings.environment = reader.optional_string(c"environment", &mut self.arena)?;
            self.strings.status_message = reader.string_or_empty(c"statusMessage", &mut self.arena)?;
            self.strings.input_value_json = reader.required_string(c"inputValueJson", &mut self.arena)?;
            self.strings.output_value_json = reader.optional_string(c"outputValueJson", &mut self.arena)?;
            self.strings.input_schema_merges_json =
                reader.optional_string(c"inputSchemaMergesJson", &mut self.arena)?;
            self.strings.output_schema_merges_json =
                reader.optional_string(c"outputSchemaMergesJson", &mut self.arena)?;
            self.strings.metadata_json = reader.optional_string(c"metadataJson", &mut self.arena)?;
            self.strings.transform_metadata_json =
                reader.optional_string(c"transformMetadataJson", &mut self.arena)?;
            self.strings.stack_trace = reader.optional_string(c"stackTrace", &mut self.arena)?;
            self.scalars = ScalarFields {
                package_type: reader.i32_or(c"packageType", 0)?,
                kind: reader.required_i32(c"kind")?,
                status_code: reader.required_i32(c"statusCode")?,
                is_pre_app_start: reader.bool_or_false(c"isPreAppStart")?,
                is_root_span: reader.bool_or_false(c"isRootSpan")?,
                timestamp: Timestamp {
                    seconds: reader.required_i64(c"timestampSeconds")?,
                    nanos: reader.required_i32(c"timestampNanos")?,
                },
                duration: Timestamp {
                    seconds: reader.required_i64(c"durationSeconds")?,
                    nanos: reader.required_i32(c"durationNanos")?,
                },
            };
        }
        Ok(())
    }

    /// The record of the span read last, borrowing the arena.
    pub fn record<'a>(&'a self, sdk_version: &'a str) -> SpanRecord<'a> {
        let bytes = |range: &Range<usize>| &self.arena[range.clone()];
        // The arena holds only what `napi_get_value_string_utf8` wrote: valid UTF-8, and every
        // range ends on a string boundary, so these conversions cannot fail; an empty string is
        // the safe fallback should that ever change.
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

    /// Bytes the arena holds for the span read last (its strings' UTF-8).
    pub fn string_bytes(&self) -> usize {
        self.arena.len()
    }
}

/// Reads typed properties of one JS object.
struct ObjectReader {
    env: sys::napi_env,
    object: sys::napi_value,
}

fn field_name(name: &CStr) -> &str {
    name.to_str().unwrap_or("?")
}

fn wrong_type(name: &CStr, expected: &str) -> crate::error::JsError {
    js_error(ErrorCode::InvalidArg, format!("span field `{}` must be {expected}", field_name(name)))
}

/// `napi_typeof`, `None` when the call fails.
///
/// # Safety
/// `env` must be live and `value` a value of it.
unsafe fn type_of(env: sys::napi_env, value: sys::napi_value) -> Option<sys::napi_valuetype> {
    let mut value_type = 0;
    // SAFETY: per this function's contract; `value_type` is a valid out pointer.
    let status = unsafe { sys::napi_typeof(env, value, &mut value_type) };
    (status == sys::Status::napi_ok).then_some(value_type)
}

impl ObjectReader {
    /// # Safety
    /// `self.env`/`self.object` must be live.
    unsafe fn property(&self, name: &CStr) -> JsResult<Property> {
        let mut value = ptr::null_mut();
        // SAFETY: live env and object (contract); `name` is NUL-terminated; `value` is a valid
        // out pointer. A getter may run JS and throw: that surfaces as a non-ok status.
        let status = unsafe { sys::napi_get_named_property(self.env, self.object, name.as_ptr(), &mut value) };
        if status != sys::Status::napi_ok {
            return Err(js_error(
                ErrorCode::InvalidArg,
                format!("could not read span field `{}`", field_name(name)),
            ));
        }
        Ok(Property { value })
    }

    /// # Safety
    /// `self.env` must be live and `property` one of its values.
    unsafe fn is_nullish(&self, property: &Property) -> bool {
        // SAFETY: per this function's contract.
        matches!(
            unsafe { type_of(self.env, property.value) },
            Some(sys::ValueType::napi_undefined | sys::ValueType::napi_null)
        )
    }

    /// Appends the UTF-8 of a string property to `arena`; `Ok(None)` when it is absent
    /// (`undefined`/`null`).
    ///
    /// # Safety
    /// `self.env`/`self.object` must be live.
    unsafe fn string_into(&self, name: &CStr, arena: &mut Vec<u8>) -> JsResult<Option<Range<usize>>> {
        // SAFETY: per this function's contract.
        let property = unsafe { self.property(name)? };
        let mut len = 0usize;
        // SAFETY: live env and value; a null buffer asks for the UTF-8 length only.
        let status = unsafe { sys::napi_get_value_string_utf8(self.env, property.value, ptr::null_mut(), 0, &mut len) };
        if status != sys::Status::napi_ok {
            // SAFETY: per this function's contract.
            if unsafe { self.is_nullish(&property) } {
                return Ok(None);
            }
            return Err(wrong_type(name, "a string"));
        }
        let start = arena.len();
        // One extra byte: N-API always writes a NUL terminator, which we then drop.
        arena.resize(start + len + 1, 0);
        let mut written = 0usize;
        // SAFETY: the buffer starts at `start` and has `len + 1` writable bytes, as passed.
        let status = unsafe {
            sys::napi_get_value_string_utf8(
                self.env,
                property.value,
                arena.as_mut_ptr().add(start).cast(),
                len + 1,
                &mut written,
            )
        };
        if status != sys::Status::napi_ok {
            arena.truncate(start);
            return Err(wrong_type(name, "a string"));
        }
        arena.truncate(start + written.min(len));
        Ok(Some(start..arena.len()))
    }

    /// # Safety
    /// As [`ObjectReader::string_into`].
    unsafe fn required_string(&self, name: &CStr, arena: &mut Vec<u8>) -> JsResult<Range<usize>> {
        // SAFETY: per this function's contract.
        unsafe { self.string_into(name, arena)? }.ok_or_else(|| wrong_type(name, "a string"))
    }

    /// # Safety
    /// As [`ObjectReader::string_into`].
    unsafe fn string_or_empty(&self, name: &CStr, arena: &mut Vec<u8>) -> JsResult<Range<usize>> {
        let at = arena.len();
        // SAFETY: per this function's contract.
        Ok(unsafe { self.string_into(name, arena)? }.unwrap_or(at..at))
    }

    /// # Safety
    /// As [`ObjectReader::string_into`].
    unsafe fn optional_string(&self, name: &CStr, arena: &mut Vec<u8>) -> JsResult<Option<Range<usize>>> {
        // SAFETY: per this function's contract.
        unsafe { self.string_into(name, arena) }
    }

    /// A number property as f64; `Ok(None)` when absent.
    ///
    /// # Safety
    /// `self.env`/`self.object` must be live.
    unsafe fn number(&self, name: &CStr) -> JsResult<Option<f64>> {
        // SAFETY: per this function's contract.
        let property = unsafe { self.property(name)? };
        let mut number = 0f64;
        // SAFETY: live env and value; `number` is a valid out pointer.
        let status = unsafe { sys::napi_get_value_double(self.env, property.value, &mut number) };
        if status == sys::Status::napi_ok {
            if !number.is_finite() || number.fract() != 0.0 {
                return Err(wrong_type(name, "an integer"));
            }
            return Ok(Some(number));
        }
        // SAFETY: per this function's contract.
        if unsafe { self.is_nullish(&property) } {
            return Ok(None);
        }
        Err(wrong_type(name, "a number"))
    }

    /// # Safety
    /// As [`ObjectReader::number`].
    unsafe fn i32_or(&self, name: &CStr, default: i32) -> JsResult<i32> {
        // SAFETY: per this function's contract.
        match unsafe { self.number(name)? } {
            None => Ok(default),
            Some(number) if number >= f64::from(i32::MIN) && number <= f64::from(i32::MAX) => Ok(number as i32),
            Some(_) => Err(wrong_type(name, "a 32-bit integer")),
        }
    }

    /// # Safety
    /// As [`ObjectReader::number`].
    unsafe fn required_i32(&self, name: &CStr) -> JsResult<i32> {
        // SAFETY: per this function's contract.
        match unsafe { self.number(name)? } {
            None => Err(wrong_type(name, "a number")),
            Some(number) if number >= f64::from(i32::MIN) && number <= f64::from(i32::MAX) => Ok(number as i32),
            Some(_) => Err(wrong_type(name, "a 32-bit integer")),
        }
    }

    /// # Safety
    /// As [`ObjectReader::number`].
    unsafe fn required_i64(&self, name: &CStr) -> JsResult<i64> {
        // Exact integers only: beyond 2^53 a double no longer names one integer.
        const MAX_SAFE: f64 = 9_007_199_254_740_991.0;
        // SAFETY: per this function's contract.
        match unsafe { self.number(name)? } {
            None => Err(wrong_type(name, "a number")),
            Some(number) if number.abs() <= MAX_SAFE => Ok(number as i64),
            Some(_) => Err(wrong_type(name, "a safe integer")),
        }
    }

    /// # Safety
    /// `self.env`/`self.object` must be live.
    unsafe fn bool_or_false(&self, name: &CStr) -> JsResult<bool> {
        // SAFETY: per this function's contract.
        let property = unsafe { self.property(name)? };
        let mut flag = false;
        // SAFETY: live env and value; `flag` is a valid out pointer.
        let status = unsafe { sys::napi_get_value_bool(self.env, property.value, &mut flag) };
        if status == sys::Status::napi_ok {
            return Ok(flag);
        }
        // SAFETY: per this function's contract.
        if unsafe { self.is_nullish(&property) } {
            return Ok(false);
        }
        Err(wrong_type(name, "a boolean"))
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
