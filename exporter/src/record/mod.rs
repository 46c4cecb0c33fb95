//! The raw span record: the bytes an SDK thread writes into a ring slot.
//!
//! The layout is specified in `docs/record-format.md`. [`SpanRecord`] is the borrowed,
//! encoder-side view an SDK binding fills in; [`DecodedRecord`] is what the exporter gets back
//! after checking every length of an untrusted byte string.

mod decode;
mod encode;
mod fields;
mod layout;

pub use decode::{DecodedRecord, decode_record};
pub use encode::{SpanRecord, Timestamp};
pub use fields::{FieldKind, SPAN_FIELDS, SpanFieldSpec};
pub use layout::{RECORD_HEADER_LEN, RECORD_MAGIC, RECORD_VERSION, SdkFlavor};

use thiserror::Error;

/// Why a record could not be encoded or decoded. Every variant names the place that failed so
/// a counted drop can be diagnosed from a log line.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RecordError {
    #[error("record is {len} bytes, shorter than the {RECORD_HEADER_LEN}-byte header")]
    TruncatedHeader { len: usize },
    #[error("bad record magic {found:02x?}")]
    BadMagic { found: [u8; 4] },
    #[error("unsupported record version {version} (this exporter reads version {RECORD_VERSION})")]
    UnsupportedVersion { version: u16 },
    #[error("record header_len {header_len} is invalid")]
    BadHeaderLen { header_len: u16 },
    #[error("record total_len {total_len} does not fit the {available} bytes available")]
    BadTotalLen { total_len: u32, available: usize },
    #[error("record has {field_count} fields, at least {required} required")]
    TooFewFields { field_count: u16, required: u16 },
    #[error("unknown sdk flavor {value}")]
    UnknownSdk { value: u8 },
    #[error("field {field} length {len} at offset {offset} runs past the record end {end}")]
    FieldPastEnd {
        field: &'static str,
        offset: usize,
        len: usize,
        end: usize,
    },
    #[error("required field {field} is absent")]
    MissingField { field: &'static str },
    #[error("field {field} is not valid UTF-8 (error at byte {valid_up_to})")]
    InvalidUtf8 {
        field: &'static str,
        valid_up_to: usize,
    },
    #[error("field {field} is {len} bytes, more than a record can hold")]
    FieldTooLarge { field: &'static str, len: usize },
    #[error("output buffer is {available} bytes, the record needs {needed}")]
    BufferTooSmall { needed: usize, available: usize },
}
