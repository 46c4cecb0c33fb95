//! Encoder: writes a [`SpanRecord`] straight into a caller-provided slot (a ring slot).

use super::RecordError;
use super::fields::WIRE_FIELD_NAMES;
use super::layout::*;

pub use super::fields::SpanRecord;

/// Seconds and nanoseconds, as in `google.protobuf.Timestamp`/`Duration`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Timestamp {
    pub seconds: i64,
    pub nanos: i32,
}

impl Timestamp {
    /// A span's start and duration from its start and end in nanoseconds since the Unix epoch,
    /// as OpenTelemetry SDKs hold them; an end of 0 (no end time) is a zero duration.
    pub fn start_and_duration(
        start_unix_nanos: i64,
        end_unix_nanos: i64,
    ) -> (Timestamp, Timestamp) {
        const NANOS_PER_SECOND: i128 = 1_000_000_000;
        let split = |nanos: i128| Timestamp {
            // Seconds of an i64 of nanoseconds (or of a difference of two) always fit an i64.
            seconds: nanos.div_euclid(NANOS_PER_SECOND) as i64,
            nanos: nanos.rem_euclid(NANOS_PER_SECOND) as i32,
        };
        let duration = if end_unix_nanos != 0 {
            i128::from(end_unix_nanos) - i128::from(start_unix_nanos)
        } else {
            0
        };
        (split(i128::from(start_unix_nanos)), split(duration))
    }
}

impl<'a> SpanRecord<'a> {
    /// Exact number of bytes [`SpanRecord::encode_into`] writes. Saturates at `usize::MAX` on
    /// absurd inputs, which every ring rejects as too large.
    pub fn encoded_len(&self) -> usize {
        self.wire_fields()
            .iter()
            .fold(RECORD_HEADER_LEN, |acc, field| {
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
        put_u32(out, OFF_RESERVED, 0);
        let flags = self.put_header_fields(out);
        out[OFF_FLAGS] = flags;

        let mut pos = RECORD_HEADER_LEN;
        for (index, field) in self.wire_fields().iter().enumerate() {
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
                            field: WIRE_FIELD_NAMES[index],
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
