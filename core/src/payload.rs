//! `process_export_payload`: normalized text, decoded value text and hash, schema and its hash,
//! and `Struct` bytes, all from one walk over the parsed value.
//!
//! The walk writes the normalized text and the `Struct` bytes side by side and builds the schema
//! on the way back up. The decoded value differs from the normalized one only at top-level keys
//! that a schema merge decodes, so its text is the normalized text with those members replaced:
//! unchanged members are copied as bytes, never re-serialized, and when nothing is decoded the
//! decoded text *is* the normalized text.

use std::borrow::Cow;

use base64::Engine as _;

use crate::CoreError;
use crate::canonical::{self, write_scalar, write_str};
use crate::hash::sha256_hex;
use crate::merges::{SchemaMerge, SchemaMerges, parse_schema_merges};
use crate::parse::{ParseOptions, parse_json, parse_json_with, write_decoded_body};
use crate::pb_struct::{
    begin_element, begin_entry, container_tag, finish_element, finish_entry, leaf_len,
    write_leaf_element, write_leaf_entry,
};
use crate::schema::{JsonSchema, schema_type};
use crate::span::{ProducedStructBytes, SpanPayload};
use crate::value::Value;

/// Nesting the published binding accepts for an in-memory value (it serializes it and re-parses
/// the text with serde_json, whose limit is 128 levels).
const VALUE_MAX_DEPTH: usize = 127;

/// `EncodingType::Base64`.
const ENCODING_BASE64: i32 = 1;
/// `DecodedType::Json`.
const DECODED_TYPE_JSON: i32 = 1;

/// What the published `process_export_payload` returns.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportPayload {
    /// Canonical text of the payload.
    pub normalized_json: String,
    /// Canonical text of the payload after the schema merges' decoding.
    pub decoded_json: String,
    /// SHA-256 of `decoded_json`.
    pub decoded_value_hash: String,
    /// Canonical text of the decoded value's schema.
    pub decoded_schema_json: String,
    /// SHA-256 of `decoded_schema_json`.
    pub decoded_schema_hash: String,
    /// `Struct` bytes of the normalized (not decoded) payload; empty unless it is an object.
    pub protobuf_struct_bytes: Vec<u8>,
}

/// Everything [`process_export_value`] computes, typed, for the bindings and the exporter.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessedPayload<'a> {
    /// The normalized value (the input; objects are always kept sorted).
    pub normalized: Value<'a>,
    /// Canonical text of `normalized`.
    pub normalized_json: String,
    /// Canonical text of the decoded value.
    pub decoded_json: String,
    /// SHA-256 of `decoded_json`.
    pub decoded_value_hash: String,
    /// Schema of the decoded value (what `Span.input_schema`/`output_schema` carry).
    pub decoded_schema: JsonSchema<'a>,
    /// Canonical text of `decoded_schema`.
    pub decoded_schema_json: String,
    /// SHA-256 of `decoded_schema_json`.
    pub decoded_schema_hash: String,
    /// `Struct` bytes of `normalized`; empty unless it is an object.
    pub protobuf_struct_bytes: Vec<u8>,
}

impl ProcessedPayload<'_> {
    /// [`protobuf_struct_bytes`](Self::protobuf_struct_bytes) as a span payload that
    /// [`build_span_proto_bytes`](crate::build_span_proto_bytes) copies without checking them
    /// again: only for bytes this crate produced, so do not modify the field before calling it
    /// (use [`SpanPayload::StructBytes`] for bytes from anywhere else).
    pub fn span_struct_bytes(&self) -> SpanPayload<'_> {
        SpanPayload::ProducedStructBytes(ProducedStructBytes::new(&self.protobuf_struct_bytes))
    }
}

impl ExportPayload {
    /// [`protobuf_struct_bytes`](Self::protobuf_struct_bytes) as a span payload copied without a
    /// second check; same contract as [`ProcessedPayload::span_struct_bytes`].
    pub fn span_struct_bytes(&self) -> SpanPayload<'_> {
        SpanPayload::ProducedStructBytes(ProducedStructBytes::new(&self.protobuf_struct_bytes))
    }
}

impl From<ProcessedPayload<'_>> for ExportPayload {
    fn from(p: ProcessedPayload<'_>) -> Self {
        ExportPayload {
            normalized_json: p.normalized_json,
            decoded_json: p.decoded_json,
            decoded_value_hash: p.decoded_value_hash,
            decoded_schema_json: p.decoded_schema_json,
            decoded_schema_hash: p.decoded_schema_hash,
            protobuf_struct_bytes: p.protobuf_struct_bytes,
        }
    }
}

/// The published `process_export_payload(payload_json, schema_merges_json)`.
///
/// Errors: invalid payload or merges JSON ([`CoreError::InvalidJson`], [`CoreError::RecursionLimit`]).
pub fn process_export_payload(
    payload_json: &str,
    schema_merges_json: Option<&str>,
) -> Result<ExportPayload, CoreError> {
    let value = parse_json(payload_json)?;
    let merges = match schema_merges_json {
        Some(json) => parse_schema_merges(json)?,
        None => SchemaMerges::new(),
    };
    process_export_value_sized(value, &merges, payload_json.len()).map(ExportPayload::from)
}

/// [`process_export_payload`] for a text in another dialect (e.g. Python's `json.dumps` output,
/// to get the hashes `process_export_payload_pyobject(json.loads(text))` gives).
pub fn process_export_payload_with(
    payload_json: &str,
    options: ParseOptions,
    merges: &SchemaMerges,
) -> Result<ExportPayload, CoreError> {
    let value = parse_json_with(payload_json, options)?;
    process_export_value_sized(value, merges, payload_json.len()).map(ExportPayload::from)
}

/// The value form of `process_export_payload` (what the published
/// `process_export_payload_pyobject` computes), in one walk over `value`.
///
/// Errors: [`CoreError::ValueTooDeep`] for a value nested deeper than 127 levels.
pub fn process_export_value<'a>(
    value: Value<'a>,
    merges: &SchemaMerges,
) -> Result<ProcessedPayload<'a>, CoreError> {
    process_export_value_sized(value, merges, 256)
}

/// [`process_export_value`] with the size of the source text, to size the output buffers once.
fn process_export_value_sized<'a>(
    value: Value<'a>,
    merges: &SchemaMerges,
    capacity_hint: usize,
) -> Result<ProcessedPayload<'a>, CoreError> {
    let mut walk = Walk {
        text: Vec::with_capacity(capacity_hint),
        pb: Vec::new(),
    };
    let mut decoded_text: Option<Vec<u8>> = None;
    let schema = match &value {
        Value::Object(object) => {
            walk.pb.reserve(capacity_hint + capacity_hint / 4);
            let mut properties = Vec::with_capacity(object.len());
            walk.text.push(b'{');
            for (i, (key, child)) in object.members().iter().enumerate() {
                let member_start = walk.text.len();
                if i > 0 {
                    walk.text.push(b',');
                }
                write_str(key, &mut walk.text);
                walk.text.push(b':');
                let mut child_schema = walk.member(key, child, 1)?;
                if let Some(rule) = merges.get(key) {
                    // The candidate text lives for this member only.
                    let candidate = decode_candidate(child, rule);
                    let is_json = rule.decoded_type == Some(DECODED_TYPE_JSON);
                    match &candidate {
                        Some((text, changed)) if is_json || *changed => {
                            let was_none = decoded_text.is_none();
                            let out = decoded_text.get_or_insert_with(|| {
                                // Sized once: the decoded text is about as long as the normalized
                                // one (a body is shorter decoded than in base64), so it rarely
                                // regrows.
                                let mut out = Vec::with_capacity(
                                    walk.text.capacity().max(member_start + text.len() + 64),
                                );
                                out.extend_from_slice(&walk.text[..member_start]);
                                out
                            });
                            let mark = out.len();
                            if i > 0 {
                                out.push(b',');
                            }
                            write_str(key, out);
                            out.push(b':');
                            let value_start = out.len();
                            // A JSON body is written straight from its text, its schema read
                            // on the way (no value tree); a text that is not JSON is undone.
                            let written = if is_json {
                                write_decoded_body(text, out)
                            } else {
                                None
                            };
                            match written {
                                Some(schema) => child_schema = schema,
                                None if *changed => {
                                    out.truncate(value_start);
                                    write_str(text, out);
                                    child_schema = JsonSchema::of_type(schema_type::STRING);
                                }
                                None if was_none => decoded_text = None,
                                None => {
                                    out.truncate(mark);
                                    out.extend_from_slice(&walk.text[member_start..]);
                                }
                            }
                        }
                        _ => {
                            if let Some(out) = decoded_text.as_mut() {
                                out.extend_from_slice(&walk.text[member_start..]);
                            }
                        }
                    }
                    annotate(&mut child_schema, rule);
                } else if let Some(out) = decoded_text.as_mut() {
                    out.extend_from_slice(&walk.text[member_start..]);
                }
                properties.push((key.clone(), child_schema));
            }
            walk.text.push(b'}');
            if let Some(out) = decoded_text.as_mut() {
                out.push(b'}');
            }
            JsonSchema {
                schema_type: schema_type::OBJECT,
                properties,
                ..JsonSchema::default()
            }
        }
        other => walk.element_without_pb(other, 0)?,
    };
    let normalized_json = canonical::into_string(walk.text);
    let decoded_json = match decoded_text {
        Some(bytes) => canonical::into_string(bytes),
        None => normalized_json.clone(),
    };
    let decoded_value_hash = sha256_hex(decoded_json.as_bytes());
    let mut schema_text = Vec::with_capacity(128);
    schema.write_json(&mut schema_text);
    let decoded_schema_hash = sha256_hex(&schema_text);
    Ok(ProcessedPayload {
        normalized: value,
        normalized_json,
        decoded_json,
        decoded_value_hash,
        decoded_schema: schema,
        decoded_schema_json: canonical::into_string(schema_text),
        decoded_schema_hash,
        protobuf_struct_bytes: walk.pb,
    })
}

/// Adds a merge rule's annotations to a top-level member's schema.
fn annotate(schema: &mut JsonSchema<'_>, rule: &SchemaMerge) {
    if rule.encoding.is_some() {
        schema.encoding = rule.encoding;
    }
    if rule.decoded_type.is_some() {
        schema.decoded_type = rule.decoded_type;
    }
    if let Some(m) = rule.match_importance.filter(|m| m.is_finite()) {
        schema.match_importance = Some(m);
    }
}

/// The text a merge rule makes of a top-level string value: base64-decoded (lossy UTF-8) when the
/// rule says BASE64 and the string is valid padded base64, else the string itself. The flag says
/// whether decoding changed it. `None` for values that are not strings.
fn decode_candidate<'v>(value: &'v Value<'_>, rule: &SchemaMerge) -> Option<(Cow<'v, str>, bool)> {
    let original = value.as_str()?;
    if rule.encoding == Some(ENCODING_BASE64)
        && let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(original)
    {
        let text = match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        return Some((Cow::Owned(text), true));
    }
    Some((Cow::Borrowed(original), false))
}

/// Text and schema of a decoded value (no `Struct` bytes: those are of the normalized value).
#[cfg(test)]
fn write_decoded(
    value: &Value<'_>,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<JsonSchema<'static>, CoreError> {
    Ok(match value {
        Value::Object(object) => {
            check_stack(depth, out)?;
            out.push(b'{');
            let mut properties = Vec::with_capacity(object.len());
            for (i, (key, child)) in object.members().iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(key, out);
                out.push(b':');
                let schema = write_decoded(child, out, depth + 1)?;
                properties.push((Cow::Owned(key.to_string()), schema));
            }
            out.push(b'}');
            JsonSchema {
                schema_type: schema_type::OBJECT,
                properties,
                ..JsonSchema::default()
            }
        }
        Value::Array(items) => {
            check_stack(depth, out)?;
            out.push(b'[');
            let mut first = None;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                    canonical::write_value(item, out)?;
                } else {
                    first = Some(write_decoded(item, out, depth + 1)?);
                }
            }
            out.push(b']');
            JsonSchema {
                schema_type: schema_type::ORDERED_LIST,
                items: first.map(Box::new),
                ..JsonSchema::default()
            }
        }
        scalar => {
            write_scalar(scalar, out);
            JsonSchema::of_type(scalar_type(scalar))
        }
    })
}

#[cfg(test)]
fn check_stack(depth: usize, out: &[u8]) -> Result<(), CoreError> {
    if depth >= canonical::STACK_SAFETY_DEPTH {
        return Err(CoreError::ValueTooDeep {
            column: out.len() + 1,
        });
    }
    Ok(())
}

/// Schema type of a scalar.
fn scalar_type(value: &Value<'_>) -> i32 {
    match value {
        Value::Null => schema_type::NULL,
        Value::Float(f) if !f.is_finite() => schema_type::NULL,
        Value::Bool(_) => schema_type::BOOLEAN,
        Value::Int(_) | Value::UInt(_) | Value::Float(_) => schema_type::NUMBER,
        Value::String(_) => schema_type::STRING,
        Value::Array(_) => schema_type::ORDERED_LIST,
        Value::Object(_) => schema_type::OBJECT,
    }
}

/// The outputs of the walk over the normalized value.
struct Walk {
    /// Canonical text.
    text: Vec<u8>,
    /// `Struct` bytes.
    pb: Vec<u8>,
}

impl Walk {
    /// Level check of the published binding (see [`VALUE_MAX_DEPTH`]); `level` counts containers.
    fn enter(&self, level: usize) -> Result<(), CoreError> {
        if level > VALUE_MAX_DEPTH {
            return Err(CoreError::ValueTooDeep {
                column: self.text.len() + 1,
            });
        }
        Ok(())
    }

    /// Writes an object member's value (text and `Struct` entry) and returns its schema.
    /// `level` is the number of containers around `value`.
    fn member<'a>(
        &mut self,
        key: &str,
        value: &Value<'a>,
        level: usize,
    ) -> Result<JsonSchema<'a>, CoreError> {
        if let Some(len) = leaf_len(value) {
            write_leaf_entry(key, value, len, &mut self.pb);
            write_scalar(value, &mut self.text);
            return Ok(JsonSchema::of_type(scalar_type(value)));
        }
        let mark = begin_entry(&mut self.pb, key);
        let schema = self.container(value, level, true)?;
        finish_entry(&mut self.pb, mark, key, container_tag(value));
        Ok(schema.unwrap_or_default())
    }

    /// Writes an array element (text and `ListValue` element); its schema only if `want_schema`.
    fn element<'a>(
        &mut self,
        value: &Value<'a>,
        level: usize,
        want_schema: bool,
    ) -> Result<Option<JsonSchema<'a>>, CoreError> {
        if let Some(len) = leaf_len(value) {
            write_leaf_element(value, len, &mut self.pb);
            write_scalar(value, &mut self.text);
            return Ok(want_schema.then(|| JsonSchema::of_type(scalar_type(value))));
        }
        let mark = begin_element(&mut self.pb);
        let schema = self.container(value, level, want_schema)?;
        finish_element(&mut self.pb, mark, container_tag(value));
        Ok(schema)
    }

    /// The top-level value when it is not an object: text and schema, no `Struct` bytes.
    fn element_without_pb<'a>(
        &mut self,
        value: &Value<'a>,
        level: usize,
    ) -> Result<JsonSchema<'a>, CoreError> {
        let schema = self.element(value, level, true)?;
        self.pb.clear();
        Ok(schema.unwrap_or_default())
    }

    /// Writes the content of an array or object (its `Struct`/`ListValue` fields go to `pb`
    /// without a header; the caller inserts it).
    fn container<'a>(
        &mut self,
        value: &Value<'a>,
        level: usize,
        want_schema: bool,
    ) -> Result<Option<JsonSchema<'a>>, CoreError> {
        self.enter(level + 1)?;
        match value {
            Value::Object(object) => {
                self.text.push(b'{');
                let mut properties = Vec::with_capacity(if want_schema { object.len() } else { 0 });
                for (i, (key, child)) in object.members().iter().enumerate() {
                    if i > 0 {
                        self.text.push(b',');
                    }
                    write_str(key, &mut self.text);
                    self.text.push(b':');
                    if want_schema {
                        let schema = self.member(key, child, level + 1)?;
                        properties.push((key.clone(), schema));
                    } else {
                        self.member_without_schema(key, child, level + 1)?;
                    }
                }
                self.text.push(b'}');
                Ok(want_schema.then(|| JsonSchema {
                    schema_type: schema_type::OBJECT,
                    properties,
                    ..JsonSchema::default()
                }))
            }
            Value::Array(items) => {
                self.text.push(b'[');
                let mut first = None;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.text.push(b',');
                    }
                    let schema = self.element(item, level + 1, want_schema && i == 0)?;
                    if i == 0 {
                        first = schema;
                    }
                }
                self.text.push(b']');
                Ok(want_schema.then(|| JsonSchema {
                    schema_type: schema_type::ORDERED_LIST,
                    items: first.map(Box::new),
                    ..JsonSchema::default()
                }))
            }
            _ => Ok(None),
        }
    }

    fn member_without_schema(
        &mut self,
        key: &str,
        value: &Value<'_>,
        level: usize,
    ) -> Result<(), CoreError> {
        if let Some(len) = leaf_len(value) {
            write_leaf_entry(key, value, len, &mut self.pb);
            write_scalar(value, &mut self.text);
            return Ok(());
        }
        let mark = begin_entry(&mut self.pb, key);
        self.container(value, level, false)?;
        finish_entry(&mut self.pb, mark, key, container_tag(value));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::write_decoded;
    use crate::parse::{try_parse_decoded_body, write_decoded_body};

    /// The one-pass body writer against parsing the body and writing the tree: same text, same
    /// schema, same acceptance.
    fn check_body(text: &str) -> Result<(), TestCaseError> {
        let tree = try_parse_decoded_body(text).map(|value| {
            let mut out = b"prefix".to_vec();
            let schema = write_decoded(&value, &mut out, 0).unwrap();
            (out, schema)
        });
        let mut out = b"prefix".to_vec();
        let one_pass = write_decoded_body(text, &mut out).map(|schema| (out, schema));
        prop_assert_eq!(one_pass, tree, "{:?}", text);
        Ok(())
    }

    #[test]
    fn decoded_body_edge_cases() {
        for text in [
            "{}",
            "[]",
            "[[]]",
            "[{}]",
            r#"{"b":[{"y":1,"x":[true,null]},{"z":2}],"a":"s","b":2}"#,
            r#"[{"id":1,"b":2.5,"a":-0.0},{"id":2}]"#,
            r#"{"a":1,"a":{"k":[1e21,-0,5.394009208741125e-155]},"\u00e9":"\ud83d\ude00"}"#,
            r#"{"é":1,"e":2,"😀":3,"a\u0000":4,"a":5}"#,
            "94e25",
            "18446744073709551616",
            "\"x\"",
            "null",
            "true",
            "[1,]",
            "{\"a\":1",
            "not json",
            "",
            "[1] 2",
        ] {
            check_body(text).unwrap();
        }
        for depth in [1, 126, 127, 128] {
            check_body(&format!("{}{}", "[".repeat(depth), "]".repeat(depth))).unwrap();
        }
    }

    #[test]
    fn decoded_body_fixtures() {
        let fixtures = include_str!("../../tests/fixtures/span_payloads.jsonl");
        for line in fixtures.lines().filter(|line| !line.trim().is_empty()) {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            check_body(&serde_json::to_string(&record["value"]).unwrap()).unwrap();
            if let Some(value) = record["value"].as_object() {
                for member in value.values() {
                    if let Some(text) = member.as_str() {
                        check_body(text).unwrap();
                    }
                }
            }
        }
    }

    /// JSON-ish bodies: objects with unsorted and duplicate keys, arrays of objects of
    /// different shapes (the schema is the first element's), every kind of scalar.
    fn body() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("null".to_owned()),
            Just("true".to_owned()),
            Just("false".to_owned()),
            Just("-0".to_owned()),
            Just("1e21".to_owned()),
            Just("94e25".to_owned()),
            Just("\"\\u00e9\\n\"".to_owned()),
            "-?[0-9]{1,20}(\\.[0-9]{1,18})?([eE][+-]?[0-9]{1,3})?",
            "\"[a-z]{0,5}\"",
        ];
        leaf.prop_recursive(5, 40, 5, |inner| {
            let key = prop_oneof![Just("a"), Just("b"), Just("é"), Just("a\\u0000"), Just("")];
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5)
                    .prop_map(|items| format!("[{}]", items.join(","))),
                prop::collection::vec((key, inner), 0..5).prop_map(|members| {
                    let members: Vec<String> = members
                        .into_iter()
                        .map(|(k, v)| format!("\"{k}\": {v}"))
                        .collect();
                    format!("{{ {} }}", members.join(" , "))
                }),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn decoded_body_one_pass_equals_the_tree(text in body()) {
            check_body(&text)?;
        }
    }
}
