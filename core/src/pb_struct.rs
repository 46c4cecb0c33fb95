//! `google.protobuf.Struct` bytes of a value, encoded by hand in one walk.
//!
//! Map entries are written in key order (objects are sorted), which is what prost's `BTreeMap`
//! based `Struct` writes, so the bytes equal the published core's. A nested container's length
//! prefix is only known after its content is written; the content is written in place and the
//! small header (tags, lengths, key) is then inserted before it.

use prost::bytes::BufMut as _;
use prost::encoding::{encode_varint, encoded_len_varint};

use crate::CoreError;
use crate::canonical::STACK_SAFETY_DEPTH;
use crate::parse::parse_json;
use crate::value::{Object, Value};

/// `Value.null_value` (field 1, varint).
const TAG_NULL: u8 = 0x08;
/// `Value.number_value` (field 2, fixed64).
const TAG_NUMBER: u8 = 0x11;
/// `Value.string_value` (field 3, length-delimited).
const TAG_STRING: u8 = 0x1a;
/// `Value.bool_value` (field 4, varint).
const TAG_BOOL: u8 = 0x20;
/// `Value.struct_value` (field 5, length-delimited).
pub(crate) const TAG_STRUCT: u8 = 0x2a;
/// `Value.list_value` (field 6, length-delimited).
pub(crate) const TAG_LIST: u8 = 0x32;
/// `Struct.fields` entries, `ListValue.values`, and a map entry's key: field 1, length-delimited.
pub(crate) const TAG_FIELD1_LEN: u8 = 0x0a;
/// A map entry's value: field 2, length-delimited.
pub(crate) const TAG_FIELD2_LEN: u8 = 0x12;

/// `object_to_protobuf_struct_bytes`: the `Struct` of the top-level object of `json` (zero bytes
/// when the top level is not an object).
pub fn object_to_protobuf_struct_bytes(json: &str) -> Result<Vec<u8>, CoreError> {
    value_to_struct_bytes(&parse_json(json)?)
}

/// `object_to_protobuf_struct_field_count`: the number of top-level keys of `json` (after
/// deduplication), 0 when the top level is not an object.
pub fn object_to_protobuf_struct_field_count(json: &str) -> Result<usize, CoreError> {
    Ok(parse_json(json)?.as_object().map_or(0, Object::len))
}

/// The `Struct` bytes of a value: its members when it is an object, else empty.
pub fn value_to_struct_bytes(value: &Value<'_>) -> Result<Vec<u8>, CoreError> {
    let mut out = Vec::new();
    if let Value::Object(object) = value {
        out.reserve(256);
        encode_struct_fields(object, &mut out, 1)?;
    }
    Ok(out)
}

/// Appends the entries of a `Struct` for `object`.
fn encode_struct_fields(
    object: &Object<'_>,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), CoreError> {
    check_depth(depth)?;
    for (key, value) in object.members() {
        match leaf_len(value) {
            Some(len) => write_leaf_entry(key, value, len, out),
            None => {
                let mark = begin_entry(out, key);
                encode_container_content(value, out, depth + 1)?;
                finish_entry(out, mark, key, container_tag(value));
            }
        }
    }
    Ok(())
}

/// Appends the elements of a `ListValue` for `items`.
fn encode_list_values(
    items: &[Value<'_>],
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), CoreError> {
    check_depth(depth)?;
    for item in items {
        match leaf_len(item) {
            Some(len) => write_leaf_element(item, len, out),
            None => {
                let mark = begin_element(out);
                encode_container_content(item, out, depth + 1)?;
                finish_element(out, mark, container_tag(item));
            }
        }
    }
    Ok(())
}

fn encode_container_content(
    value: &Value<'_>,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), CoreError> {
    match value {
        Value::Object(object) => encode_struct_fields(object, out, depth),
        Value::Array(items) => encode_list_values(items, out, depth),
        _ => Ok(()),
    }
}

fn check_depth(depth: usize) -> Result<(), CoreError> {
    if depth > STACK_SAFETY_DEPTH {
        return Err(CoreError::ValueTooDeep { column: 0 });
    }
    Ok(())
}

/// `Value` kind tag of a container.
#[inline]
pub(crate) fn container_tag(value: &Value<'_>) -> u8 {
    if matches!(value, Value::Array(_)) {
        TAG_LIST
    } else {
        TAG_STRUCT
    }
}

/// Encoded length of the `Value` message of a scalar; `None` for arrays and objects.
#[inline]
pub(crate) fn leaf_len(value: &Value<'_>) -> Option<usize> {
    match value {
        Value::Null | Value::Bool(_) => Some(2),
        Value::Float(f) if !f.is_finite() => Some(2),
        Value::Int(_) | Value::UInt(_) | Value::Float(_) => Some(9),
        Value::String(s) => Some(1 + encoded_len_varint(s.len() as u64) + s.len()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

/// Appends the `Value` message content of a scalar.
#[inline]
pub(crate) fn write_leaf(value: &Value<'_>, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(&[TAG_NULL, 0]),
        Value::Bool(b) => out.extend_from_slice(&[TAG_BOOL, u8::from(*b)]),
        Value::String(s) => {
            out.push(TAG_STRING);
            encode_varint(s.len() as u64, out);
            out.extend_from_slice(s.as_bytes());
        }
        Value::Float(f) if !f.is_finite() => out.extend_from_slice(&[TAG_NULL, 0]),
        number => {
            out.push(TAG_NUMBER);
            out.extend_from_slice(&number.as_f64().unwrap_or(0.0).to_le_bytes());
        }
    }
}

/// Appends a `Struct.fields` entry whose value is a scalar of encoded length `len`.
#[inline]
pub(crate) fn write_leaf_entry(key: &str, value: &Value<'_>, len: usize, out: &mut Vec<u8>) {
    let entry_len = key_field_len(key) + 1 + encoded_len_varint(len as u64) + len;
    out.push(TAG_FIELD1_LEN);
    encode_varint(entry_len as u64, out);
    write_key_field(key, out);
    out.push(TAG_FIELD2_LEN);
    encode_varint(len as u64, out);
    write_leaf(value, out);
}

/// Encoded length of a map entry's key field: prost leaves out an empty (default) key.
#[inline]
pub(crate) fn key_field_len(key: &str) -> usize {
    if key.is_empty() {
        0
    } else {
        1 + encoded_len_varint(key.len() as u64) + key.len()
    }
}

/// Appends a map entry's key field (nothing for an empty key, as prost does).
#[inline]
pub(crate) fn write_key_field(key: &str, out: &mut Vec<u8>) {
    if !key.is_empty() {
        out.push(TAG_FIELD1_LEN);
        encode_varint(key.len() as u64, out);
        out.extend_from_slice(key.as_bytes());
    }
}

/// Appends a `ListValue.values` element that is a scalar of encoded length `len`.
#[inline]
pub(crate) fn write_leaf_element(value: &Value<'_>, len: usize, out: &mut Vec<u8>) {
    out.push(TAG_FIELD1_LEN);
    encode_varint(len as u64, out);
    write_leaf(value, out);
}

/// Bytes reserved in front of a container's content: its header with one-byte lengths (tags and
/// lengths of the entry or element, of the `Value`, of the kind). Most containers are shorter than
/// 128 bytes and need no more; larger ones move their content once when they are finished.
const ENTRY_RESERVED_FIXED: usize = 6;
/// Like [`ENTRY_RESERVED_FIXED`] for a `ListValue.values` element (no entry level, no key).
const ELEMENT_RESERVED: usize = 4;

/// Starts a `Struct.fields` entry whose value is a container: reserves its header. Returns the
/// mark to give to [`finish_entry`] once the content has been appended.
#[inline]
pub(crate) fn begin_entry(out: &mut Vec<u8>, key: &str) -> usize {
    let mark = out.len();
    out.resize(mark + key_field_len(key) + ENTRY_RESERVED_FIXED, 0);
    mark
}

/// Writes the header of the entry started at `mark` (entry tag/length, key, value tag/length,
/// kind tag/length), moving the content if the lengths need more bytes than reserved.
pub(crate) fn finish_entry(out: &mut Vec<u8>, mark: usize, key: &str, kind_tag: u8) {
    let key_len = key_field_len(key);
    let reserved = key_len + ENTRY_RESERVED_FIXED;
    let content_len = out.len() - mark - reserved;
    let value_len = 1 + encoded_len_varint(content_len as u64) + content_len;
    let entry_len = key_len + 1 + encoded_len_varint(value_len as u64) + value_len;
    let header_len = 1
        + encoded_len_varint(entry_len as u64)
        + key_len
        + 1
        + encoded_len_varint(value_len as u64)
        + 1
        + encoded_len_varint(content_len as u64);
    grow_reserved(out, mark + reserved, header_len - reserved);
    let mut header = &mut out[mark..mark + header_len];
    header.put_u8(TAG_FIELD1_LEN);
    encode_varint(entry_len as u64, &mut header);
    if !key.is_empty() {
        header.put_u8(TAG_FIELD1_LEN);
        encode_varint(key.len() as u64, &mut header);
        header.put_slice(key.as_bytes());
    }
    header.put_u8(TAG_FIELD2_LEN);
    encode_varint(value_len as u64, &mut header);
    header.put_u8(kind_tag);
    encode_varint(content_len as u64, &mut header);
}

/// Starts a `ListValue.values` element that is a container (see [`begin_entry`]).
#[inline]
pub(crate) fn begin_element(out: &mut Vec<u8>) -> usize {
    let mark = out.len();
    out.resize(mark + ELEMENT_RESERVED, 0);
    mark
}

/// Writes the header of the element started at `mark` (see [`finish_entry`]).
pub(crate) fn finish_element(out: &mut Vec<u8>, mark: usize, kind_tag: u8) {
    let content_len = out.len() - mark - ELEMENT_RESERVED;
    let value_len = 1 + encoded_len_varint(content_len as u64) + content_len;
    let header_len =
        1 + encoded_len_varint(value_len as u64) + 1 + encoded_len_varint(content_len as u64);
    grow_reserved(out, mark + ELEMENT_RESERVED, header_len - ELEMENT_RESERVED);
    let mut header = &mut out[mark..mark + header_len];
    header.put_u8(TAG_FIELD1_LEN);
    encode_varint(value_len as u64, &mut header);
    header.put_u8(kind_tag);
    encode_varint(content_len as u64, &mut header);
}

/// Moves `out[content_start..]` right by `extra` bytes (one `memmove`), when a header needs more
/// room than was reserved for it.
#[inline]
fn grow_reserved(out: &mut Vec<u8>, content_start: usize, extra: usize) {
    if extra == 0 {
        return;
    }
    let old_len = out.len();
    out.resize(old_len + extra, 0);
    out.copy_within(content_start..old_len, content_start + extra);
}
