//! `@use-tusk/drift-core-node`: the Node binding of drift-core (napi-rs).
//!
//! Conversion and error mapping only: every computation is `drift_core_rs`'s, every queue and
//! thread `drift_exporter`'s.
//!
//! * [`api`]: the published addon's functions, same names and shapes.
//! * [`ring_exporter`]: the `RingExporter` class (ring, batching, sinks; Promises for flush and
//!   shutdown; per-environment cleanup for `worker_threads`).
//! * [`ring_span`]: the hot path that reads a span object into a ring record.
//! * [`env_state`]: per-environment state: `buildSpanProtoBytes`'s arena, the drains run on
//!   `process` `exit`.
//! * [`span_input`]: reads the `buildSpanProtoBytes` input object and builds the span.
//! * [`js_read`]: the N-API field readers both hand-written readers share.
//! * [`error`]: the one conversion point to JavaScript `Error`s with a stable `code`.
//! * [`js_text_arg`]: string arguments read as UTF-16 in one N-API call into reused buffers.
//! * `logs`: the exporter's log records as stderr lines gated by `TUSK_LOG_LEVEL`.
//! * `push_span_shim`: `RingExporter.prototype.pushSpan` reads the span's properties in
//!   JavaScript and calls `pushSpanFields`.
//! * [`js_string`]: result strings handed to V8 as Latin-1 or UTF-16, skipping its UTF-8 decoder.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod api;
pub mod env_state;
pub mod error;
pub mod js_read;
pub mod js_string;
pub mod js_text_arg;
mod logs;
mod push_span_shim;
pub mod ring_exporter;
pub mod ring_span;
pub mod span_input;
