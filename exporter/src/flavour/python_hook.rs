//! The Python SDK hookup's rules for an ended span (`drift_core/sdk.py` → `RingExporter.
//! _push_sdk_span`): which span attributes it reads, and what the stock export path
//! (`otel_converter.py`, `TraceBlockingManager`) makes of them before the span reaches the
//! exporter: the name falls back to the OpenTelemetry span name, an absent input value is `{}`,
//! an empty stack trace is none, a span whose value texts exceed the SDK's size limit is not
//! exported (the hook blocks its trace), and a text flag is true for `true`/`1`/`yes`.
//!
//! The binding reads each attribute as a Python object and converts it (a `str`, `str()` of
//! anything else, Python truthiness of a non-`str` flag); it applies none of these rules.

use crate::record::{SPAN_FIELDS, SdkFlavor, SpanRecord, Timestamp};

/// The span schema fields (`SPAN_FIELDS` names) the hookup reads from the span's attributes, in
/// the order of the [`attribute`] positions. The hook names the attribute holding each (the
/// SDK's `TdSpanAttributes`), so this crate knows no SDK constant.
pub const ATTRIBUTE_FIELDS: [&str; attribute::COUNT] = [
    "name",
    "package_name",
    "instrumentation_name",
    "submodule_name",
    "is_pre_app_start",
    "is_root_span",
    "input_value_json",
    "output_value_json",
    "input_schema_merges_json",
    "output_schema_merges_json",
    "metadata_json",
    "transform_metadata_json",
    "stack_trace",
];

/// Positions in [`ATTRIBUTE_FIELDS`].
pub mod attribute {
    pub const NAME: usize = 0;
    pub const PACKAGE_NAME: usize = 1;
    pub const INSTRUMENTATION_NAME: usize = 2;
    pub const SUBMODULE_NAME: usize = 3;
    pub const IS_PRE_APP_START: usize = 4;
    pub const IS_ROOT_SPAN: usize = 5;
    pub const INPUT_VALUE: usize = 6;
    pub const OUTPUT_VALUE: usize = 7;
    pub const INPUT_SCHEMA_MERGES: usize = 8;
    pub const OUTPUT_SCHEMA_MERGES: usize = 9;
    pub const METADATA: usize = 10;
    pub const TRANSFORM_METADATA: usize = 11;
    pub const STACK_TRACE: usize = 12;
    pub const COUNT: usize = 13;
}

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

// Every attribute field is a field of the span schema (checked at compile time).
const _: () = {
    let mut i = 0;
    while i < ATTRIBUTE_FIELDS.len() {
        let mut found = false;
        let mut row = 0;
        while row < SPAN_FIELDS.len() {
            found |= same(ATTRIBUTE_FIELDS[i], SPAN_FIELDS[row].name);
            row += 1;
        }
        assert!(found, "an attribute field is not a span schema field");
        i += 1;
    }
};

/// The SDK's `get_attribute_as_bool` of a `str` attribute (`value.lower() in ("true", "1",
/// "yes")`). An ASCII-insensitive comparison is the same test: the only non-ASCII character
/// whose lowercase is ASCII is the Kelvin sign (`k`), in none of the words.
pub fn flag_from_text(text: &str) -> bool {
    ["true", "1", "yes"]
        .iter()
        .any(|word| text.eq_ignore_ascii_case(word))
}

/// The attributes of one ended span as the binding read them: each text attribute's `str`
/// (`None` when absent), each JSON attribute's `json.dumps` text (`None` when absent or not a
/// `str`, as the stock `get_attribute_as_dict` sees it), and the two flags.
#[derive(Debug, Clone, Copy, Default)]
pub struct HookAttributes<'a> {
    pub name: Option<&'a str>,
    pub package_name: Option<&'a str>,
    pub instrumentation_name: Option<&'a str>,
    pub submodule_name: Option<&'a str>,
    pub is_pre_app_start: bool,
    pub is_root_span: bool,
    pub input_value_json: Option<&'a str>,
    pub output_value_json: Option<&'a str>,
    pub input_schema_merges_json: Option<&'a str>,
    pub output_schema_merges_json: Option<&'a str>,
    pub metadata_json: Option<&'a str>,
    pub transform_metadata_json: Option<&'a str>,
    pub stack_trace: Option<&'a str>,
}

/// One ended span as the hook hands it over: what it read from the SDK's span objects and the
/// attributes.
#[derive(Debug, Clone, Copy)]
pub struct HookSpan<'a> {
    pub sdk_version: &'a str,
    pub trace_id: &'a str,
    pub span_id: &'a str,
    pub parent_span_id: &'a str,
    /// The OpenTelemetry span's name, used when the name attribute is absent.
    pub default_name: &'a str,
    pub package_type: i32,
    pub kind: i32,
    pub status_code: i32,
    pub status_message: &'a str,
    pub environment: Option<&'a str>,
    pub start_unix_nanos: i64,
    /// 0 when the span has no end time (a zero duration).
    pub end_unix_nanos: i64,
    pub attributes: HookAttributes<'a>,
}

/// The span's input and output texts exceed the SDK's span size limit: the stock path does not
/// export it and blocks its trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverSizeLimit;

impl<'a> HookSpan<'a> {
    /// The record the ring carries for this span, or [`OverSizeLimit`] when the value texts
    /// together exceed `max_value_bytes` (the SDK's `MAX_SPAN_SIZE_BYTES`).
    pub fn record(&self, max_value_bytes: usize) -> Result<SpanRecord<'a>, OverSizeLimit> {
        let attributes = &self.attributes;
        // The stock path measures len(json.dumps(value).encode()) of the parsed values; the
        // attributes are those json.dumps texts (ASCII unless ensure_ascii was off), so their
        // UTF-8 length is the same estimate.
        let value_bytes = attributes.input_value_json.map_or(0, str::len)
            + attributes.output_value_json.map_or(0, str::len);
        if value_bytes > max_value_bytes {
            return Err(OverSizeLimit);
        }
        let (timestamp, duration) =
            Timestamp::start_and_duration(self.start_unix_nanos, self.end_unix_nanos);
        Ok(SpanRecord {
            sdk: SdkFlavor::Python,
            sdk_version: self.sdk_version,
            trace_id: self.trace_id,
            span_id: self.span_id,
            parent_span_id: self.parent_span_id,
            name: attributes.name.unwrap_or(self.default_name),
            package_name: attributes.package_name.unwrap_or(""),
            instrumentation_name: attributes.instrumentation_name.unwrap_or(""),
            submodule_name: attributes.submodule_name.unwrap_or(""),
            package_type: self.package_type,
            kind: self.kind,
            environment: self.environment,
            status_code: self.status_code,
            status_message: self.status_message,
            is_pre_app_start: attributes.is_pre_app_start,
            is_root_span: attributes.is_root_span,
            timestamp,
            duration,
            // Absent is `{}` in the SDK (`get_attribute_as_dict(...) or {}`).
            input_value_json: attributes.input_value_json.unwrap_or("{}").as_bytes(),
            output_value_json: attributes.output_value_json.map(str::as_bytes),
            input_schema_merges_json: attributes.input_schema_merges_json.map(str::as_bytes),
            output_schema_merges_json: attributes.output_schema_merges_json.map(str::as_bytes),
            metadata_json: attributes.metadata_json.map(str::as_bytes),
            transform_metadata_json: attributes.transform_metadata_json.map(str::as_bytes),
            // The stock converter reads it with a "" default; "" is "no stack trace".
            stack_trace: attributes.stack_trace.filter(|text| !text.is_empty()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(attributes: HookAttributes<'_>) -> HookSpan<'_> {
        HookSpan {
            sdk_version: "0.1.29",
            trace_id: "t",
            span_id: "s",
            parent_span_id: "",
            default_name: "otel name",
            package_type: 1,
            kind: 2,
            status_code: 1,
            status_message: "",
            environment: None,
            start_unix_nanos: 1_500_000_000,
            end_unix_nanos: 3_750_000_000,
            attributes,
        }
    }

    #[test]
    fn absent_attributes_take_the_stock_defaults() {
        let record = span(HookAttributes::default()).record(usize::MAX).unwrap();
        assert_eq!(record.sdk, SdkFlavor::Python);
        assert_eq!(record.name, "otel name");
        assert_eq!(record.package_name, "");
        assert_eq!(record.input_value_json, b"{}");
        assert_eq!(record.output_value_json, None);
        assert_eq!(record.stack_trace, None);
        assert_eq!(
            record.timestamp,
            Timestamp {
                seconds: 1,
                nanos: 500_000_000
            }
        );
        assert_eq!(
            record.duration,
            Timestamp {
                seconds: 2,
                nanos: 250_000_000
            }
        );
    }

    #[test]
    fn given_attributes_are_carried_and_an_empty_stack_trace_is_none() {
        let attributes = HookAttributes {
            name: Some("GET /"),
            input_value_json: Some(r#"{"a": 1}"#),
            output_value_json: Some(r#"{"b": 2}"#),
            stack_trace: Some(""),
            is_root_span: true,
            ..HookAttributes::default()
        };
        let record = span(attributes).record(usize::MAX).unwrap();
        assert_eq!(record.name, "GET /");
        assert_eq!(record.input_value_json, br#"{"a": 1}"#);
        assert_eq!(record.output_value_json, Some(&br#"{"b": 2}"#[..]));
        assert_eq!(record.stack_trace, None);
        assert!(record.is_root_span);
        let with_trace = HookAttributes {
            stack_trace: Some("at x"),
            ..attributes
        };
        assert_eq!(
            span(with_trace).record(usize::MAX).unwrap().stack_trace,
            Some("at x")
        );
    }

    #[test]
    fn the_size_limit_counts_input_and_output_texts() {
        let attributes = HookAttributes {
            input_value_json: Some("12345"),
            output_value_json: Some("678"),
            ..HookAttributes::default()
        };
        assert!(span(attributes).record(8).is_ok());
        assert_eq!(span(attributes).record(7).unwrap_err(), OverSizeLimit);
    }

    #[test]
    fn a_missing_end_time_is_a_zero_duration() {
        let mut open = span(HookAttributes::default());
        open.end_unix_nanos = 0;
        assert_eq!(
            open.record(usize::MAX).unwrap().duration,
            Timestamp::default()
        );
    }

    #[test]
    fn text_flags_follow_get_attribute_as_bool() {
        for text in ["true", "True", "TRUE", "1", "yes", "Yes"] {
            assert!(flag_from_text(text), "{text}");
        }
        for text in ["", "false", "0", "no", "y", " true", "2"] {
            assert!(!flag_from_text(text), "{text}");
        }
    }
}
