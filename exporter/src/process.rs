//! Processing one record on the exporter thread: decode the untrusted bytes, run the value form
//! of `process_export_payload` once per input/output with the SDK's dialect, and build the span
//! (protobuf bytes for the request sinks, the SDKs' JSON line for the file sink).
//!
//! Parity rules (what each SDK's stock export path does with the same span) are documented in
//! `docs/record-format.md`, "Processing".

use drift_core_rs::{
    CoreError, JsonFlavour, ParseOptions, ProcessedPayload, SchemaMerge, SchemaMerges, Value,
    parse_json, parse_json_with, parse_schema_merges, process_export_value,
};

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

/// Reads a JSON field in the SDK's dialect.
fn parse_flavoured(sdk: SdkFlavor, text: &str) -> Result<Value<'_>, CoreError> {
    match sdk {
        SdkFlavor::Python => parse_json_with(
            text,
            ParseOptions {
                flavour: JsonFlavour::Python,
            },
        ),
        SdkFlavor::Node => parse_json(text),
    }
}

/// Python truthiness of the value `json.loads(text)` returns. The SDK replaces a falsy value by
/// `{}` (`get_attribute_as_dict(...) or {}`). NaN and infinities (null after conversion) are
/// truthy in Python, so a null counts as falsy only when the text says `null`.
fn python_falsy(value: &Value<'_>, text: &str) -> bool {
    match value {
        Value::Null => text.trim_matches(|c: char| c.is_ascii_whitespace()) == "null",
        Value::Bool(flag) => !flag,
        Value::Int(number) => *number == 0,
        Value::UInt(number) => *number == 0,
        Value::Float(number) => *number == 0.0,
        Value::String(text) => text.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(object) => object.is_empty(),
    }
}

/// A number Python's `Enum(value)` lookup would accept for a member value in `0..=max`
/// (`True`/`1.0` hash like `1`).
fn python_enum_value(value: &Value<'_>, max: i64) -> Option<i32> {
    let number = match value {
        Value::Bool(flag) => i64::from(*flag),
        Value::Int(number) => *number,
        Value::UInt(number) => i64::try_from(*number).ok()?,
        Value::Float(number) if number.fract() == 0.0 && number.abs() < 1e18 => *number as i64,
        _ => return None,
    };
    (0..=max).contains(&number).then_some(number as i32)
}

/// The Python SDK's merge handling: `get_attribute_as_schema_merges` (non-object entries skipped,
/// enum values outside the enums dropped) then `_schema_merges_to_primitive` (empty rules
/// dropped). Invalid merges JSON means "no merges" there (a logged warning).
fn python_schema_merges(text: &str) -> SchemaMerges {
    let Ok(Value::Object(object)) = parse_json_with(
        text,
        ParseOptions {
            flavour: JsonFlavour::Python,
        },
    ) else {
        return SchemaMerges::new();
    };
    let rules = object.members().iter().filter_map(|(key, rule)| {
        let Value::Object(rule) = rule else {
            return None;
        };
        let merge = SchemaMerge {
            encoding: rule
                .get("encoding")
                .and_then(|value| python_enum_value(value, 1)),
            decoded_type: rule
                .get("decoded_type")
                .and_then(|value| python_enum_value(value, 11)),
            match_importance: rule.get("match_importance").and_then(|value| match value {
                Value::Bool(_) => None,
                other => other.as_f64(),
            }),
        };
        let empty = merge.encoding.is_none()
            && merge.decoded_type.is_none()
            && merge.match_importance.is_none();
        (!empty).then(|| (key.to_string(), merge))
    });
    SchemaMerges::from_rules(rules)
}

/// Which side of a span a value belongs to: the SDKs treat a missing input and a missing
/// output differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Input,
    Output,
}

impl Side {
    fn value_field(self) -> &'static str {
        match self {
            Side::Input => "input_value_json",
            Side::Output => "output_value_json",
        }
    }

    fn merges_field(self) -> &'static str {
        match self {
            Side::Input => "input_schema_merges_json",
            Side::Output => "output_schema_merges_json",
        }
    }
}

fn empty_object<'a>() -> Value<'a> {
    Value::Object(drift_core_rs::Object::from_members(Vec::new()))
}

/// The Python SDK's `get_attribute_as_dict(attributes, key) or {}`: an absent attribute or one
/// `json.loads` rejects (`JSONDecodeError`, which includes an empty text) reads as `None`, and
/// `None` or any falsy value becomes `{}`. Nesting beyond Python's recursion limit raises
/// `RecursionError` there, which is not caught: the span is lost, so it is an error here too.
fn python_value<'a>(text: Option<&'a str>, field: &'static str) -> Result<Value<'a>, ProcessError> {
    let Some(text) = text else {
        return Ok(empty_object());
    };
    match parse_flavoured(SdkFlavor::Python, text) {
        Ok(value) if python_falsy(&value, text) => Ok(empty_object()),
        Ok(value) => Ok(value),
        Err(CoreError::InvalidJson { .. }) => Ok(empty_object()),
        Err(error) => Err(ProcessError::Json { field, error }),
    }
}

/// The Node SDK's `SpanTransformer.transformSpanToCleanJSON`: the input is always
/// `JSON.parse`d (an absent, empty or invalid text throws and the span is lost); the output is
/// parsed only when the attribute is truthy (absent or empty: `{}`).
fn node_value<'a>(
    side: Side,
    text: Option<&'a str>,
    field: &'static str,
) -> Result<Value<'a>, ProcessError> {
    match (side, text) {
        (Side::Output, None | Some("")) => Ok(empty_object()),
        (Side::Input, None) => Err(ProcessError::Record(RecordError::MissingField { field })),
        (_, Some(text)) => parse_flavoured(SdkFlavor::Node, text)
            .map_err(|error| ProcessError::Json { field, error }),
    }
}

/// Schema merges of one side. Python: the SDK's lenient reading (invalid JSON is no merges).
/// Node: `text ? JSON.parse(text) : undefined`, and the output's merges are only read when the
/// output value is (`has_value`).
fn schema_merges(
    sdk: SdkFlavor,
    text: Option<&str>,
    has_value: bool,
    field: &'static str,
) -> Result<SchemaMerges, ProcessError> {
    match (sdk, text) {
        (_, None) => Ok(SchemaMerges::new()),
        (SdkFlavor::Python, Some(text)) => Ok(python_schema_merges(text)),
        (SdkFlavor::Node, Some(text)) if text.is_empty() || !has_value => Ok(SchemaMerges::new()),
        (SdkFlavor::Node, Some(text)) => {
            parse_schema_merges(text).map_err(|error| ProcessError::Json { field, error })
        }
    }
}

/// Runs the value form of `process_export_payload` on one side of a span, reading `text` (the
/// value attribute, `None` if absent) and `merges_text` as that SDK's export path does (rules in
/// `docs/record-format.md`, "Processing").
pub fn process_side<'a>(
    sdk: SdkFlavor,
    side: Side,
    text: Option<&'a str>,
    merges_text: Option<&str>,
) -> Result<ProcessedPayload<'a>, ProcessError> {
    let field = side.value_field();
    let value = match sdk {
        SdkFlavor::Python => python_value(text, field)?,
        SdkFlavor::Node => node_value(side, text, field)?,
    };
    let has_value = text.is_some_and(|text| !text.is_empty());
    let merges = schema_merges(sdk, merges_text, has_value, side.merges_field())?;
    process_export_value(value, &merges).map_err(|error| ProcessError::Json { field, error })
}

/// Optional JSON fields (metadata): an object or nothing. Python reads absent or invalid JSON
/// as `None` (the SDK logs a warning); Node skips an absent or empty attribute, and its
/// `JSON.parse` throws on invalid text and loses the span.
fn optional_object<'a>(
    sdk: SdkFlavor,
    text: Option<&'a str>,
    field: &'static str,
) -> Result<Option<Value<'a>>, ProcessError> {
    let Some(text) = text else { return Ok(None) };
    if sdk == SdkFlavor::Node && text.is_empty() {
        return Ok(None);
    }
    match parse_flavoured(sdk, text) {
        Ok(value @ Value::Object(_)) => Ok(Some(value)),
        Ok(_) => Ok(None),
        Err(error) => match sdk {
            SdkFlavor::Python => Ok(None),
            SdkFlavor::Node => Err(ProcessError::Json { field, error }),
        },
    }
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
            let processed = process_side(sdk, side, value_json, merges_json)?;
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

    /// The first few processing errors go to stderr; after that they are only counted.
    pub(crate) fn note_error(&mut self, error: &ProcessError) {
        if self.errors_logged < 10 && std::env::var_os("DRIFT_EXPORTER_QUIET").is_none() {
            self.errors_logged += 1;
            eprintln!("drift-exporter: dropping a span (serialization_error): {error}");
        }
    }
}

/// Both sides of a decoded record.
struct Sides<'a> {
    input: ProcessedPayload<'a>,
    output: ProcessedPayload<'a>,
    metadata: Option<Value<'a>>,
}

fn process_sides<'a>(record: &DecodedRecord<'a>) -> Result<Sides<'a>, ProcessError> {
    let input = process_side(
        record.sdk,
        Side::Input,
        Some(record.input_value_json),
        record.input_schema_merges_json,
    )?;
    let output = process_side(
        record.sdk,
        Side::Output,
        record.output_value_json,
        record.output_schema_merges_json,
    )?;
    let metadata = optional_object(record.sdk, record.metadata_json, "metadata_json")?;
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
        let span = crate::flavour::node::process(&record)?;
        return crate::flavour::node::span_bytes(&record, &span);
    }
    let sides = process_sides(&record)?;
    crate::span_proto::build(
        &record,
        &sides.input,
        &sides.output,
        sides.metadata.as_ref(),
    )
}

/// The span as the SDKs' filesystem exporter writes it (one JSON object, no newline).
pub fn span_json_line_from_record(bytes: &[u8]) -> Result<SpanLine, ProcessError> {
    let record = decode_record(bytes)?;
    if record.sdk == SdkFlavor::Node {
        let span = crate::flavour::node::process(&record)?;
        return Ok(SpanLine {
            trace_id: record.trace_id.to_string(),
            sdk: record.sdk,
            json: crate::flavour::node::json_line(&record, &span),
        });
    }
    let sides = process_sides(&record)?;
    let transform_metadata = record
        .transform_metadata_json
        .and_then(|text| parse_flavoured(record.sdk, text).ok())
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
