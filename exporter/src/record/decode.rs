//! Decoder: reads a record from untrusted bytes. Every offset and length is checked against the
//! record's end; any inconsistency is a [`RecordError`], never a panic or an out-of-bounds read.

use super::RecordError;
use super::fields::WIRE_FIELD_NAMES;
use super::layout::*;

pub use super::fields::DecodedRecord;

/// Decodes one record. `bytes` may be longer than the record (ring slots are padded); the
/// record's own `total_len` decides where it ends.
pub fn decode_record(bytes: &[u8]) -> Result<DecodedRecord<'_>, RecordError> {
    if bytes.len() < RECORD_HEADER_LEN {
        return Err(RecordError::TruncatedHeader { len: bytes.len() });
    }
    let magic = [bytes[0], bytes[1], bytes[2], bytes[3]];
    if magic != RECORD_MAGIC {
        return Err(RecordError::BadMagic { found: magic });
    }
    let version = get_u16(bytes, OFF_VERSION);
    if version != RECORD_VERSION {
        return Err(RecordError::UnsupportedVersion { version });
    }
    let header_len = get_u16(bytes, OFF_HEADER_LEN);
    if usize::from(header_len) < RECORD_HEADER_LEN {
        return Err(RecordError::BadHeaderLen { header_len });
    }
    let total_len = get_u32(bytes, OFF_TOTAL_LEN);
    let end = total_len as usize;
    if end > bytes.len() || end < usize::from(header_len) {
        return Err(RecordError::BadTotalLen {
            total_len,
            available: bytes.len(),
        });
    }
    let bytes = &bytes[..end];
    let field_count = get_u16(bytes, OFF_FIELD_COUNT);
    if usize::from(field_count) < FIELD_COUNT {
        return Err(RecordError::TooFewFields {
            field_count,
            required: FIELD_COUNT as u16,
        });
    }
    let sdk_byte = bytes[OFF_SDK];
    let sdk = SdkFlavor::from_wire(sdk_byte).ok_or(RecordError::UnknownSdk { value: sdk_byte })?;
    let flags = bytes[OFF_FLAGS];

    let mut fields: [Option<&str>; FIELD_COUNT] = [None; FIELD_COUNT];
    let mut pos = usize::from(header_len);
    for (index, slot) in fields.iter_mut().enumerate() {
        let field = WIRE_FIELD_NAMES[index];
        let len = read_len(bytes, pos, field)?;
        pos += 4;
        if len == ABSENT {
            continue;
        }
        let len = len as usize;
        let value = bytes
            .get(pos..pos.saturating_add(len))
            .ok_or(RecordError::FieldPastEnd {
                field,
                offset: pos,
                len,
                end,
            })?;
        *slot = Some(
            std::str::from_utf8(value).map_err(|error| RecordError::InvalidUtf8 {
                field,
                valid_up_to: error.valid_up_to(),
            })?,
        );
        pos += len;
    }
    // Fields a newer writer appended are skipped, but their lengths must still be sane.
    for _ in FIELD_COUNT..usize::from(field_count) {
        let len = read_len(bytes, pos, "extension")?;
        pos += 4;
        if len != ABSENT {
            pos = pos
                .checked_add(len as usize)
                .filter(|&next| next <= end)
                .ok_or(RecordError::FieldPastEnd {
                    field: "extension",
                    offset: pos,
                    len: len as usize,
                    end,
                })?;
        }
    }

    DecodedRecord::from_parts(sdk, &fields, bytes, flags)
}

fn read_len(bytes: &[u8], pos: usize, field: &'static str) -> Result<u32, RecordError> {
    let raw = bytes
        .get(pos..pos.saturating_add(4))
        .ok_or(RecordError::FieldPastEnd {
            field,
            offset: pos,
            len: 4,
            end: bytes.len(),
        })?;
    Ok(u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]))
}
