//! drift-core-rs: the pure Rust core of the Tusk Drift SDKs.
//!
//! It keeps the behaviour of the published `drift-core-python` 0.1.9 byte for byte (every hash a
//! stored recording was matched on) while parsing each payload once:
//!
//! * [`parse_json`] reads a JSON text into a [`Value`] (serde_json's language and data model; strings
//!   without escapes borrow from the text; objects sorted in place, last duplicate wins).
//! * [`canonical`] writes the canonical text (sorted keys, compact, our own number formatting) and
//!   [`hash`] streams it into SHA-256.
//! * [`process_export_value`] computes, in one walk, the normalized text, the decoded value's text
//!   and hash, the typed [`JsonSchema`] and its hash, and the protobuf `Struct` bytes.
//! * [`build_span_proto_bytes`] encodes a `tusk.drift.core.v1.Span` from a [`SpanInput`];
//!   [`ExportRequestBuilder`] / [`build_export_spans_request_bytes`] append validated span bytes into a
//!   `tusk.drift.backend.v1.ExportSpansRequest` without decoding them.
//!
//! The text functions (`normalize_json`, `deterministic_hash`, ...) mirror the published API names.
//!
//! ```
//! use drift_core_rs::{SpanInput, SpanPayload, build_span_proto_bytes, normalize_and_hash, process_export_payload};
//!
//! let (text, hash) = normalize_and_hash(r#"{"b": 2, "a": 1.0}"#).unwrap();
//! assert_eq!(text, r#"{"a":1.0,"b":2}"#);
//! assert_eq!(hash.len(), 64);
//!
//! // An HTTP body the SDK marked as base64-encoded JSON.
//! let payload = process_export_payload(
//!     r#"{"body": "eyJ4IjogMX0=", "method": "GET"}"#,
//!     Some(r#"{"body": {"encoding": 1, "decoded_type": 1}}"#),
//! )
//! .unwrap();
//! assert_eq!(payload.decoded_json, r#"{"body":{"x":1},"method":"GET"}"#);
//!
//! let mut span = SpanInput::default();
//! span.identity.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
//! // The payload's own `Struct` bytes: copied into the span without being checked again.
//! span.payloads.input = payload.span_struct_bytes();
//! span.hashes.input_value_hash = &payload.decoded_value_hash;
//! let bytes = build_span_proto_bytes(&span).unwrap();
//! assert!(drift_core_rs::validate_span_bytes(&bytes).is_ok());
//! ```

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

pub mod canonical;
mod error;
pub mod hash;
mod merges;
mod number;
mod parse;
mod payload;
mod pb_struct;
mod request;
mod scan;
mod schema;
mod span;
mod value;
mod wire;

pub use error::CoreError;
pub use merges::{SchemaMerge, SchemaMerges, parse_schema_merges};
pub use parse::{
    JsonFlavour, MAX_DEPTH, ParseOptions, parse_json, parse_json_read_once, parse_json_with,
};
pub use payload::{
    ExportPayload, ProcessedPayload, process_export_payload, process_export_payload_with,
    process_export_value,
};
pub use pb_struct::{
    object_to_protobuf_struct_bytes, object_to_protobuf_struct_field_count, value_to_struct_bytes,
};
pub use request::{ExportRequestBuilder, build_export_spans_request_bytes};
pub use schema::{JsonSchema, schema_type};
pub use span::{
    ProducedStructBytes, SpanClassification, SpanFlags, SpanHashes, SpanIdentity, SpanInput,
    SpanPayload, SpanPayloads, SpanStatusInput, SpanTiming, build_span_proto_bytes,
};
pub use value::{Member, Object, Value};
pub use wire::validate_span_bytes;

/// The protobuf contracts this crate encodes, re-exported so that users decode with the same version.
pub use tusk_drift_schemas;

/// Canonical JSON text of `json`: keys sorted by UTF-8 bytes at every level, compact, numbers in the
/// published core's format.
///
/// Errors: [`CoreError::InvalidJson`] / [`CoreError::RecursionLimit`] with serde_json's message.
pub fn normalize_json(json: &str) -> Result<String, CoreError> {
    let mut out = Vec::with_capacity(json.len());
    parse::normalize_text(json, &mut out)?;
    Ok(canonical::into_string(out))
}

/// [`normalize_json`] appending to `out` (bindings reuse one buffer and copy the text out).
/// On error `out` may hold a partial text: truncate it to its previous length.
///
/// The bytes appended are valid UTF-8 (the canonical text).
pub fn normalize_json_into(json: &str, out: &mut Vec<u8>) -> Result<(), CoreError> {
    out.reserve(json.len());
    parse::normalize_text(json, out)
}

/// Lowercase hex SHA-256 of the canonical text of `json`.
pub fn deterministic_hash(json: &str) -> Result<String, CoreError> {
    hash::with_text_buffer(json.len(), |out| {
        parse::normalize_text(json, out)?;
        Ok(hash::sha256_hex(out))
    })
}

/// `(canonical_text, deterministic_hash)` of `json`, from one parse and one write.
pub fn normalize_and_hash(json: &str) -> Result<(String, String), CoreError> {
    let text = normalize_json(json)?;
    let hash = hash::sha256_hex(text.as_bytes());
    Ok((text, hash))
}
