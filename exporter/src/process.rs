//! Processing one record on the exporter thread: decode the untrusted bytes, hand the record to
//! its SDK's flavour (`crate::flavour::python`, `crate::flavour::node`: what that SDK's stock
//! export path computes) and build the span (protobuf bytes for the request sinks, that SDK's
//! JSON line for the file sink).
//!
//! Parity rules are documented in `docs/record-format.md`, "Processing", and `docs/design.md`,
//! "SDK flavours".

use drift_core_rs::{CoreError, ProcessedPayload, Value};

use crate::pipeline::SpanOutput;
use crate::record::{DecodedRecord, RecordError, SdkFlavor, decode_record};
use crate::sink::SpanLine;

/// Why a record was dropped as `serialization_error`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProcessError {
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error("{field}: {error}")]
    Json {
        field: &'static str,
        error: CoreError,
    },
    #[error("building the span: {0}")]
    Span(CoreError),
    /// A field the Node SDK's stock path could not read either (its `JSON.parse` throws).
    #[error("{field}: {message}")]
    Node {
        field: &'static str,
        message: String,
    },
}

/// Which side of a span a value belongs to: the SDKs treat a missing input and a missing
/// output differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Input,
    Output,
}

impl Side {
    pub(crate) fn value_field(self) -> &'static str {
        match self {
            Side::Input => "input_value_json",
            Side::Output => "output_value_json",
        }
    }
}

/// Runs the value form of `process_export_payload` on one side of a Python record, reading `text`
/// (the value attribute, `None` if absent) and `merges_text` as the Python SDK's export path does
/// (`crate::flavour::python`; Node records are processed by `crate::flavour::node`).
pub fn process_side<'a>(
    side: Side,
    text: Option<&'a str>,
    merges_text: Option<&str>,
) -> Result<ProcessedPayload<'a>, ProcessError> {
    crate::flavour::python::process_side(side, text, merges_text)
}

/// The value hash and schema hash one side of a span gets from `sdk`'s stock export path: the
/// published core's for Python, the Node SDK's `JsonSchemaHelper` for Node
/// (`crate::flavour::node`). `output` selects the output side's rules (an absent or empty
/// output is `{}` without merges).
pub fn side_hashes(
    sdk: SdkFlavor,
    output: bool,
    value_json: Option<&str>,
    merges_json: Option<&str>,
) -> Result<(String, String), ProcessError> {
    match sdk {
        SdkFlavor::Node => crate::flavour::node::side_hashes(output, value_json, merges_json),
        SdkFlavor::Python => {
            let side = if output { Side::Output } else { Side::Input };
            let processed = process_side(side, value_json, merges_json)?;
            Ok((processed.decoded_value_hash, processed.decoded_schema_hash))
        }
    }
}

/// Decodes and processes one record into what the sink needs.
pub(crate) struct Processor {
    lines: bool,
    errors_logged: u64,
}

impl Processor {
    pub(crate) fn new(lines: bool) -> Self {
        Processor {
            lines,
            errors_logged: 0,
        }
    }

    pub(crate) fn process(&mut self, payload: &[u8]) -> Result<SpanOutput, ProcessError> {
        if self.lines {
            span_json_line_from_record(payload).map(SpanOutput::Line)
        } else {
            span_bytes_from_record(payload).map(SpanOutput::Proto)
        }
    }

    /// The first few processing errors are logged (warning); after that they are only counted.
    pub(crate) fn note_error(&mut self, error: &ProcessError) {
        if self.errors_logged < 10 {
            self.errors_logged += 1;
            tracing::warn!("dropping a span (serialization_error): {error}");
        }
    }
}

/// Both sides of a decoded record.
struct Sides<'a> {
    input: ProcessedPayload<'a>,
    output: ProcessedPayload<'a>,
    metadata: Option<Value<'a>>,
}

/// A Python record's sides and metadata.
fn process_sides<'a>(record: &DecodedRecord<'a>) -> Result<Sides<'a>, ProcessError> {
    let input = process_side(
        Side::Input,
        Some(record.input_value_json),
        record.input_schema_merges_json,
    )?;
    let output = process_side(
        Side::Output,
        record.output_value_json,
        record.output_schema_merges_json,
    )?;
    let metadata = crate::flavour::python::optional_object(record.metadata_json);
    Ok(Sides {
        input,
        output,
        metadata,
    })
}

/// `tusk.drift.core.v1.Span` bytes for a record, exactly as the SDK's export path would build
/// them (hashes, schemas, `Struct`s).
pub fn span_bytes_from_record(bytes: &[u8]) -> Result<Vec<u8>, ProcessError> {
    let record = decode_record(bytes)?;
    if record.sdk == SdkFlavor::Node {
        return crate::flavour::node::with_span(&record, |span| {
            crate::flavour::node::span_bytes(&record, span)
        })?;
    }
    let sides = process_sides(&record)?;
    crate::span_proto::build(
        &record,
        &sides.input,
        &sides.output,
        sides.metadata.as_ref(),
    )
    .map_err(ProcessError::Span)
}

/// The span as the SDKs' filesystem exporter writes it (one JSON object, no newline).
pub fn span_json_line_from_record(bytes: &[u8]) -> Result<SpanLine, ProcessError> {
    let record = decode_record(bytes)?;
    if record.sdk == SdkFlavor::Node {
        let json = crate::flavour::node::with_span(&record, |span| {
            crate::flavour::node::json_line(&record, span)
        })?;
        return Ok(SpanLine {
            trace_id: record.trace_id.to_string(),
            sdk: record.sdk,
            json,
        });
    }
    let sides = process_sides(&record)?;
    let transform_metadata = record
        .transform_metadata_json
        .and_then(|text| crate::flavour::python::parse(text).ok())
        .filter(|value| !value.is_null());
    let json = crate::flavour::python::json_line(
        &record,
        &sides.input,
        &sides.output,
        sides.metadata.as_ref(),
        transform_metadata.as_ref(),
    );
    Ok(SpanLine {
        trace_id: record.trace_id.to_string(),
        sdk: record.sdk,
        json,
    })
}
