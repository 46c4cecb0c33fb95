//! The crate's one error type.
//!
//! `Display` keeps the message prefixes of the published drift-core bindings (`invalid json: ...`,
//! `invalid package_type enum: 42`, `serialization error: ...`): SDKs log and sometimes compare them.

/// Everything the core can refuse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CoreError {
    /// The text is not JSON (or not the shape expected, for schema merges). `message` is the parser's
    /// description without position, e.g. `expected value`; `line`/`column` are 1-based, as serde_json
    /// reports them (column 0 means "before the first character of the line").
    #[error("invalid json: {message} at line {line} column {column}")]
    InvalidJson {
        /// What went wrong, e.g. `trailing comma`, `EOF while parsing a value`.
        message: String,
        /// 1-based line of the error.
        line: usize,
        /// Column of the error, as serde_json counts it.
        column: usize,
    },
    /// Arrays/objects nested 128 levels deep in a JSON text (127 are accepted).
    #[error("invalid json: recursion limit exceeded at line {line} column {column}")]
    RecursionLimit {
        /// 1-based line of the bracket that went one level too deep.
        line: usize,
        /// Column of that bracket.
        column: usize,
    },
    /// An in-memory [`Value`](crate::Value) nested 128 levels deep. The published bindings serialize
    /// such a value and re-parse it, so the position is the one in the canonical text.
    #[error("serialization error: recursion limit exceeded at line 1 column {column}")]
    ValueTooDeep {
        /// 1-based column of the offending bracket in the canonical text.
        column: usize,
    },
    /// A value that has no JSON representation the published core accepts (e.g. a Python integer
    /// beyond the double range).
    #[error("unsupported value type for Rust export payload processing")]
    UnsupportedValue,
    /// An enum argument outside the values of its protobuf enum.
    #[error("invalid {field} enum: {value}")]
    InvalidEnum {
        /// The argument's name as the published API spells it (`package_type`, `kind`, `status_code`).
        field: &'static str,
        /// The rejected value.
        value: i64,
    },
    /// Bytes that should be a protobuf message (prebuilt `Struct` bytes) do not decode.
    #[error("serialization error: failed to decode Protobuf message: {what}")]
    InvalidProtobuf {
        /// The decoder's description (prost's wording), e.g. `invalid varint`.
        what: String,
    },
    /// One span of an export request is not a well-formed `tusk.drift.core.v1.Span`.
    #[error(
        "serialization error: failed to decode span proto bytes: failed to decode Protobuf message: {what} (span index {index})"
    )]
    InvalidSpan {
        /// Position of the span in the list given.
        index: usize,
        /// The decoder's description (prost's wording).
        what: String,
    },
}
