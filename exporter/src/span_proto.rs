//! Span protobuf bytes from a decoded record and its processed payloads, through the core's
//! builder, reusing the `Struct` bytes `process_export_value` already built.

use drift_core_rs::{
    ProcessedPayload, SpanClassification, SpanFlags, SpanHashes, SpanIdentity, SpanInput,
    SpanPayload, SpanPayloads, SpanStatusInput, SpanTiming, Value, build_span_proto_bytes,
};

use crate::process::ProcessError;
use crate::record::DecodedRecord;

pub(crate) fn build(
    record: &DecodedRecord<'_>,
    input: &ProcessedPayload<'_>,
    output: &ProcessedPayload<'_>,
    metadata: Option<&Value<'_>>,
) -> Result<Vec<u8>, ProcessError> {
    let span = SpanInput {
        identity: SpanIdentity {
            trace_id: record.trace_id,
            span_id: record.span_id,
            parent_span_id: record.parent_span_id,
            name: record.name,
        },
        classification: SpanClassification {
            package_name: record.package_name,
            instrumentation_name: record.instrumentation_name,
            submodule_name: record.submodule_name,
            package_type: record.package_type,
            kind: record.kind,
            environment: record.environment,
        },
        payloads: SpanPayloads {
            input: SpanPayload::StructBytes(&input.protobuf_struct_bytes),
            output: SpanPayload::StructBytes(&output.protobuf_struct_bytes),
            input_schema: Some(&input.decoded_schema),
            output_schema: Some(&output.decoded_schema),
            metadata: metadata.map_or(SpanPayload::None, SpanPayload::Value),
        },
        hashes: SpanHashes {
            input_value_hash: &input.decoded_value_hash,
            output_value_hash: &output.decoded_value_hash,
            input_schema_hash: &input.decoded_schema_hash,
            output_schema_hash: &output.decoded_schema_hash,
        },
        status: SpanStatusInput {
            code: record.status_code,
            message: record.status_message,
        },
        timing: SpanTiming {
            timestamp_seconds: record.timestamp.seconds,
            timestamp_nanos: record.timestamp.nanos,
            duration_seconds: record.duration.seconds,
            duration_nanos: record.duration.nanos,
        },
        flags: SpanFlags {
            is_pre_app_start: record.is_pre_app_start,
            is_root_span: record.is_root_span,
        },
    };
    build_span_proto_bytes(&span).map_err(ProcessError::Span)
}
