//! drift-exporter: drains span rings, processes spans with `drift-core-rs` off the application
//! thread, coalesces them into `ExportSpansRequest`s and delivers them (HTTP, files, callback).
//!
//! # For the SDK bindings
//!
//! ```no_run
//! use std::time::Duration;
//! use drift_exporter::{Exporter, ExporterConfig, SdkFlavor, SpanRecord, Timestamp};
//!
//! let mut config = ExporterConfig::from_env()?; // TUSK_* variables over the defaults
//! config.service.observable_service_id = "svc".into(); // programmatic settings win
//! let exporter = Exporter::start(config)?;
//! let span = SpanRecord {
//!     sdk: SdkFlavor::Python,
//!     sdk_version: "0.1.29",
//!     trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
//!     span_id: "00f067aa0ba902b7",
//!     parent_span_id: "",
//!     name: "GET /users",
//!     package_name: "http",
//!     instrumentation_name: "HttpInstrumentation",
//!     submodule_name: "GET",
//!     package_type: 1,
//!     kind: 1,
//!     environment: Some("production"),
//!     status_code: 1,
//!     status_message: "",
//!     is_pre_app_start: false,
//!     is_root_span: true,
//!     timestamp: Timestamp { seconds: 1_763_766_605, nanos: 0 },
//!     duration: Timestamp { seconds: 0, nanos: 1_500_000 },
//!     input_value_json: br#"{"method":"GET","url":"/users"}"#,
//!     output_value_json: Some(br#"{"statusCode":200}"#),
//!     input_schema_merges_json: None,
//!     output_schema_merges_json: None,
//!     metadata_json: None,
//!     transform_metadata_json: None,
//!     stack_trace: None,
//! };
//! if let Err(reason) = exporter.push_span(&span) {
//!     // counted already; `reason.as_str()` is e.g. "queue_full"
//! }
//! exporter.force_flush(Duration::from_secs(5));
//! let health = exporter.health(); // serde::Serialize: a dict / JS object in the bindings
//! exporter.shutdown(Duration::from_secs(5));
//! # Ok::<(), drift_exporter::ExporterError>(())
//! ```
//!
//! See `docs/design.md` ("Exporter") and `docs/record-format.md`.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod config;
mod error;
mod exporter;
mod flavour;
mod fork;
pub mod health;
mod naming;
mod options;
mod pipeline;
pub mod process;
pub mod record;
mod recovery;
pub mod sidecar;
pub mod sink;
mod span_proto;

pub use config::{
    ApiSinkConfig, BatchSettings, BreakerSettings, ExportCallback, ExporterConfig, FileConfig,
    FileSinkConfig, OPTIONS, OptionKind, OptionSpec, Overrides, RetrySettings, RingSettings,
    ServiceIdentity, SinkConfig,
};
pub use error::ExporterError;
pub use exporter::Exporter;
pub use flavour::python_hook;
pub use health::{CircuitState, DropReason, DroppedByReason, HealthSnapshot, HealthValue};
pub use naming::camel_case;
pub use process::{ProcessError, span_bytes_from_record, span_json_line_from_record};
pub use record::{DecodedRecord, RecordError, SdkFlavor, SpanRecord, Timestamp, decode_record};

/// Ring record type of a span record (the ring itself knows nothing of spans).
pub const SPAN_RECORD_TYPE: u16 = 2;
