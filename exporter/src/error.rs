//! The crate's one error type.

use thiserror::Error;

use crate::record::RecordError;

/// Errors of starting or configuring an exporter, and of the sidecar's commands. Per-span
/// problems are never errors: they are counted drops ([`crate::DropReason`]).
#[derive(Debug, Error)]
pub enum ExporterError {
    #[error("invalid configuration {key}: {message}")]
    Config { key: String, message: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("ring error while {context}: {message}")]
    Ring { context: String, message: String },
    #[error("invalid span record: {0}")]
    Record(#[from] RecordError),
    #[error("span processing failed: {0}")]
    Process(String),
    #[error("export failed: {0}")]
    Export(String),
    #[error("could not start the {thread} thread: {source}")]
    Thread {
        thread: &'static str,
        #[source]
        source: std::io::Error,
    },
}
