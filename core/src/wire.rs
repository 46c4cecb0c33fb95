//! Protobuf wire-format validation of `Span` bytes, without decoding or allocating.
//!
//! The walk accepts exactly what prost's `Span::decode` accepts: keys and varints as prost reads
//! them, the wire type of every known field, UTF-8 of every string, nested messages (`Struct`,
//! `Value`, `ListValue`, `JsonSchema`, map entries, status, timestamp, duration) recursively,
//! unknown fields skipped (groups included), and prost's recursion limit of 100 nested messages.
//! When it refuses bytes, prost itself is run once to word the error identically.

use prost::Message as _;

use crate::CoreError;

/// prost's `RECURSION_LIMIT`.
const RECURSION_LIMIT: u32 = 100;

/// The messages a `Span` contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Msg {
    Span,
    Struct,
    StructEntry,
    Value,
    ListValue,
    JsonSchema,
    JsonSchemaEntry,
    Status,
    Timestamp,
}

/// What a known field holds.
#[derive(Debug, Clone, Copy)]
enum Field {
    Varint,
    Fixed64,
    Str,
    Message(Msg),
    /// A map entry: prost reads it as length-delimited whatever its wire type says.
    MapEntry(Msg),
}

fn field(msg: Msg, number: u32) -> Option<Field> {
    use Field::{Fixed64, MapEntry, Message, Str, Varint};
    Some(match (msg, number) {
        (Msg::Span, 1..=7 | 13..=16 | 24 | 25) => Str,
        (Msg::Span, 8 | 17 | 19 | 22) => Varint,
        (Msg::Span, 9 | 10 | 23) => Message(Msg::Struct),
        (Msg::Span, 11 | 12) => Message(Msg::JsonSchema),
        (Msg::Span, 18) => Message(Msg::Status),
        (Msg::Span, 20 | 21) => Message(Msg::Timestamp),
        (Msg::Struct, 1) => MapEntry(Msg::StructEntry),
        (Msg::StructEntry, 1) => Str,
        (Msg::StructEntry, 2) => Message(Msg::Value),
        (Msg::Value, 1 | 4) => Varint,
        (Msg::Value, 2) => Fixed64,
        (Msg::Value, 3) => Str,
        (Msg::Value, 5) => Message(Msg::Struct),
        (Msg::Value, 6) => Message(Msg::ListValue),
        (Msg::ListValue, 1) => Message(Msg::Value),
        (Msg::JsonSchema, 1 | 4 | 5) => Varint,
        (Msg::JsonSchema, 2) => MapEntry(Msg::JsonSchemaEntry),
        (Msg::JsonSchema, 3) => Message(Msg::JsonSchema),
        (Msg::JsonSchema, 6) => Fixed64,
        (Msg::JsonSchemaEntry, 1) => Str,
        (Msg::JsonSchemaEntry, 2) => Message(Msg::JsonSchema),
        (Msg::Status, 1) => Varint,
        (Msg::Status, 2) => Str,
        (Msg::Timestamp, 1 | 2) => Varint,
        _ => return None,
    })
}

/// Refusal marker; the wording comes from prost.
struct Invalid;

/// Checks that `bytes` is a well-formed `tusk.drift.core.v1.Span` (what prost would decode).
///
/// Errors: [`CoreError::InvalidSpan`] with index 0 and prost's description.
pub fn validate_span_bytes(bytes: &[u8]) -> Result<(), CoreError> {
    validate_span_at(bytes, 0)
}

/// [`validate_span_bytes`] for the span at `index` of a list (the index goes into the error).
pub(crate) fn validate_span_at(bytes: &[u8], index: usize) -> Result<(), CoreError> {
    if is_valid(Msg::Span, bytes) {
        return Ok(());
    }
    let what = match tusk_drift_schemas::tusk::drift::core::v1::Span::decode(bytes) {
        Err(e) => prost_message(&e),
        Ok(_) => "rejected by drift-core's wire-format check".to_owned(),
    };
    Err(CoreError::InvalidSpan { index, what })
}

/// Checks that `bytes` is a well-formed `google.protobuf.Struct`.
///
/// Errors: [`CoreError::InvalidProtobuf`] with prost's description.
pub(crate) fn validate_struct_bytes(bytes: &[u8]) -> Result<(), CoreError> {
    if is_valid(Msg::Struct, bytes) {
        return Ok(());
    }
    let what = match prost_types::Struct::decode(bytes) {
        Err(e) => prost_message(&e),
        Ok(_) => "rejected by drift-core's wire-format check".to_owned(),
    };
    Err(CoreError::InvalidProtobuf { what })
}

/// prost's `DecodeError` text without its "failed to decode Protobuf message: " prefix (our
/// error's `Display` adds it back).
fn prost_message(e: &prost::DecodeError) -> String {
    let text = e.to_string();
    text.strip_prefix("failed to decode Protobuf message: ")
        .unwrap_or(&text)
        .to_owned()
}

/// `true` when `bytes` decodes as a top-level `msg`.
pub(crate) fn is_valid(msg: Msg, bytes: &[u8]) -> bool {
    let mut reader = Reader { bytes, pos: 0 };
    message_fields(msg, &mut reader, bytes.len(), RECURSION_LIMIT).is_ok()
}

struct Reader<'b> {
    bytes: &'b [u8],
    pos: usize,
}

impl Reader<'_> {
    /// prost's `decode_varint`: at most ten bytes, the tenth below 2.
    #[inline(always)]
    fn varint(&mut self, end: usize) -> Result<u64, Invalid> {
        // One-byte varints (tags, short lengths, small enums) are the common case.
        if self.pos < end {
            let byte = self.bytes[self.pos];
            if byte < 0x80 {
                self.pos += 1;
                return Ok(u64::from(byte));
            }
        }
        self.varint_multi_byte(end)
    }

    #[inline(never)]
    fn varint_multi_byte(&mut self, end: usize) -> Result<u64, Invalid> {
        let mut value = 0u64;
        for count in 0..10 {
            if self.pos >= end {
                return Err(Invalid);
            }
            let byte = self.bytes[self.pos];
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << (count * 7);
            if byte < 0x80 {
                if count == 9 && byte >= 0x02 {
                    return Err(Invalid);
                }
                return Ok(value);
            }
        }
        Err(Invalid)
    }

    /// prost's `decode_key`: `(field number, wire type)`.
    #[inline(always)]
    fn key(&mut self, end: usize) -> Result<(u32, u8), Invalid> {
        let key = self.varint(end)?;
        if key > u64::from(u32::MAX) {
            return Err(Invalid);
        }
        let wire_type = (key & 7) as u8;
        if wire_type > 5 {
            return Err(Invalid);
        }
        let number = (key as u32) >> 3;
        if number == 0 {
            return Err(Invalid);
        }
        Ok((number, wire_type))
    }

    /// A length prefix, checked against what is left before `end`; returns the end of the field.
    fn delimited_end(&mut self, end: usize) -> Result<usize, Invalid> {
        let len = self.varint(end)?;
        let remaining = (end - self.pos) as u64;
        if len > remaining {
            return Err(Invalid);
        }
        Ok(self.pos + len as usize)
    }
}

/// Walks the fields of a `msg` occupying `reader.pos..end`; `budget` is prost's recursion counter
/// for this message.
fn message_fields(
    msg: Msg,
    reader: &mut Reader<'_>,
    end: usize,
    budget: u32,
) -> Result<(), Invalid> {
    while reader.pos < end {
        let (number, wire_type) = reader.key(end)?;
        match field(msg, number) {
            Some(Field::Varint) => {
                expect_wire(wire_type, 0)?;
                reader.varint(end)?;
            }
            Some(Field::Fixed64) => {
                expect_wire(wire_type, 1)?;
                if end - reader.pos < 8 {
                    return Err(Invalid);
                }
                reader.pos += 8;
            }
            Some(Field::Str) => {
                expect_wire(wire_type, 2)?;
                let field_end = reader.delimited_end(end)?;
                let text = &reader.bytes[reader.pos..field_end];
                // ASCII (ids, hashes, most keys) is checked inline; the rest by the full check.
                if !text.is_ascii() && std::str::from_utf8(text).is_err() {
                    return Err(Invalid);
                }
                reader.pos = field_end;
            }
            Some(field @ (Field::Message(inner) | Field::MapEntry(inner))) => {
                if matches!(field, Field::Message(_)) {
                    expect_wire(wire_type, 2)?;
                }
                if budget == 0 {
                    return Err(Invalid);
                }
                let field_end = reader.delimited_end(end)?;
                message_fields(inner, reader, field_end, budget - 1)?;
                if reader.pos != field_end {
                    return Err(Invalid);
                }
            }
            None => skip_field(reader, wire_type, number, end, budget)?,
        }
    }
    if reader.pos != end {
        return Err(Invalid);
    }
    Ok(())
}

fn expect_wire(actual: u8, expected: u8) -> Result<(), Invalid> {
    if actual == expected {
        Ok(())
    } else {
        Err(Invalid)
    }
}

/// prost's `skip_field`, groups included.
fn skip_field(
    reader: &mut Reader<'_>,
    wire_type: u8,
    number: u32,
    end: usize,
    budget: u32,
) -> Result<(), Invalid> {
    if budget == 0 {
        return Err(Invalid);
    }
    let len: u64 = match wire_type {
        0 => {
            reader.varint(end)?;
            0
        }
        1 => 8,
        2 => reader.varint(end)?,
        3 => loop {
            let (inner_number, inner_wire) = reader.key(end)?;
            if inner_wire == 4 {
                if inner_number != number {
                    return Err(Invalid);
                }
                break 0;
            }
            skip_field(reader, inner_wire, inner_number, end, budget - 1)?;
        },
        5 => 4,
        _ => return Err(Invalid), // an end-group without its start
    };
    if len > (end - reader.pos) as u64 {
        return Err(Invalid);
    }
    reader.pos += len as usize;
    Ok(())
}

#[cfg(test)]
mod tests;
