//! `tusk.drift.core.v1.Span` bytes from a typed input, encoded by hand in field order.
//!
//! The bytes decode (with the `tusk-drift-schemas` types) to exactly the message the published
//! builder produces, and are deterministic: schema `properties` are written in key order, where
//! the published builder's `HashMap` made its bytes vary from run to run.

use prost::encoding::{encode_varint, encoded_len_varint};

use crate::CoreError;
use crate::pb_struct::value_to_struct_bytes;
use crate::schema::JsonSchema;
use crate::value::Value;
use crate::wire::validate_struct_bytes;

/// Who the span is.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SpanIdentity<'a> {
    /// Trace id (hex).
    pub trace_id: &'a str,
    /// Span id (hex).
    pub span_id: &'a str,
    /// Parent span id; empty for a root span.
    pub parent_span_id: &'a str,
    /// Display name, e.g. `GET /users`.
    pub name: &'a str,
}

/// What produced the span.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SpanClassification<'a> {
    /// Package, e.g. `http`, `pg`.
    pub package_name: &'a str,
    /// Instrumentation class name.
    pub instrumentation_name: &'a str,
    /// Submodule, e.g. `GET`, `query`.
    pub submodule_name: &'a str,
    /// `PackageType`, 0..=11.
    pub package_type: i32,
    /// `SpanKind`, 0..=5.
    pub kind: i32,
    /// Environment name; `None` leaves the optional field unset.
    pub environment: Option<&'a str>,
}

/// An input or output value of a span.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum SpanPayload<'a> {
    /// No value: an empty `Struct`.
    #[default]
    None,
    /// A JSON value; its `Struct` is encoded (a value that is not an object gives an empty one).
    Value(&'a Value<'a>),
    /// Prebuilt `Struct` bytes (e.g. `ProcessedPayload::protobuf_struct_bytes`), checked and
    /// copied as they are.
    StructBytes(&'a [u8]),
    /// `Struct` bytes this crate produced itself, copied without the check `StructBytes` does
    /// (the wire walk over them costs about a tenth of an exporter's span building). Only
    /// [`ProcessedPayload::span_struct_bytes`](crate::ProcessedPayload::span_struct_bytes) and
    /// [`ExportPayload::span_struct_bytes`](crate::ExportPayload::span_struct_bytes) make one.
    ProducedStructBytes(ProducedStructBytes<'a>),
}

/// `Struct` bytes as [`process_export_value`](crate::process_export_value) /
/// [`process_export_payload`](crate::process_export_payload) produced them: only for bytes this
/// crate produced. It cannot be built from arbitrary bytes outside the crate; it is made by
/// `span_struct_bytes()` from the `protobuf_struct_bytes` field of a processed payload, which
/// that field's owner must not have modified (bytes changed by hand belong in
/// [`SpanPayload::StructBytes`], which checks them). Wrong bytes here could only make an invalid
/// span, never unsafe behaviour, and [`ExportRequestBuilder`](crate::ExportRequestBuilder) still
/// checks every span it is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducedStructBytes<'a>(&'a [u8]);

impl<'a> ProducedStructBytes<'a> {
    /// Wraps bytes that this crate's `Struct` writer produced.
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        ProducedStructBytes(bytes)
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }
}

/// The span's values and schemas.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SpanPayloads<'a> {
    /// Input value.
    pub input: SpanPayload<'a>,
    /// Output value.
    pub output: SpanPayload<'a>,
    /// Input schema; `None` writes an empty schema (the field is always present).
    pub input_schema: Option<&'a JsonSchema<'a>>,
    /// Output schema; `None` writes an empty schema.
    pub output_schema: Option<&'a JsonSchema<'a>>,
    /// Metadata; its `Struct` is always present (empty for `None` or a non-object).
    pub metadata: SpanPayload<'a>,
}

/// Hashes computed by [`process_export_value`](crate::process_export_value).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SpanHashes<'a> {
    /// Hash of the decoded input value.
    pub input_value_hash: &'a str,
    /// Hash of the decoded output value.
    pub output_value_hash: &'a str,
    /// Hash of the input schema.
    pub input_schema_hash: &'a str,
    /// Hash of the output schema.
    pub output_schema_hash: &'a str,
}

/// Completion status.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SpanStatusInput<'a> {
    /// `StatusCode`, 0..=2.
    pub code: i32,
    /// Status message.
    pub message: &'a str,
}

/// Start time and duration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpanTiming {
    /// Start, seconds since the Unix epoch.
    pub timestamp_seconds: i64,
    /// Start, nanoseconds within the second.
    pub timestamp_nanos: i32,
    /// Duration, whole seconds.
    pub duration_seconds: i64,
    /// Duration, nanoseconds part.
    pub duration_nanos: i32,
}

/// Boolean flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpanFlags {
    /// The span happened before the app was marked ready.
    pub is_pre_app_start: bool,
    /// The span is the root of its trace.
    pub is_root_span: bool,
}

/// Everything a `Span` is built from, grouped by meaning. `Default` gives an empty span.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SpanInput<'a> {
    /// Ids and name.
    pub identity: SpanIdentity<'a>,
    /// Package, instrumentation, kind, environment.
    pub classification: SpanClassification<'a>,
    /// Values, schemas, metadata.
    pub payloads: SpanPayloads<'a>,
    /// Value and schema hashes.
    pub hashes: SpanHashes<'a>,
    /// Status code and message.
    pub status: SpanStatusInput<'a>,
    /// Timestamp and duration.
    pub timing: SpanTiming,
    /// Pre-app-start and root flags.
    pub flags: SpanFlags,
}

/// Largest valid `PackageType`.
const MAX_PACKAGE_TYPE: i32 = 11;
/// Largest valid `SpanKind`.
const MAX_SPAN_KIND: i32 = 5;
/// Largest valid `StatusCode`.
const MAX_STATUS_CODE: i32 = 2;

fn check_enum(field: &'static str, value: i32, max: i32) -> Result<(), CoreError> {
    if (0..=max).contains(&value) {
        Ok(())
    } else {
        Err(CoreError::InvalidEnum {
            field,
            value: i64::from(value),
        })
    }
}

/// Encodes a `tusk.drift.core.v1.Span`, as the published `build_span_proto_bytes` does: absent
/// values give empty `Struct`s; status, timestamp, duration, metadata and both schemas are always
/// present; `id` is never set.
///
/// Errors: [`CoreError::InvalidEnum`] naming `package_type`, `kind` or `status_code`;
/// [`CoreError::InvalidProtobuf`] for prebuilt `Struct` bytes that do not decode.
pub fn build_span_proto_bytes(input: &SpanInput<'_>) -> Result<Vec<u8>, CoreError> {
    let c = &input.classification;
    check_enum("package_type", c.package_type, MAX_PACKAGE_TYPE)?;
    check_enum("kind", c.kind, MAX_SPAN_KIND)?;
    check_enum("status_code", input.status.code, MAX_STATUS_CODE)?;

    let input_value = struct_bytes(&input.payloads.input)?;
    let output_value = struct_bytes(&input.payloads.output)?;
    let metadata = struct_bytes(&input.payloads.metadata)?;
    let input_schema = schema_bytes(input.payloads.input_schema);
    let output_schema = schema_bytes(input.payloads.output_schema);

    let id = &input.identity;
    let h = &input.hashes;
    let mut out = Vec::with_capacity(
        256 + input_value.len()
            + output_value.len()
            + metadata.len()
            + input_schema.len()
            + output_schema.len(),
    );
    string_field(&mut out, 1, id.trace_id);
    string_field(&mut out, 2, id.span_id);
    string_field(&mut out, 3, id.parent_span_id);
    string_field(&mut out, 4, id.name);
    string_field(&mut out, 5, c.package_name);
    string_field(&mut out, 6, c.instrumentation_name);
    string_field(&mut out, 7, c.submodule_name);
    varint_field(&mut out, 8, c.package_type as i64 as u64);
    message_field(&mut out, 9, &input_value);
    message_field(&mut out, 10, &output_value);
    message_field(&mut out, 11, &input_schema);
    message_field(&mut out, 12, &output_schema);
    string_field(&mut out, 13, h.input_schema_hash);
    string_field(&mut out, 14, h.output_schema_hash);
    string_field(&mut out, 15, h.input_value_hash);
    string_field(&mut out, 16, h.output_value_hash);
    varint_field(&mut out, 17, c.kind as i64 as u64);
    let mut status = Vec::with_capacity(8 + input.status.message.len());
    varint_field(&mut status, 1, input.status.code as i64 as u64);
    string_field(&mut status, 2, input.status.message);
    message_field(&mut out, 18, &status);
    varint_field(&mut out, 19, u64::from(input.flags.is_pre_app_start));
    let t = &input.timing;
    message_field(
        &mut out,
        20,
        &seconds_nanos(t.timestamp_seconds, t.timestamp_nanos),
    );
    message_field(
        &mut out,
        21,
        &seconds_nanos(t.duration_seconds, t.duration_nanos),
    );
    varint_field(&mut out, 22, u64::from(input.flags.is_root_span));
    message_field(&mut out, 23, &metadata);
    if let Some(environment) = c.environment {
        key(&mut out, 24, 2);
        encode_varint(environment.len() as u64, &mut out);
        out.extend_from_slice(environment.as_bytes());
    }
    Ok(out)
}

fn struct_bytes<'p>(payload: &SpanPayload<'p>) -> Result<std::borrow::Cow<'p, [u8]>, CoreError> {
    Ok(match *payload {
        SpanPayload::None => std::borrow::Cow::Borrowed(&[][..]),
        SpanPayload::Value(value) => std::borrow::Cow::Owned(value_to_struct_bytes(value)?),
        SpanPayload::StructBytes(bytes) => {
            validate_struct_bytes(bytes)?;
            std::borrow::Cow::Borrowed(bytes)
        }
        SpanPayload::ProducedStructBytes(bytes) => {
            // Written by `pb_struct`'s encoder, which the property tests hold to prost's encoding.
            debug_assert!(validate_struct_bytes(bytes.as_bytes()).is_ok());
            std::borrow::Cow::Borrowed(bytes.as_bytes())
        }
    })
}

fn schema_bytes(schema: Option<&JsonSchema<'_>>) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some(schema) = schema {
        out.reserve(schema.encoded_len());
        schema.encode_proto(&mut out);
    }
    out
}

fn seconds_nanos(seconds: i64, nanos: i32) -> Vec<u8> {
    let mut out = Vec::with_capacity(22);
    varint_field(&mut out, 1, seconds as u64);
    varint_field(&mut out, 2, nanos as i64 as u64);
    out
}

#[inline]
fn key(out: &mut Vec<u8>, field: u32, wire_type: u32) {
    encode_varint(u64::from((field << 3) | wire_type), out);
}

/// A proto3 scalar string: omitted when empty, as prost does.
fn string_field(out: &mut Vec<u8>, field: u32, value: &str) {
    if value.is_empty() {
        return;
    }
    key(out, field, 2);
    encode_varint(value.len() as u64, out);
    out.extend_from_slice(value.as_bytes());
}

/// A proto3 scalar varint: omitted when zero, as prost does.
fn varint_field(out: &mut Vec<u8>, field: u32, value: u64) {
    if value == 0 {
        return;
    }
    key(out, field, 0);
    encode_varint(value, out);
}

/// A present message field (written even when empty).
fn message_field(out: &mut Vec<u8>, field: u32, content: &[u8]) {
    key(out, field, 2);
    out.reserve(encoded_len_varint(content.len() as u64) + content.len());
    encode_varint(content.len() as u64, out);
    out.extend_from_slice(content);
}
