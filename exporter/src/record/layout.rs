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

/// The length-prefixed fields of version 1, in wire order. A newer writer may append fields;
/// this decoder skips any beyond [`FIELD_COUNT`].
pub(crate) const FIELD_NAMES: [&str; FIELD_COUNT] = [
    "sdk_version",
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "package_name",
    "instrumentation_name",
    "submodule_name",
    "environment",
    "status_message",
    "input_value_json",
    "output_value_json",
    "input_schema_merges_json",
    "output_schema_merges_json",
    "metadata_json",
    "transform_metadata_json",
    "stack_trace",
];
pub(crate) const FIELD_COUNT: usize = 17;

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
