//! Offsets and constants of record format version 1 (see `docs/record-format.md`).

/// First four bytes of every record: "DSPN" (drift span).
pub const RECORD_MAGIC: [u8; 4] = *b"DSPN";
/// The version this crate writes; the decoder accepts exactly this version.
pub const RECORD_VERSION: u16 = 1;
/// Length of the fixed-size header that precedes the length-prefixed fields.
pub const RECORD_HEADER_LEN: usize = 56;
/// Length prefix value that marks an optional field as absent (distinct from present-but-empty).
pub const ABSENT: u32 = u32::MAX;

pub(crate) const OFF_MAGIC: usize = 0;
pub(crate) const OFF_VERSION: usize = 4;
pub(crate) const OFF_HEADER_LEN: usize = 6;
pub(crate) const OFF_TOTAL_LEN: usize = 8;
pub(crate) const OFF_FIELD_COUNT: usize = 12;
pub(crate) const OFF_SDK: usize = 14;
pub(crate) const OFF_FLAGS: usize = 15;
pub(crate) const OFF_KIND: usize = 16;
pub(crate) const OFF_STATUS_CODE: usize = 20;
pub(crate) const OFF_PACKAGE_TYPE: usize = 24;
pub(crate) const OFF_RESERVED: usize = 28;
pub(crate) const OFF_TS_SECONDS: usize = 32;
pub(crate) const OFF_TS_NANOS: usize = 40;
pub(crate) const OFF_DUR_NANOS: usize = 44;
pub(crate) const OFF_DUR_SECONDS: usize = 48;

pub(crate) const FLAG_PRE_APP_START: u8 = 1 << 0;
pub(crate) const FLAG_ROOT_SPAN: u8 = 1 << 1;

/// The number of length-prefixed fields of version 1 (`sdk_version` and the span schema's text
/// rows, see [`super::fields`]). A newer writer may append fields; this decoder skips any beyond it.
pub(crate) const FIELD_COUNT: usize = super::fields::WIRE_FIELD_COUNT;

pub(crate) fn put_u16(out: &mut [u8], at: usize, value: u16) {
    out[at..at + 2].copy_from_slice(&value.to_le_bytes());
}

pub(crate) fn put_u32(out: &mut [u8], at: usize, value: u32) {
    out[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

// The fixed-offset readers are only called after the decoder's header length check.
pub(crate) fn get_u16(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

pub(crate) fn get_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

pub(crate) fn get_i32(bytes: &[u8], at: usize) -> i32 {
    get_u32(bytes, at) as i32
}

pub(crate) fn get_i64(bytes: &[u8], at: usize) -> i64 {
    let mut raw = [0u8; 8];
    raw.copy_from_slice(&bytes[at..at + 8]);
    i64::from_le_bytes(raw)
}

/// Which SDK produced a record. It decides how the JSON text is read so that hashes equal what
/// that SDK's own export path produces (see `docs/record-format.md`, "Processing").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SdkFlavor {
    /// `tusk-drift-python-sdk`: values are `json.dumps` text (may contain `NaN`/`Infinity`);
    /// the SDK hands `json.loads` of it to the core, so NaN/infinities become null and integers
    /// beyond i64 become doubles, and a falsy value becomes `{}`.
    Python = 1,
    /// `@use-tusk/drift-node-sdk`: values are `JSON.stringify` text, read strictly.
    Node = 2,
}

impl SdkFlavor {
    pub(crate) fn from_wire(value: u8) -> Option<Self> {
        match value {
            1 => Some(Self::Python),
            2 => Some(Self::Node),
            _ => None,
        }
    }

    /// Lowercase name, as used in configuration and stats.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Python => "python",
            Self::Node => "node",
        }
    }
}
