//! The Node SDK flavour (`@use-tusk/drift-node-sdk` 0.1.27): what its stock export path does
//! with an ended span, reproduced from the record's attribute texts.
//!
//! * `SpanTransformer.transformSpanToCleanJSON`: the input is always `JSON.parse`d (an invalid
//!   text loses the span); the output only when its attribute is non-empty (else `{}`, hashed
//!   without merges); merges are `JSON.parse`d when non-empty; metadata when non-empty;
//!   transform metadata when non-empty and valid.
//! * `JsonSchemaHelper.generateSchemaAndHash`: values are hashed after `JSON.parse` (so `0.0`
//!   is `0`), members named in the merges are decoded (`decodeDataWithMerges`), the schema of
//!   the decoded value has camelCase merge keys spread into the top-level members
//!   (`{...generated, ...merge}`), and both hashes are SHA-256 of `JSON.stringify` after
//!   `sortObjectKeysRecursively`.
//! * `FilesystemSpanAdapter`: one `JSON.stringify(cleanSpan)` per line, OpenTelemetry's kind
//!   numbering, optional keys left out when undefined.
//! * `ApiSpanAdapter.transformSpanToProtobuf`: proto kind numbering, `Struct`s from the parsed
//!   (not decoded) values, no transform metadata.

use std::borrow::Cow;

use drift_core_rs::{
    Object, SpanHashes, SpanPayload, SpanPayloads, Value, build_span_proto_bytes, hash::sha256_hex,
};

use super::js::{self, JsObject, JsValue};
use super::schema::Schema;
use crate::process::ProcessError;
use crate::record::DecodedRecord;

/// `EncodingType.BASE64` and `DecodedType.JSON`.
const ENCODING_BASE64: f64 = 1.0;
const DECODED_TYPE_JSON: f64 = 1.0;

fn json_error(field: &'static str, error: js::JsParseError) -> ProcessError {
    ProcessError::Node {
        field,
        message: error.to_string(),
    }
}

/// One side of a span as the SDK computes it.
pub(crate) struct Side<'t> {
    /// The parsed attribute (what the span carries as `inputValue`/`outputValue`).
    pub value: &'t JsValue<'t>,
    /// The schema of the decoded value, merges applied.
    pub schema: Schema<'t>,
    pub value_hash: String,
    pub schema_hash: String,
}

thread_local! {
    /// The text being hashed, kept per thread: four hashes per span would otherwise regrow a
    /// fresh buffer to the size of the value each time.
    static HASH_TEXT: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// SHA-256 of the text `write` writes (`JSON.stringify(sortObjectKeysRecursively(value))`).
fn hash(write: impl FnOnce(&mut String)) -> String {
    HASH_TEXT.with_borrow_mut(|text| {
        text.clear();
        write(text);
        let hash = sha256_hex(text.as_bytes());
        // A rare huge value does not keep its buffer.
        if text.capacity() > 1 << 20 {
            *text = String::new();
        }
        hash
    })
}

/// The value of each base64 character for Node's decoder (both alphabets), [`PAD`] for `=`,
/// [`OTHER`] for characters it skips.
const SEXTET: [u8; 256] = {
    let mut table = [OTHER; 256];
    let mut i = 0;
    while i < 26 {
        table[b'A' as usize + i] = i as u8;
        table[b'a' as usize + i] = 26 + i as u8;
        i += 1;
    }
    let mut digit = 0;
    while digit < 10 {
        table[b'0' as usize + digit] = 52 + digit as u8;
        digit += 1;
    }
    table[b'+' as usize] = 62;
    table[b'-' as usize] = 62;
    table[b'/' as usize] = 63;
    table[b'_' as usize] = 63;
    table[b'=' as usize] = PAD;
    table
};
const PAD: u8 = 64;
const OTHER: u8 = 65;

/// `Buffer.from(text, 'base64').toString('utf8')`: both alphabets (`+/` and `-_`), other
/// characters skipped, decoding stops at `=`, a trailing partial byte is dropped; invalid UTF-8
/// becomes U+FFFD.
fn node_base64_to_utf8(text: &str) -> String {
    let input = text.as_bytes();
    let mut bytes = Vec::with_capacity(input.len() / 4 * 3 + 3);
    // Whole groups of four alphabet characters (all of a well-formed body but its end), three
    // bytes at a time; the character-by-character loop below takes over at the first group
    // with padding or a skipped character.
    let mut at = 0;
    for group in input.chunks_exact(4) {
        let [a, b, c, d] = [0, 1, 2, 3].map(|i| SEXTET[usize::from(group[i])]);
        if (a | b | c | d) >= PAD {
            break;
        }
        let bits = u32::from(a) << 18 | u32::from(b) << 12 | u32::from(c) << 6 | u32::from(d);
        bytes.extend_from_slice(&[(bits >> 16) as u8, (bits >> 8) as u8, bits as u8]);
        at += 4;
    }
    let (mut bits, mut count) = (0u32, 0u32);
    for &byte in &input[at..] {
        let sextet = match SEXTET[usize::from(byte)] {
            PAD => break,
            OTHER => continue,
            sextet => sextet,
        };
        bits = (bits << 6) | u32::from(sextet);
        count += 6;
        if count >= 8 {
            count -= 8;
            bytes.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
    }
}

/// One member `decodeDataWithMerges` decodes: its key, its text, and the text decoded.
pub(crate) struct Decoding<'a> {
    key: js::Text<'a>,
    original: js::Text<'a>,
    decoded: String,
    /// `decodedType` is JSON (1): a failed parse keeps the original text.
    json: bool,
    /// `decodedType` absent or falsy: a failed parse keeps the decoded text.
    try_json: bool,
}

/// The first half of `decodeDataWithMerges`: which members are decoded, and their decoded
/// texts. The caller keeps the texts so that the values parsed from them borrow their strings
/// and keys instead of copying each one.
fn decodings<'a>(
    data: &JsValue<'a>,
    merges: Option<&JsValue<'a>>,
) -> Result<Vec<Decoding<'a>>, ProcessError> {
    let mut found = Vec::new();
    // `if (!schemaMerges) return data`.
    let Some(merges) = merges.filter(|merges| merges.truthy()) else {
        return Ok(found);
    };
    let spread;
    let rules = match merges {
        JsValue::Object(object) => object.members(),
        other => {
            spread = other.spread();
            spread.members()
        }
    };
    for (key, merge) in rules {
        // `schema.encoding` on a null merge throws in the SDK: the span is lost.
        if matches!(merge, JsValue::Null) {
            return Err(ProcessError::Node {
                field: "schema_merges",
                message: format!("merge for {key:?} is null"),
            });
        }
        let rule = merge.as_object();
        let field = |name: &str| rule.and_then(|rule| rule.get(name));
        if !field("encoding").is_some_and(JsValue::truthy) {
            continue;
        }
        let member = match data {
            JsValue::Object(object) => object.get(key).cloned(),
            other => other.spread().get(key).cloned(),
        };
        let Some(JsValue::String(original)) = member else {
            continue;
        };
        let decoded = if field("encoding").and_then(JsValue::as_number) == Some(ENCODING_BASE64) {
            node_base64_to_utf8(&original)
        } else {
            original.to_string()
        };
        let decoded_type = field("decodedType");
        found.push(Decoding {
            key: key.clone(),
            original,
            decoded,
            json: decoded_type.and_then(JsValue::as_number) == Some(DECODED_TYPE_JSON),
            try_json: !decoded_type.is_some_and(JsValue::truthy),
        });
    }
    Ok(found)
}

/// The second half of `decodeDataWithMerges`: members with a truthy `encoding` in their merge are
/// base64-decoded (encoding 1) and `JSON.parse`d (decoded type 1, or none given: kept as text if
/// it fails). Borrows `data` when the SDK's copy would equal it (no merges, or an object none of
/// whose members is decoded).
fn decode_with_merges<'t>(
    data: &'t JsValue<'t>,
    merges: Option<&JsValue<'t>>,
    decodings: &'t [Decoding<'t>],
) -> Cow<'t, JsValue<'t>> {
    let mut decoded: Option<JsObject<'t>> = None;
    for decoding in decodings {
        let result = if decoding.json {
            // A failed parse keeps the member as it was (not the base64-decoded text).
            match js::parse(&decoding.decoded) {
                Ok(parsed) => parsed,
                Err(_) => JsValue::String(decoding.original.clone()),
            }
        } else if decoding.try_json {
            match js::parse(&decoding.decoded) {
                Ok(parsed) => parsed,
                Err(_) => JsValue::String(Cow::Borrowed(&decoding.decoded)),
            }
        } else {
            JsValue::String(Cow::Borrowed(&decoding.decoded))
        };
        decoded
            .get_or_insert_with(|| data.spread())
            .set(decoding.key.clone(), result);
    }
    match decoded {
        Some(object) => Cow::Owned(JsValue::Object(object)),
        // `{...data}` of an object is an equal object; of anything else, its spread.
        None if matches!(data, JsValue::Object(_)) || !merges.is_some_and(JsValue::truthy) => {
            Cow::Borrowed(data)
        }
        None => Cow::Owned(JsValue::Object(data.spread())),
    }
}

/// `generateSchemaAndHash(data, schemaMerges)` on a parsed value whose decoded members
/// (`decodings(value, merges)`) the caller keeps.
fn schema_and_hash<'t>(
    value: &'t JsValue<'t>,
    merges: Option<&'t JsValue<'t>>,
    decodings: &'t [Decoding<'t>],
) -> Side<'t> {
    let decoded = decode_with_merges(value, merges, decodings);
    let schema = Schema::generate(&decoded, merges);
    let value_hash = hash(|text| js::stringify_sorted(&decoded, text));
    drop(decoded);
    Side {
        value_hash,
        schema_hash: hash(|text| schema.write_sorted(text)),
        schema,
        value,
    }
}

/// A side's parsed value and merges (`None` for the output's `{}` stand-in).
struct Parsed<'a> {
    value: JsValue<'a>,
    merges: Option<JsValue<'a>>,
}

impl<'a> Parsed<'a> {
    fn empty() -> Self {
        Parsed {
            value: JsValue::empty_object(),
            merges: None,
        }
    }
}

/// `text ? JSON.parse(text) : undefined`.
fn parse_if_present<'a>(
    text: Option<&'a str>,
    field: &'static str,
) -> Result<Option<JsValue<'a>>, ProcessError> {
    match text {
        None | Some("") => Ok(None),
        Some(text) => js::parse(text).map(Some).map_err(|e| json_error(field, e)),
    }
}

/// Value and schema hash of one side, from its attribute texts (see `crate::process::side_hashes`).
pub(crate) fn side_hashes(
    output: bool,
    value_json: Option<&str>,
    merges_json: Option<&str>,
) -> Result<(String, String), ProcessError> {
    let field = if output {
        "output_value_json"
    } else {
        "input_value_json"
    };
    let parsed = match value_json {
        Some(text) if !(output && text.is_empty()) => Parsed {
            value: js::parse(text).map_err(|e| json_error(field, e))?,
            merges: parse_if_present(merges_json, "schema_merges")?,
        },
        None if !output => {
            return Err(ProcessError::Node {
                field,
                message: "absent (the SDK's JSON.parse(undefined) throws)".to_string(),
            });
        }
        _ => Parsed::empty(),
    };
    let decodings = decodings(&parsed.value, parsed.merges.as_ref())?;
    let side = schema_and_hash(&parsed.value, parsed.merges.as_ref(), &decodings);
    Ok((side.value_hash, side.schema_hash))
}

/// Both sides, the metadata and the transform metadata of a record, as the SDK computes them.
pub(crate) struct NodeSpan<'t> {
    pub input: Side<'t>,
    pub output: Side<'t>,
    pub metadata: Option<JsValue<'t>>,
    pub transform_metadata: Option<JsValue<'t>>,
}

/// Computes the record's span as the SDK does and hands it to `use_span` (the parsed values
/// and decoded texts it borrows from live in this frame).
pub(crate) fn with_span<R>(
    record: &DecodedRecord<'_>,
    use_span: impl FnOnce(&NodeSpan<'_>) -> R,
) -> Result<R, ProcessError> {
    let input = Parsed {
        value: js::parse(record.input_value_json).map_err(|e| json_error("input_value_json", e))?,
        merges: parse_if_present(record.input_schema_merges_json, "input_schema_merges_json")?,
    };
    let input_decodings = decodings(&input.value, input.merges.as_ref())?;
    let output = match record.output_value_json {
        Some(text) if !text.is_empty() => Parsed {
            value: js::parse(text).map_err(|e| json_error("output_value_json", e))?,
            merges: parse_if_present(
                record.output_schema_merges_json,
                "output_schema_merges_json",
            )?,
        },
        _ => Parsed::empty(),
    };
    let output_decodings = decodings(&output.value, output.merges.as_ref())?;
    let metadata = parse_if_present(record.metadata_json, "metadata_json")?;
    // Invalid transform metadata is only a warning in the SDK.
    let transform_metadata = record
        .transform_metadata_json
        .filter(|text| !text.is_empty())
        .and_then(|text| js::parse(text).ok());
    let span = NodeSpan {
        input: schema_and_hash(&input.value, input.merges.as_ref(), &input_decodings),
        output: schema_and_hash(&output.value, output.merges.as_ref(), &output_decodings),
        metadata,
        transform_metadata,
    };
    Ok(use_span(&span))
}

/// OpenTelemetry's `SpanKind` (what the file adapter writes) from the record's proto kind.
fn otel_kind(proto_kind: i32) -> i32 {
    if (1..=5).contains(&proto_kind) {
        proto_kind - 1
    } else {
        proto_kind
    }
}

fn push_key(out: &mut String, key: &str) {
    if !out.ends_with('{') {
        out.push(',');
    }
    js::write_string(key, out);
    out.push(':');
}

/// The span line `FilesystemSpanAdapter` writes: `JSON.stringify(cleanSpan)`.
pub(crate) fn json_line(record: &DecodedRecord<'_>, span: &NodeSpan<'_>) -> String {
    // The line holds the values and their schemas: sized from the texts, so that a 20 KB value
    // does not regrow the line half a dozen times.
    let texts = record.input_value_json.len()
        + record.output_value_json.map_or(0, str::len)
        + record.metadata_json.map_or(0, str::len);
    let mut out = String::with_capacity(1024 + 2 * texts);
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
        js::write_string(value, &mut out);
    }
    // `attributes[PACKAGE_TYPE] || undefined`.
    if record.package_type != 0 {
        push_key(&mut out, "packageType");
        js::write_i64(i64::from(record.package_type), &mut out);
    }
    if let Some(environment) = record.environment {
        push_key(&mut out, "environment");
        js::write_string(environment, &mut out);
    }
    for (key, value) in [
        ("inputValue", span.input.value),
        ("outputValue", span.output.value),
    ] {
        push_key(&mut out, key);
        js::stringify(value, &mut out);
    }
    for (key, schema) in [
        ("inputSchema", &span.input.schema),
        ("outputSchema", &span.output.schema),
    ] {
        push_key(&mut out, key);
        schema.write(&mut out);
    }
    for (key, hash) in [
        ("inputSchemaHash", &span.input.schema_hash),
        ("outputSchemaHash", &span.output.schema_hash),
        ("inputValueHash", &span.input.value_hash),
        ("outputValueHash", &span.output.value_hash),
    ] {
        push_key(&mut out, key);
        js::write_string(hash, &mut out);
    }
    push_key(&mut out, "kind");
    js::write_i64(i64::from(otel_kind(record.kind)), &mut out);
    push_key(&mut out, "status");
    out.push_str("{\"code\":");
    js::write_i64(i64::from(record.status_code), &mut out);
    out.push_str(",\"message\":");
    js::write_string(record.status_message, &mut out);
    out.push('}');
    push_key(&mut out, "isPreAppStart");
    out.push_str(if record.is_pre_app_start {
        "true"
    } else {
        "false"
    });
    for (key, time) in [
        ("timestamp", record.timestamp),
        ("duration", record.duration),
    ] {
        push_key(&mut out, key);
        out.push_str("{\"seconds\":");
        js::write_i64(time.seconds, &mut out);
        out.push_str(",\"nanos\":");
        js::write_i64(i64::from(time.nanos), &mut out);
        out.push('}');
    }
    push_key(&mut out, "isRootSpan");
    out.push_str(if record.is_root_span { "true" } else { "false" });
    for (key, value) in [
        ("metadata", &span.metadata),
        ("transformMetadata", &span.transform_metadata),
    ] {
        if let Some(value) = value {
            push_key(&mut out, key);
            js::stringify(value, &mut out);
        }
    }
    out.push('}');
    out
}

/// The core's value for a `Struct` (numbers are doubles in a `Struct` anyway).
fn to_core_value<'b>(value: &'b JsValue<'_>) -> Value<'b> {
    match value {
        JsValue::Null => Value::Null,
        JsValue::Bool(flag) => Value::Bool(*flag),
        JsValue::Number(number) => Value::Float(*number),
        JsValue::String(text) => Value::String(Cow::Borrowed(&**text)),
        JsValue::Array(items) => Value::Array(items.iter().map(to_core_value).collect()),
        JsValue::Object(object) => Value::Object(core_object(object)),
    }
}

fn core_object<'b>(object: &'b JsObject<'_>) -> Object<'b> {
    Object::from_members(
        object
            .members()
            .iter()
            .map(|(key, value)| (Cow::Borrowed(&**key), to_core_value(value)))
            .collect(),
    )
}

/// `toStruct(value)`: `Object.entries` of the value (array elements by index).
fn struct_value<'b>(value: &'b JsValue<'_>) -> Value<'b> {
    match value {
        JsValue::Object(object) => Value::Object(core_object(object)),
        JsValue::Array(_) | JsValue::String(_) => {
            // Entries by index, as `Object.entries` gives them.
            let spread = value.spread();
            Value::Object(Object::from_members(
                spread
                    .members()
                    .iter()
                    .map(|(key, member)| (Cow::Owned(key.to_string()), to_core_value_owned(member)))
                    .collect(),
            ))
        }
        _ => Value::Object(Object::from_members(Vec::new())),
    }
}

fn to_core_value_owned(value: &JsValue<'_>) -> Value<'static> {
    match value {
        JsValue::Null => Value::Null,
        JsValue::Bool(flag) => Value::Bool(*flag),
        JsValue::Number(number) => Value::Float(*number),
        JsValue::String(text) => Value::String(Cow::Owned(text.to_string())),
        JsValue::Array(items) => Value::Array(items.iter().map(to_core_value_owned).collect()),
        JsValue::Object(object) => Value::Object(Object::from_members(
            object
                .members()
                .iter()
                .map(|(key, value)| (Cow::Owned(key.to_string()), to_core_value_owned(value)))
                .collect(),
        )),
    }
}

/// `tusk.drift.core.v1.Span` bytes as `ApiSpanAdapter.transformSpanToProtobuf` builds them.
pub(crate) fn span_bytes(
    record: &DecodedRecord<'_>,
    span: &NodeSpan<'_>,
) -> Result<Vec<u8>, ProcessError> {
    let input_value = struct_value(span.input.value);
    let output_value = struct_value(span.output.value);
    let metadata = span
        .metadata
        .as_ref()
        .filter(|m| m.truthy())
        .map(struct_value);
    let input_schema = span.input.schema.to_core();
    let output_schema = span.output.schema.to_core();
    let input = crate::span_proto::record_span_input(
        record,
        SpanPayloads {
            input: SpanPayload::Value(&input_value),
            output: SpanPayload::Value(&output_value),
            input_schema: Some(&input_schema),
            output_schema: Some(&output_schema),
            metadata: metadata
                .as_ref()
                .map_or(SpanPayload::None, SpanPayload::Value),
        },
        SpanHashes {
            input_value_hash: &span.input.value_hash,
            output_value_hash: &span.output.value_hash,
            input_schema_hash: &span.input.schema_hash,
            output_schema_hash: &span.output.schema_hash,
        },
    );
    let mut bytes = build_span_proto_bytes(&input).map_err(ProcessError::Span)?;
    if metadata.is_none() {
        drop_empty_metadata(&mut bytes, record.environment);
    }
    Ok(bytes)
}

/// The core's builder always writes `metadata` (field 23, an empty `Struct` when there is
/// none), as the published builder does; the SDK leaves the field out (`toStruct(undefined)`).
/// The field is written last but for `environment` (field 24), so its three bytes
/// (`0xBA 0x01 0x00`) sit right before that trailer; they are cut only when they are exactly
/// there.
fn drop_empty_metadata(bytes: &mut Vec<u8>, environment: Option<&str>) {
    let trailer = environment.map_or(0, |env| {
        let len = env.len() as u64;
        let mut varint_len = 1;
        while len >> (7 * varint_len) != 0 {
            varint_len += 1;
        }
        2 + varint_len + env.len()
    });
    let Some(end) = bytes.len().checked_sub(trailer) else {
        return;
    };
    if end >= 3 && bytes[end - 3..end] == [0xBA, 0x01, 0x00] {
        bytes.drain(end - 3..end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hashes and schema text of one side (the merges parsed from `merges`).
    fn side(value: &str, merges: Option<&str>) -> (String, String, String) {
        let merges = merges.map(|m| js::parse(m).unwrap());
        let value = js::parse(value).unwrap();
        let decodings = decodings(&value, merges.as_ref()).unwrap();
        let side = schema_and_hash(&value, merges.as_ref(), &decodings);
        (side.schema.to_json(), side.value_hash, side.schema_hash)
    }

    /// Node's decoder one character at a time (the fast path must agree with it).
    fn base64_reference(text: &str) -> String {
        let mut bytes = Vec::new();
        let (mut bits, mut count) = (0u32, 0u32);
        for byte in text.bytes() {
            let sextet = match byte {
                b'A'..=b'Z' => byte - b'A',
                b'a'..=b'z' => byte - b'a' + 26,
                b'0'..=b'9' => byte - b'0' + 52,
                b'+' | b'-' => 62,
                b'/' | b'_' => 63,
                b'=' => break,
                _ => continue,
            };
            bits = (bits << 6) | u32::from(sextet);
            count += 6;
            if count >= 8 {
                count -= 8;
                bytes.push((bits >> count) as u8);
                bits &= (1 << count) - 1;
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn base64_decodes_as_node_buffer_does() {
        for text in [
            "",
            "eyJhIjowLjAsIjEwIjoxfQ==",
            "eyJhIjowLjAsIjEwIjoxfQ",
            "eyJh Ijow\nLjAs-_+/",
            "aGVsbG8=d29ybGQ=",
            "QUJD",
            "QUJDRA",
            "QUJDRA=",
            "/w==",
            "gICA",
            "8J+YgA==",
            "8J+Y",
            "!!!!QUJD",
            "QU=JD",
        ] {
            assert_eq!(
                node_base64_to_utf8(text),
                base64_reference(text),
                "{text:?}"
            );
        }
    }

    /// Expected values computed by the SDK's `JsonSchemaHelper.generateSchemaAndHash` (Node 0.1.27).
    #[test]
    fn schema_and_hashes_follow_the_sdk() {
        // {"body": base64 of '{"a":0.0,"10":1}', "headers": {...}}
        let body = "eyJhIjowLjAsIjEwIjoxfQ=="; // base64 of {"a":0.0,"10":1}
        let value = format!(r#"{{"headers":{{"x":"1"}},"body":"{body}"}}"#);
        let side = side(
            &value,
            Some(r#"{"body":{"encoding":1,"decodedType":1},"headers":{"matchImportance":0}}"#),
        );
        let (schema, value_hash, _) = side;
        assert_eq!(
            schema,
            r#"{"type":6,"properties":{"headers":{"type":6,"properties":{"x":{"type":2,"properties":{}}},"matchImportance":0},"body":{"type":6,"properties":{"10":{"type":1,"properties":{}},"a":{"type":1,"properties":{}}},"encoding":1,"decodedType":1}}}"#
        );
        assert_eq!(
            value_hash,
            sha256_hex(br#"{"body":{"10":1,"a":0},"headers":{"x":"1"}}"#)
        );
    }
}
