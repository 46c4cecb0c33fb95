//! Encoder: writes a [`SpanRecord`] straight into a caller-provided slot (a ring slot).

use super::RecordError;
use super::layout::*;

/// Seconds and nanoseconds, as in `google.protobuf.Timestamp`/`Duration`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Timestamp {
    pub seconds: i64,
    pub nanos: i32,
}

/// One span as an SDK holds it, borrowed: what a binding fills in from the SDK's span object
/// and hands to [`crate::Exporter::push_span`]. Nothing here is parsed or validated on the
/// application thread; the exporter thread does that.
///
/// JSON fields carry the text exactly as the SDK holds it (`json.dumps` output in Python,
/// `JSON.stringify` output in Node). `None` means "absent", which is not the same as an empty
/// string for the optional fields (it is for `output_value_json`: both become `{}`).
#[derive(Debug, Clone, Copy)]
pub struct SpanRecord<'a> {
    pub sdk: SdkFlavor,
    pub sdk_version: &'a str,
    pub trace_id: &'a str,
    pub span_id: &'a str,
    pub parent_span_id: &'a str,
    pub name: &'a str,
    pub package_name: &'a str,
    pub instrumentation_name: &'a str,
    pub submodule_name: &'a str,
    /// `tusk.drift.core.v1.PackageType` (0..=11); an out-of-range value is dropped on export.
    pub package_type: i32,
    /// `tusk.drift.core.v1.SpanKind` (0..=5).
    pub kind: i32,
    pub environment: Option<&'a str>,
    /// `tusk.drift.core.v1.StatusCode` (0..=2).
    pub status_code: i32,
    pub status_message: &'a str,
    pub is_pre_app_start: bool,
    pub is_root_span: bool,
    pub timestamp: Timestamp,
    pub duration: Timestamp,
    pub input_value_json: &'a [u8],
    pub output_value_json: Option<&'a [u8]>,
    pub input_schema_merges_json: Option<&'a [u8]>,
    pub output_schema_merges_json: Option<&'a [u8]>,
    pub metadata_json: Option<&'a [u8]>,
    pub transform_metadata_json: Option<&'a [u8]>,
    pub stack_trace: Option<&'a str>,
}

impl<'a> SpanRecord<'a> {
    fn fields(&self) -> [Option<&'a [u8]>; FIELD_COUNT] {
        [
            Some(self.sdk_version.as_bytes()),
            Some(self.trace_id.as_bytes()),
            Some(self.span_id.as_bytes()),
            Some(self.parent_span_id.as_bytes()),
            Some(self.name.as_bytes()),
            Some(self.package_name.as_bytes()),
            Some(self.instrumentation_name.as_bytes()),
            Some(self.submodule_name.as_bytes()),
            self.environment.map(str::as_bytes),
            Some(self.status_message.as_bytes()),
            Some(self.input_value_json),
            self.output_value_json,
            self.input_schema_merges_json,
            self.output_schema_merges_json,
            self.metadata_json,
            self.transform_metadata_json,
            self.stack_trace.map(str::as_bytes),
        ]
    }

    /// Exact number of bytes [`SpanRecord::encode_into`] writes. Saturates at `usize::MAX` on
    /// absurd inputs, which every ring rejects as too large.
    pub fn encoded_len(&self) -> usize {
        self.fields().iter().fold(RECORD_HEADER_LEN, |acc, field| {
            acc.saturating_add(4)
                .saturating_add(field.map_or(0, <[u8]>::len))
        })
    }

    /// Writes the record into the start of `out` and returns the number of bytes written
    /// (always [`SpanRecord::encoded_len`]). Never panics: a short buffer or a field longer
    /// than the format can describe is an error and nothing meaningful is left in `out`.
    pub fn encode_into(&self, out: &mut [u8]) -> Result<usize, RecordError> {
        let needed = self.encoded_len();
        let total_len = u32::try_from(needed).map_err(|_| RecordError::FieldTooLarge {
            field: "record",
            len: needed,
        })?;
        if out.len() < needed {
            return Err(RecordError::BufferTooSmall {
                needed,
                available: out.len(),
            });
        }
        let out = &mut out[..needed];
        out[OFF_MAGIC..OFF_MAGIC + 4].copy_from_slice(&RECORD_MAGIC);
        put_u16(out, OFF_VERSION, RECORD_VERSION);
        put_u16(out, OFF_HEADER_LEN, RECORD_HEADER_LEN as u16);
        put_u32(out, OFF_TOTAL_LEN, total_len);
        put_u16(out, OFF_FIELD_COUNT, FIELD_COUNT as u16);
        out[OFF_SDK] = self.sdk as u8;
        let mut flags = 0u8;
        if self.is_pre_app_start {
            flags |= FLAG_PRE_APP_START;
        }
        if self.is_root_span {
            flags |= FLAG_ROOT_SPAN;
        }
        out[OFF_FLAGS] = flags;
        put_u32(out, OFF_KIND, self.kind as u32);
        put_u32(out, OFF_STATUS_CODE, self.status_code as u32);
        put_u32(out, OFF_PACKAGE_TYPE, self.package_type as u32);
        put_u32(out, OFF_RESERVED, 0);
        out[OFF_TS_SECONDS..OFF_TS_SECONDS + 8]
            .copy_from_slice(&self.timestamp.seconds.to_le_bytes());
        put_u32(out, OFF_TS_NANOS, self.timestamp.nanos as u32);
        put_u32(out, OFF_DUR_NANOS, self.duration.nanos as u32);
        out[OFF_DUR_SECONDS..OFF_DUR_SECONDS + 8]
            .copy_from_slice(&self.duration.seconds.to_le_bytes());

        let mut pos = RECORD_HEADER_LEN;
        for (index, field) in self.fields().iter().enumerate() {
            match field {
                None => {
                    put_u32(out, pos, ABSENT);
                    pos += 4;
                }
                Some(bytes) => {
                    // The total fits u32 (checked above), so every field length does too, and
                    // it is below ABSENT because the header alone is longer than zero bytes.
                    let len =
                        u32::try_from(bytes.len()).map_err(|_| RecordError::FieldTooLarge {
                            field: FIELD_NAMES[index],
                            len: bytes.len(),
                        })?;
                    put_u32(out, pos, len);
                    pos += 4;
                    out[pos..pos + bytes.len()].copy_from_slice(bytes);
                    pos += bytes.len();
                }
            }
        }
        debug_assert_eq!(pos, needed);
        Ok(needed)
    }

    /// Convenience for tests and tools: the record as an owned byte vector.
    pub fn to_bytes(&self) -> Result<Vec<u8>, RecordError> {
        let mut out = vec![0u8; self.encoded_len()];
        self.encode_into(&mut out)?;
        Ok(out)
    }
}

fn put_u16(out: &mut [u8], at: usize, value: u16) {
    out[at..at + 2].copy_from_slice(&value.to_le_bytes());
}

fn put_u32(out: &mut [u8], at: usize, value: u32) {
    out[at..at + 4].copy_from_slice(&value.to_le_bytes());
}
