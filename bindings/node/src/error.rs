//! The binding's one conversion point from Rust errors to JavaScript `Error`s.
//!
//! Messages are the core's `Display` text, which keeps the published addon's wording
//! (`invalid json: ...`, `invalid package_type enum: 42`); `error.code` is a stable name from
//! [`ErrorCode`] so callers can branch without parsing messages.

use drift_core_rs::CoreError;
use drift_exporter::ExporterError;

/// `error.code` of the errors this binding throws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// A JSON text argument does not parse (including the nesting limit).
    InvalidJson,
    /// An enum argument is out of range; the message names the field.
    InvalidEnum,
    /// Prebuilt protobuf bytes (a `Struct` or a `Span`) do not decode.
    InvalidProtobuf,
    /// A value the core cannot serialize.
    SerializationError,
    /// An argument of the wrong JavaScript type or shape.
    InvalidArg,
    /// A `RingExporter` option is invalid.
    InvalidConfig,
    /// The exporter could not start (ring file, thread) or a sidecar command failed.
    ExporterError,
    /// A bug: the native code panicked. The panic was caught at the entry point; the process
    /// and the binding keep working.
    InternalError,
}

impl AsRef<str> for ErrorCode {
    fn as_ref(&self) -> &str {
        match self {
            ErrorCode::InvalidJson => "InvalidJson",
            ErrorCode::InvalidEnum => "InvalidEnum",
            ErrorCode::InvalidProtobuf => "InvalidProtobuf",
            ErrorCode::SerializationError => "SerializationError",
            ErrorCode::InvalidArg => "InvalidArg",
            ErrorCode::InvalidConfig => "InvalidConfig",
            ErrorCode::ExporterError => "ExporterError",
            ErrorCode::InternalError => "InternalError",
        }
    }
}

/// The error type of every fallible function of the binding.
pub type JsError = napi::Error<ErrorCode>;
/// `Result` with [`JsError`].
pub type JsResult<T> = Result<T, JsError>;

/// Builds an error with a code and a message.
pub fn js_error(code: ErrorCode, message: impl Into<String>) -> JsError {
    napi::Error::new(code, message.into())
}

/// Maps a core error: the message is the published one, the code its category.
pub fn from_core(error: CoreError) -> JsError {
    let code = match &error {
        CoreError::InvalidJson { .. } | CoreError::RecursionLimit { .. } => ErrorCode::InvalidJson,
        CoreError::InvalidEnum { .. } => ErrorCode::InvalidEnum,
        CoreError::InvalidProtobuf { .. } | CoreError::InvalidSpan { .. } => {
            ErrorCode::InvalidProtobuf
        }
        CoreError::ValueTooDeep { .. } | CoreError::UnsupportedValue => {
            ErrorCode::SerializationError
        }
    };
    js_error(code, error.to_string())
}

/// Maps an exporter error (construction and configuration only: per-span problems are counted
/// drops, never errors).
pub fn from_exporter(error: ExporterError) -> JsError {
    let code = match &error {
        ExporterError::Config { .. } => ErrorCode::InvalidConfig,
        _ => ErrorCode::ExporterError,
    };
    js_error(code, error.to_string())
}

/// Re-labels a napi conversion error (wrong JS type) with [`ErrorCode::InvalidArg`], keeping
/// napi's message, which names the expected type.
pub fn from_napi(error: napi::Error) -> JsError {
    js_error(ErrorCode::InvalidArg, error.reason.clone())
}

/// Runs the body of a `#[napi]` entry point, turning a panic into a JS `Error` with code
/// [`ErrorCode::InternalError`]: a panic must never unwind into (or abort) the Node process.
pub fn guarded<T>(context: &str, f: impl FnOnce() -> JsResult<T>) -> JsResult<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let detail = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".to_owned());
            Err(js_error(
                ErrorCode::InternalError,
                format!("internal error in {context}: {detail}"),
            ))
        }
    }
}
