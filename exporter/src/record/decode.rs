//! Decoder: reads a record from untrusted bytes. Every offset and length is checked against the
//! record's end; any inconsistency is a [`RecordError`], never a panic or an out-of-bounds read.

use super::RecordError;
use super::encode::Timestamp;
use super::layout::*;

/// A record read back from bytes, borrowing every field from them. All text fields (JSON
/// included) are checked to be valid UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedRecord<'a> {
    pub sdk: SdkFlavor,
    pub sdk_version: &'a str,
    pub trace_id: &'a str,
    pub span_id: &'a str,
    pub parent_span_id: &'a str,
    pub name: &'a str,
    pub package_name: &'a str,
    pub instrumentation_name: &'a str,
    pub submodule_name: &'a str,
    pub package_type: i32,
    pub kind: i32,
    pub environment: Option<&'a str>,
    pub status_code: i32,
    pub status_message: &'a str,
    pub is_pre_app_start: bool,
    pub is_root_span: bool,
    pub timestamp: Timestamp,
    pub duration: Timestamp,
    pub input_value_json: &'a str,
    pub output_value_json: Option<&'a str>,
    pub input_schema_merges_json: Option<&'a str>,
    pub output_schema_merges_json: Option<&'a str>,
    pub metadata_json: Option<&'a str>,
    pub transform_metadata_json: Option<&'a str>,
    pub stack_trace: Option<&'a str>,
}

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
        let field = FIELD_NAMES[index];
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

    let required = |index: usize| {
        fields[index].ok_or(RecordError::MissingField {
            field: FIELD_NAMES[index],
        })
    };
    Ok(DecodedRecord {
        sdk,
        sdk_version: required(0)?,
        trace_id: required(1)?,
        span_id: required(2)?,
        parent_span_id: required(3)?,
        name: required(4)?,
        package_name: required(5)?,
        instrumentation_name: required(6)?,
        submodule_name: required(7)?,
        environment: fields[8],
        status_message: required(9)?,
        input_value_json: required(10)?,
        output_value_json: fields[11],
        input_schema_merges_json: fields[12],
        output_schema_merges_json: fields[13],
        metadata_json: fields[14],
        transform_metadata_json: fields[15],
        stack_trace: fields[16],
        package_type: get_i32(bytes, OFF_PACKAGE_TYPE),
        kind: get_i32(bytes, OFF_KIND),
        status_code: get_i32(bytes, OFF_STATUS_CODE),
        is_pre_app_start: flags & FLAG_PRE_APP_START != 0,
        is_root_span: flags & FLAG_ROOT_SPAN != 0,
        timestamp: Timestamp {
            seconds: get_i64(bytes, OFF_TS_SECONDS),
            nanos: get_i32(bytes, OFF_TS_NANOS),
        },
        duration: Timestamp {
            seconds: get_i64(bytes, OFF_DUR_SECONDS),
            nanos: get_i32(bytes, OFF_DUR_NANOS),
        },
    })
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

// The fixed-offset readers are only called after the header length check above.
fn get_u16(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn get_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn get_i32(bytes: &[u8], at: usize) -> i32 {
    get_u32(bytes, at) as i32
}

fn get_i64(bytes: &[u8], at: usize) -> i64 {
    let mut raw = [0u8; 8];
    raw.copy_from_slice(&bytes[at..at + 8]);
    i64::from_le_bytes(raw)
}
