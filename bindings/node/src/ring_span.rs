//! Reads the span object given to `RingExporter.pushSpan` into a [`SpanRecord`].
//!
//! This is the hot path of the ring exporter on the event loop, so it talks to N-API directly
//! (see [`crate::js_read`]: one named lookup per field, one-call string copies). Every
//! string lands in one reusable arena owned by the exporter (no allocation per span once the
//! arena has grown to the largest span seen); the record then borrows from the arena.

use std::ffi::CStr;
use std::ops::Range;

use drift_exporter::{SdkFlavor, SpanRecord, Timestamp};
use napi::bindgen_prelude::Unknown;
use napi::sys;
use napi_derive::napi;

use crate::ring_exporter::RingExporter;

use crate::error::{ErrorCode, JsError, JsResult, js_error};
use crate::js_read::{ReadFailure, append_utf8, is_nullish, named_property, type_of};

// Everything below that names a field is expanded from the span schema
// (`drift_exporter::with_span_fields!`): one row per field, in the `pushSpanFields` order.

/// The storage of one field read from JavaScript: arena ranges for text, the value otherwise.
macro_rules! slot_type {
    (Text) => { Range<usize> };
    (TextOrEmpty) => { Range<usize> };
    (OptText) => { Option<Range<usize>> };
    (Json) => { Range<usize> };
    (OptJson) => { Option<Range<usize>> };
    (I32) => { i32 };
    (I32OrZero) => { i32 };
    (Flag) => { bool };
    (Time) => { Timestamp };
}

/// Reads one field at JavaScript position `$index` (two for a time) and advances it.
macro_rules! read_slot {
    (@one $index:ident, $read:expr) => {{
        let value = $read;
        $index += 1;
        value
    }};
    (Text, $reader:ident, $arena:ident, $index:ident) => {
        read_slot!(@one $index, $reader.required_string($index, $arena)?)
    };
    (TextOrEmpty, $reader:ident, $arena:ident, $index:ident) => {
        read_slot!(@one $index, $reader.string_or_empty($index, $arena)?)
    };
    (OptText, $reader:ident, $arena:ident, $index:ident) => {
        read_slot!(@one $index, $reader.string_into($index, $arena)?)
    };
    (Json, $reader:ident, $arena:ident, $index:ident) => {
        read_slot!(@one $index, $reader.required_string($index, $arena)?)
    };
    (OptJson, $reader:ident, $arena:ident, $index:ident) => {
        read_slot!(@one $index, $reader.string_into($index, $arena)?)
    };
    (I32, $reader:ident, $arena:ident, $index:ident) => {
        read_slot!(@one $index, $reader.required_i32($index)?)
    };
    (I32OrZero, $reader:ident, $arena:ident, $index:ident) => {
        read_slot!(@one $index, $reader.i32_or($index, 0)?)
    };
    (Flag, $reader:ident, $arena:ident, $index:ident) => {
        read_slot!(@one $index, $reader.bool_or_false($index)?)
    };
    (Time, $reader:ident, $arena:ident, $index:ident) => {{
        let seconds = $reader.required_i64($index)?;
        let nanos = $reader.required_i32($index + 1)?;
        $index += 2;
        Timestamp { seconds, nanos }
    }};
}

/// A stored field as the record's field.
macro_rules! record_value {
    (Text, $slot:expr, $text:ident, $bytes:ident) => {
        $text(&$slot)
    };
    (TextOrEmpty, $slot:expr, $text:ident, $bytes:ident) => {
        $text(&$slot)
    };
    (OptText, $slot:expr, $text:ident, $bytes:ident) => {
        $slot.as_ref().map($text)
    };
    (Json, $slot:expr, $text:ident, $bytes:ident) => {
        $bytes(&$slot)
    };
    (OptJson, $slot:expr, $text:ident, $bytes:ident) => {
        $slot.as_ref().map($bytes)
    };
    ($kind:ident, $slot:expr, $text:ident, $bytes:ident) => {
        $slot
    };
}

/// `RingSpan` (the shape `pushSpan` reads, for the generated `index.d.ts`) and the
/// `pushSpanFields` method: one field and one parameter per JavaScript name of the schema,
/// collected row by row (a time is two).
macro_rules! js_declarations {
    // All rows read: emit both.
    (@munch [$($span:tt)*] [$($params:tt)*] [$($args:ident)*]) => {
        /// The shape `RingExporter.pushSpan` reads, declared for the generated `index.d.ts`
        /// (the hot path reads the fields itself, see `SpanReader`). JSON fields carry the
        /// SDK's text as is. Expanded from the span schema (`drift_exporter::with_span_fields!`).
        #[napi(object, object_to_js = false)]
        pub struct RingSpan {
            $($span)*
        }

        #[napi]
        impl RingExporter {
            /// `pushSpan` with the fields as positional arguments, in `RingSpan` order (ids,
            /// name, package, kind, environment, status, flags, timing, then the JSON texts).
            /// Same result and errors; for hot paths such as the SDK hook, it skips 25 property
            /// lookups per span.
            #[allow(clippy::too_many_arguments)]
            #[napi]
            pub fn push_span_fields(&mut self, $($params)*) -> Result<bool, JsError> {
                self.push_args([$($args),*])
            }
        }
    };
    // A nullable JavaScript field: its `pushSpanFields` parameter is typed
    // `optional_param::Option<Unknown>` (plain `Unknown`, see there), so that the generated
    // `index.d.ts` marks the trailing ones optional (`name?: ...`).
    (@field [$($span:tt)*] [$($params:tt)*] [$($args:ident)*] [$($doc:tt)*]
        $js:ident: [Option<$inner:ty>], $ts:tt; $($rest:tt)*) => {
        js_declarations! {@munch
            [$($span)* $($doc)* pub $js: Option<$inner>,]
            [$($params)* #[napi(ts_arg_type = $ts)] $js: optional_param::Option<Unknown<'_>>,]
            [$($args)* $js]
            $($rest)*}
    };
    // One JavaScript field: its `RingSpan` field and its `pushSpanFields` parameter.
    (@field [$($span:tt)*] [$($params:tt)*] [$($args:ident)*] [$($doc:tt)*]
        $js:ident: [$($ty:tt)*], $ts:tt; $($rest:tt)*) => {
        js_declarations! {@munch
            [$($span)* $($doc)* pub $js: $($ty)*,]
            [$($params)* #[napi(ts_arg_type = $ts)] $js: Unknown<'_>,]
            [$($args)* $js]
            $($rest)*}
    };
    // The second number of a time.
    (@munch $span:tt $params:tt $args:tt @then [$($doc:tt)*] $js:ident: [$($ty:tt)*], $ts:tt;
        $($rest:tt)*) => {
        js_declarations! {@field $span $params $args [$($doc)*] $js: [$($ty)*], $ts; $($rest)*}
    };
    (@munch $span:tt $params:tt $args:tt $(#[doc = $doc:tt])*
        $name:ident: Time @ $at:tt => [$seconds:ident = $s:literal, $nanos:ident = $n:literal],
        $($rest:tt)*) => {
        js_declarations! {@field $span $params $args [$(#[doc = $doc])*] $seconds: [i64], "number";
            @then [] $nanos: [i32], "number"; $($rest)*}
    };
    (@munch $span:tt $params:tt $args:tt $(#[doc = $doc:tt])*
        $name:ident: $kind:ident @ $at:tt => [$js:ident = $js_name:literal], $($rest:tt)*) => {
        js_declarations! {@kind $kind $span $params $args [$(#[doc = $doc])*] $js; $($rest)*}
    };
    (@kind Text $span:tt $params:tt $args:tt $doc:tt $js:ident; $($rest:tt)*) => {
        js_declarations! {@field $span $params $args $doc $js: [String], "string"; $($rest)*}
    };
    (@kind Json $span:tt $params:tt $args:tt $doc:tt $js:ident; $($rest:tt)*) => {
        js_declarations! {@field $span $params $args $doc $js: [String], "string"; $($rest)*}
    };
    (@kind I32 $span:tt $params:tt $args:tt $doc:tt $js:ident; $($rest:tt)*) => {
        js_declarations! {@field $span $params $args $doc $js: [i32], "number"; $($rest)*}
    };
    (@kind I32OrZero $span:tt $params:tt $args:tt $doc:tt $js:ident; $($rest:tt)*) => {
        js_declarations! {@field $span $params $args $doc $js: [Option<i32>],
            "number | undefined | null"; $($rest)*}
    };
    (@kind Flag $span:tt $params:tt $args:tt $doc:tt $js:ident; $($rest:tt)*) => {
        js_declarations! {@field $span $params $args $doc $js: [Option<bool>],
            "boolean | undefined | null"; $($rest)*}
    };
    // TextOrEmpty, OptText, OptJson.
    (@kind $kind:ident $span:tt $params:tt $args:tt $doc:tt $js:ident; $($rest:tt)*) => {
        js_declarations! {@field $span $params $args $doc $js: [Option<String>],
            "string | undefined | null"; $($rest)*}
    };
    ($($rows:tt)*) => {
        js_declarations! { @munch [] [] [] $($rows)* }
    };
}

/// The type of `pushSpanFields`'s nullable parameters.
///
/// napi-rs's type generation writes a parameter as optional (`name?: T`) when its Rust type's
/// last path segment is `Option` and no required parameter follows; `Option<Unknown>` itself
/// would cost one `napi_typeof` per argument to map `undefined`/`null` to `None`, which the
/// span reader already does on the raw value. This alias is named `Option` for the generator
/// and is the plain `Unknown` for the compiler.
mod optional_param {
    pub type Option<T> = T;
}

/// The reader and the JavaScript declarations, from the span schema.
macro_rules! define_node_span {
    ($(
        $(#[doc = $doc:tt])*
        $name:ident : $kind:ident @ $at:tt => [$($js_ident:ident = $js:literal),+]
    ),+ $(,)?) => {
        /// Number of JavaScript span fields (the arguments of `pushSpanFields`).
        pub const FIELD_COUNT: usize = 0 $($(+ { let _ = $js; 1 })+)+;

        /// JavaScript property names, in argument order.
        const FIELD_NAMES: [&CStr; FIELD_COUNT] = [$($(c_name(concat!($js, "\0"))),+),+];

        /// The fields of the span read last: arena ranges for text (`None`: absent).
        #[derive(Debug, Default)]
        struct Fields {
            $($name: slot_type!($kind),)+
        }

        impl SpanReader {
            /// # Safety
            /// The reader's env and values must be live for the whole call.
            unsafe fn read(&mut self, reader: ObjectReader<'_>) -> JsResult<()> {
                self.arena.clear();
                let arena = &mut self.arena;
                let mut index = 0usize;
                // SAFETY: every call below needs the reader's env and values live, which this
                // function's contract guarantees for its whole duration.
                self.fields = unsafe {
                    Fields {
                        $($name: read_slot!($kind, reader, arena, index),)+
                    }
                };
                debug_assert_eq!(index, FIELD_COUNT);
                Ok(())
            }

            /// The record of the span read last, borrowing the arena.
            pub fn record<'a>(&'a self, sdk_version: &'a str) -> SpanRecord<'a> {
                let bytes = |range: &Range<usize>| &self.arena[range.clone()];
                // The arena holds only what `napi_get_value_string_utf8` wrote: valid UTF-8
                // (lone surrogates become U+FFFD), and every range ends on a string boundary, so
                // these conversions cannot fail; an empty string is the safe fallback should
                // that change.
                let text =
                    |range: &Range<usize>| std::str::from_utf8(bytes(range)).unwrap_or_default();
                let fields = &self.fields;
                SpanRecord {
                    sdk: SdkFlavor::Node,
                    sdk_version,
                    $($name: record_value!($kind, fields.$name, text, bytes),)+
                }
            }
        }

        js_declarations! {
            $($(#[doc = $doc])* $name: $kind @ $at => [$($js_ident = $js),+],)+
        }
    };
}

/// A NUL-terminated property name as a `CStr` (at compile time).
const fn c_name(with_nul: &'static str) -> &'static CStr {
    match CStr::from_bytes_with_nul(with_nul.as_bytes()) {
        Ok(name) => name,
        Err(_) => panic!("a span field name holds a NUL byte"),
    }
}

drift_exporter::with_span_fields!(define_node_span);

/// The JavaScript property names of a span, in `pushSpanFields` argument order.
pub fn js_field_names() -> impl Iterator<Item = &'static str> {
    (0..FIELD_COUNT).map(field_name)
}

fn field_name(index: usize) -> &'static str {
    FIELD_NAMES
        .get(index)
        .and_then(|name| name.to_str().ok())
        .unwrap_or("?")
}

/// One span read from JavaScript: the arena holding its strings and the parsed fields.
#[derive(Debug, Default)]
pub struct SpanReader {
    arena: Vec<u8>,
    fields: Fields,
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

    /// Reads the span from positional arguments, in `RingSpan` order (`pushSpanFields`).
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
}

/// Where the field values come from.
enum Source<'a> {
    /// Properties of a span object, looked up by name.
    Object(sys::napi_value),
    /// Positional arguments in `RingSpan` order.
    Args(&'a [sys::napi_value; FIELD_COUNT]),
}

/// Reads the typed fields of one span.
struct ObjectReader<'a> {
    env: sys::napi_env,
    source: Source<'a>,
}

fn wrong_type(field: usize, expected: &str) -> JsError {
    js_error(
        ErrorCode::InvalidArg,
        format!("span field `{}` must be {expected}", field_name(field)),
    )
}

impl ObjectReader<'_> {
    /// # Safety
    /// The reader's env and values must be live (see [`SpanReader::read`]).
    unsafe fn property(&self, field: usize) -> JsResult<sys::napi_value> {
        let object = match self.source {
            Source::Args(args) => return Ok(args[field]),
            Source::Object(object) => object,
        };
        // SAFETY: per this function's contract.
        unsafe { named_property(self.env, object, FIELD_NAMES[field]) }.ok_or_else(|| {
            js_error(
                ErrorCode::InvalidArg,
                format!("could not read span field `{}`", field_name(field)),
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
        field: usize,
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
    unsafe fn required_string(&self, field: usize, arena: &mut Vec<u8>) -> JsResult<Range<usize>> {
        // SAFETY: per this function's contract.
        unsafe { self.string_into(field, arena)? }.ok_or_else(|| wrong_type(field, "a string"))
    }

    /// # Safety
    /// As [`ObjectReader::property`].
    unsafe fn string_or_empty(&self, field: usize, arena: &mut Vec<u8>) -> JsResult<Range<usize>> {
        let at = arena.len();
        // SAFETY: per this function's contract.
        Ok(unsafe { self.string_into(field, arena)? }.unwrap_or(at..at))
    }

    /// An integer-valued number property; `Ok(None)` when absent.
    ///
    /// # Safety
    /// As [`ObjectReader::property`].
    unsafe fn integer(&self, field: usize) -> JsResult<Option<f64>> {
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
    unsafe fn i32_or(&self, field: usize, default: i32) -> JsResult<i32> {
        // SAFETY: per this function's contract.
        match unsafe { self.integer(field)? } {
            None => Ok(default),
            Some(number) => to_i32(field, number),
        }
    }

    /// # Safety
    /// As [`ObjectReader::property`].
    unsafe fn required_i32(&self, field: usize) -> JsResult<i32> {
        // SAFETY: per this function's contract.
        match unsafe { self.integer(field)? } {
            None => Err(wrong_type(field, "a number")),
            Some(number) => to_i32(field, number),
        }
    }

    /// # Safety
    /// As [`ObjectReader::property`].
    unsafe fn required_i64(&self, field: usize) -> JsResult<i64> {
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
    unsafe fn bool_or_false(&self, field: usize) -> JsResult<bool> {
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

fn to_i32(field: usize, number: f64) -> JsResult<i32> {
    if number >= f64::from(i32::MIN) && number <= f64::from(i32::MAX) {
        Ok(number as i32)
    } else {
        Err(wrong_type(field, "a 32-bit integer"))
    }
}
