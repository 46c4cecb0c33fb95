//! The span schema: one table of a span's fields, from which everything else is derived.
//!
//! [`with_span_fields!`](crate::with_span_fields) holds the table: one row per field of
//! [`SpanRecord`](super::SpanRecord), in the order an SDK binding hands them over (the order of
//! Node's `pushSpanFields` arguments). Each row gives
//!
//! * the Rust name (the field of `SpanRecord` and `DecodedRecord`),
//! * the [`FieldKind`] (how it is typed, read from an SDK and stored in the record),
//! * where a header field sits in the record (`_` for a length-prefixed field, whose place is its
//!   rank among the length-prefixed rows, after `sdk_version`),
//! * the JavaScript name(s) (a [`FieldKind::Time`] is two numbers in JavaScript), each with the
//!   snake_case identifier the Node binding declares it under.
//!
//! The record structs, the encoder, the decoder, the wire field names and [`SPAN_FIELDS`] are
//! expanded from the table here; the Node binding expands its span reader, its `RingSpan`
//! declaration and `pushSpanFields` from the same table (`bindings/node/src/ring_span.rs`).
//! Adding a field is one row (plus a record version bump if it changes the byte layout: a new
//! length-prefixed row must go last, where v1 decoders skip it, see `docs/record-format.md`).

/// How a span field is typed and stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldKind {
    /// Required text (a length-prefixed field). `&str`.
    Text,
    /// Text an SDK may leave out; the bindings read absent as `""`. `&str`.
    TextOrEmpty,
    /// Optional text; absent is distinct from empty. `Option<&str>`.
    OptText,
    /// Required JSON text, as the SDK holds it. `&[u8]` (decoded: `&str`).
    Json,
    /// Optional JSON text. `Option<&[u8]>` (decoded: `Option<&str>`).
    OptJson,
    /// Required 32-bit integer in the header.
    I32,
    /// 32-bit integer in the header; the bindings read absent as 0.
    I32OrZero,
    /// A bit of the header's flags; the bindings read absent as `false`.
    Flag,
    /// Seconds (i64) and nanoseconds (i32) in the header: two numbers in JavaScript.
    Time,
}

impl FieldKind {
    /// Whether the field is length-prefixed (after the header) rather than in the header.
    pub const fn is_length_prefixed(self) -> bool {
        matches!(
            self,
            Self::Text | Self::TextOrEmpty | Self::OptText | Self::Json | Self::OptJson
        )
    }
}

/// One row of the span schema, as data (tests, tools, documentation checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanFieldSpec {
    /// The Rust (and Python) name.
    pub name: &'static str,
    pub kind: FieldKind,
    /// The JavaScript name(s): one, or two for a [`FieldKind::Time`] (seconds, nanos).
    pub js_names: &'static [&'static str],
}

/// The span schema. Calls `$callback! { rows }`; each row is
/// `#[doc = "..."] name: Kind @ place => [js_ident = "jsName", ...],` (docs as `#[doc]` attributes
/// with plain string literals, which napi copies into `index.d.ts` as they are).
///
/// Public so that the bindings expand their readers from it; not a stable API.
#[doc(hidden)]
#[macro_export]
macro_rules! with_span_fields {
    ($callback:ident) => {
        $callback! {
            trace_id: Text @ _ => [trace_id = "traceId"],
            span_id: Text @ _ => [span_id = "spanId"],
            #[doc = "Empty for a root span."]
            parent_span_id: TextOrEmpty @ _ => [parent_span_id = "parentSpanId"],
            name: Text @ _ => [name = "name"],
            package_name: Text @ _ => [package_name = "packageName"],
            instrumentation_name: Text @ _ => [instrumentation_name = "instrumentationName"],
            submodule_name: TextOrEmpty @ _ => [submodule_name = "submoduleName"],
            #[doc = "`tusk.drift.core.v1.PackageType` (0..=11); an out-of-range value is dropped on export."]
            package_type: I32OrZero @ OFF_PACKAGE_TYPE => [package_type = "packageType"],
            #[doc = "`tusk.drift.core.v1.SpanKind` (0..=5)."]
            kind: I32 @ OFF_KIND => [kind = "kind"],
            #[doc = "Absent leaves `Span.environment` unset."]
            environment: OptText @ _ => [environment = "environment"],
            #[doc = "`tusk.drift.core.v1.StatusCode` (0..=2)."]
            status_code: I32 @ OFF_STATUS_CODE => [status_code = "statusCode"],
            status_message: TextOrEmpty @ _ => [status_message = "statusMessage"],
            is_pre_app_start: Flag @ FLAG_PRE_APP_START => [is_pre_app_start = "isPreAppStart"],
            is_root_span: Flag @ FLAG_ROOT_SPAN => [is_root_span = "isRootSpan"],
            #[doc = "Start time (seconds and nanoseconds since the Unix epoch)."]
            timestamp: Time @ (OFF_TS_SECONDS, OFF_TS_NANOS)
                => [timestamp_seconds = "timestampSeconds", timestamp_nanos = "timestampNanos"],
            duration: Time @ (OFF_DUR_SECONDS, OFF_DUR_NANOS)
                => [duration_seconds = "durationSeconds", duration_nanos = "durationNanos"],
            #[doc = "The input value as the SDK's JSON text (`json.dumps` / `JSON.stringify`)."]
            input_value_json: Json @ _ => [input_value_json = "inputValueJson"],
            #[doc = "The output value as JSON text; absent or empty means `{}`."]
            output_value_json: OptJson @ _ => [output_value_json = "outputValueJson"],
            #[doc = "Schema merges (`{key: {encoding?, decoded_type?, match_importance?}}`) as JSON text."]
            input_schema_merges_json: OptJson @ _
                => [input_schema_merges_json = "inputSchemaMergesJson"],
            output_schema_merges_json: OptJson @ _
                => [output_schema_merges_json = "outputSchemaMergesJson"],
            metadata_json: OptJson @ _ => [metadata_json = "metadataJson"],
            #[doc = "File sink only (not in the protobuf `Span`)."]
            transform_metadata_json: OptJson @ _
                => [transform_metadata_json = "transformMetadataJson"],
            #[doc = "File sink only; absent is \"no stack trace\"."]
            stack_trace: OptText @ _ => [stack_trace = "stackTrace"],
        }
    };
}

/// The Rust type of a field in [`SpanRecord`](super::SpanRecord).
macro_rules! record_type {
    (Text, $a:lifetime) => { &$a str };
    (TextOrEmpty, $a:lifetime) => { &$a str };
    (OptText, $a:lifetime) => { Option<&$a str> };
    (Json, $a:lifetime) => { &$a [u8] };
    (OptJson, $a:lifetime) => { Option<&$a [u8]> };
    (I32, $a:lifetime) => { i32 };
    (I32OrZero, $a:lifetime) => { i32 };
    (Flag, $a:lifetime) => { bool };
    (Time, $a:lifetime) => { Timestamp };
}

/// The Rust type of a field in [`DecodedRecord`](super::DecodedRecord): text checked as UTF-8.
macro_rules! decoded_type {
    (Json, $a:lifetime) => { &$a str };
    (OptJson, $a:lifetime) => { Option<&$a str> };
    ($kind:ident, $a:lifetime) => { record_type!($kind, $a) };
}

/// Stores a length-prefixed field's bytes at `$out[$next]` (header fields: nothing).
macro_rules! put_wire {
    (Text, $value:expr, $out:ident, $next:ident) => {
        $out[$next] = Some($value.as_bytes());
        $next += 1;
    };
    (TextOrEmpty, $value:expr, $out:ident, $next:ident) => {
        put_wire!(Text, $value, $out, $next)
    };
    (OptText, $value:expr, $out:ident, $next:ident) => {
        $out[$next] = $value.map(str::as_bytes);
        $next += 1;
    };
    (Json, $value:expr, $out:ident, $next:ident) => {
        $out[$next] = Some($value);
        $next += 1;
    };
    (OptJson, $value:expr, $out:ident, $next:ident) => {
        $out[$next] = $value;
        $next += 1;
    };
    ($kind:ident, $value:expr, $out:ident, $next:ident) => {};
}

/// Writes a header field (length-prefixed fields: nothing).
macro_rules! put_header {
    (I32, $at:ident, $value:expr, $out:ident, $flags:ident) => {
        put_u32($out, $at, $value as u32);
    };
    (I32OrZero, $at:ident, $value:expr, $out:ident, $flags:ident) => {
        put_u32($out, $at, $value as u32);
    };
    (Flag, $at:ident, $value:expr, $out:ident, $flags:ident) => {
        if $value {
            $flags |= $at;
        }
    };
    (Time, ($seconds:ident, $nanos:ident), $value:expr, $out:ident, $flags:ident) => {
        $out[$seconds..$seconds + 8].copy_from_slice(&$value.seconds.to_le_bytes());
        put_u32($out, $nanos, $value.nanos as u32);
    };
    ($kind:ident, $at:tt, $value:expr, $out:ident, $flags:ident) => {};
}

/// Reads a field back: from the length-prefixed `$fields[$next]` or from the header.
macro_rules! get_field {
    (Text, $name:ident, $at:tt, $fields:ident, $next:ident, $bytes:ident, $flags:ident) => {{
        let value = $fields[$next].ok_or(RecordError::MissingField {
            field: stringify!($name),
        })?;
        $next += 1;
        value
    }};
    (TextOrEmpty, $($rest:tt)*) => { get_field!(Text, $($rest)*) };
    (Json, $($rest:tt)*) => { get_field!(Text, $($rest)*) };
    (OptText, $name:ident, $at:tt, $fields:ident, $next:ident, $bytes:ident, $flags:ident) => {{
        let value = $fields[$next];
        $next += 1;
        value
    }};
    (OptJson, $($rest:tt)*) => { get_field!(OptText, $($rest)*) };
    (I32, $name:ident, $at:ident, $fields:ident, $next:ident, $bytes:ident, $flags:ident) => {
        get_i32($bytes, $at)
    };
    (I32OrZero, $($rest:tt)*) => { get_field!(I32, $($rest)*) };
    (Flag, $name:ident, $at:ident, $fields:ident, $next:ident, $bytes:ident, $flags:ident) => {
        $flags & $at != 0
    };
    (Time, $name:ident, ($seconds:ident, $nanos:ident), $fields:ident, $next:ident, $bytes:ident,
        $flags:ident) => {
        Timestamp {
            seconds: get_i64($bytes, $seconds),
            nanos: get_i32($bytes, $nanos),
        }
    };
}

/// 1 for a length-prefixed kind, 0 for a header kind.
macro_rules! wire_count {
    (Text) => {
        1
    };
    (TextOrEmpty) => {
        1
    };
    (OptText) => {
        1
    };
    (Json) => {
        1
    };
    (OptJson) => {
        1
    };
    ($kind:ident) => {
        0
    };
}

/// Expands the record side of the table: the structs, [`SPAN_FIELDS`], the wire field count and
/// the per-field halves of the encoder and decoder.
macro_rules! define_record {
    ($(
        $(#[$meta:meta])*
        $name:ident : $kind:ident @ $at:tt => [$($js_ident:ident = $js:literal),+]
    ),+ $(,)?) => {
        /// The span schema as data, in table order (see the module documentation).
        pub const SPAN_FIELDS: &[SpanFieldSpec] = &[
            $(SpanFieldSpec {
                name: stringify!($name),
                kind: FieldKind::$kind,
                js_names: &[$($js),+],
            }),+
        ];

        /// Number of length-prefixed fields of the record (`sdk_version` and the text rows).
        pub(crate) const WIRE_FIELD_COUNT: usize = 1 $(+ wire_count!($kind))+;

        /// One span as an SDK holds it, borrowed: what a binding fills in from the SDK's span
        /// object and hands to [`crate::Exporter::push_span`]. Nothing here is parsed or
        /// validated on the application thread; the exporter thread does that.
        ///
        /// JSON fields carry the text exactly as the SDK holds it (`json.dumps` output in
        /// Python, `JSON.stringify` output in Node). `None` means "absent", which is not the
        /// same as an empty string for the optional fields (it is for `output_value_json`: both
        /// become `{}`). The fields are the span schema's rows ([`SPAN_FIELDS`]).
        #[derive(Debug, Clone, Copy)]
        pub struct SpanRecord<'a> {
            pub sdk: SdkFlavor,
            pub sdk_version: &'a str,
            $($(#[$meta])* pub $name: record_type!($kind, 'a),)+
        }

        /// A record read back from bytes, borrowing every field from them. All text fields
        /// (JSON included) are checked to be valid UTF-8.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct DecodedRecord<'a> {
            pub sdk: SdkFlavor,
            pub sdk_version: &'a str,
            $($(#[$meta])* pub $name: decoded_type!($kind, 'a),)+
        }

        impl<'a> SpanRecord<'a> {
            /// The length-prefixed fields, in wire order.
            pub(crate) fn wire_fields(&self) -> [Option<&'a [u8]>; WIRE_FIELD_COUNT] {
                let mut out = [None; WIRE_FIELD_COUNT];
                out[0] = Some(self.sdk_version.as_bytes());
                let mut next = 1;
                $(put_wire!($kind, self.$name, out, next);)+
                debug_assert_eq!(next, WIRE_FIELD_COUNT);
                out
            }

            /// Writes the header fields of the schema into `out` (the header's framing is the
            /// encoder's) and returns the flags byte.
            pub(crate) fn put_header_fields(&self, out: &mut [u8]) -> u8 {
                let mut flags = 0u8;
                $(put_header!($kind, $at, self.$name, out, flags);)+
                flags
            }
        }

        impl<'a> DecodedRecord<'a> {
            /// Assembles a record from its checked length-prefixed fields and its header bytes.
            pub(crate) fn from_parts(
                sdk: SdkFlavor,
                fields: &[Option<&'a str>; WIRE_FIELD_COUNT],
                bytes: &[u8],
                flags: u8,
            ) -> Result<Self, RecordError> {
                let mut next = 1;
                let record = DecodedRecord {
                    sdk,
                    sdk_version: fields[0].ok_or(RecordError::MissingField {
                        field: "sdk_version",
                    })?,
                    $($name: get_field!($kind, $name, $at, fields, next, bytes, flags),)+
                };
                debug_assert_eq!(next, WIRE_FIELD_COUNT);
                Ok(record)
            }
        }
    };
}

use super::RecordError;
use super::encode::Timestamp;
use super::layout::*;

crate::with_span_fields!(define_record);

/// Names of the length-prefixed fields, in wire order: `sdk_version`, then the schema's text rows.
pub(crate) const WIRE_FIELD_NAMES: [&str; WIRE_FIELD_COUNT] = {
    let mut names = [""; WIRE_FIELD_COUNT];
    names[0] = "sdk_version";
    let mut next = 1;
    let mut row = 0;
    while row < SPAN_FIELDS.len() {
        if SPAN_FIELDS[row].kind.is_length_prefixed() {
            names[next] = SPAN_FIELDS[row].name;
            next += 1;
        }
        row += 1;
    }
    names
};

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte layout of version 1 (`docs/record-format.md`, "Fields"): the table must keep it.
    #[test]
    fn wire_order_is_record_version_1() {
        assert_eq!(
            WIRE_FIELD_NAMES,
            [
                "sdk_version",
                "trace_id",
                "span_id",
                "parent_span_id",
                "name",
                "package_name",
                "instrumentation_name",
                "submodule_name",
                "environment",
                "status_message",
                "input_value_json",
                "output_value_json",
                "input_schema_merges_json",
                "output_schema_merges_json",
                "metadata_json",
                "transform_metadata_json",
                "stack_trace",
            ]
        );
    }

    #[test]
    fn js_names_are_the_camel_case_of_the_rust_names() {
        let mut js = Vec::new();
        for spec in SPAN_FIELDS {
            match spec.kind {
                FieldKind::Time => {
                    assert_eq!(
                        spec.js_names,
                        [
                            crate::camel_case(&format!("{}_seconds", spec.name)),
                            crate::camel_case(&format!("{}_nanos", spec.name))
                        ]
                    );
                }
                _ => assert_eq!(spec.js_names, [crate::camel_case(spec.name)]),
            }
            js.extend(spec.js_names.iter().copied());
        }
        assert_eq!(js.len(), 25, "the JavaScript span has 25 fields");
    }
}
