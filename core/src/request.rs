//! `tusk.drift.backend.v1.ExportSpansRequest` bytes: the four header strings, then each span's
//! bytes appended as a length-delimited field 5, as they are (validated, never decoded).

use prost::encoding::{encode_varint, encoded_len_varint};

use crate::CoreError;
use crate::wire::validate_span_at;

/// `ExportSpansRequest.spans`: field 5, length-delimited.
const TAG_SPANS: u8 = 0x2a;

/// Builds an export request incrementally (the exporter's batcher): holds the header fields,
/// appends span bytes, and knows its encoded length at every step.
#[derive(Debug, Clone)]
pub struct ExportRequestBuilder {
    buf: Vec<u8>,
    header_len: usize,
    spans: usize,
}

impl ExportRequestBuilder {
    /// A request with the given header fields and no span yet.
    pub fn new(
        observable_service_id: &str,
        environment: &str,
        sdk_version: &str,
        sdk_instance_id: &str,
    ) -> Self {
        let mut buf = Vec::with_capacity(
            16 + observable_service_id.len()
                + environment.len()
                + sdk_version.len()
                + sdk_instance_id.len(),
        );
        for (tag, value) in [
            (0x0a, observable_service_id),
            (0x12, environment),
            (0x1a, sdk_version),
            (0x22, sdk_instance_id),
        ] {
            // proto3 strings: empty ones are not written, as prost does.
            if !value.is_empty() {
                buf.push(tag);
                encode_varint(value.len() as u64, &mut buf);
                buf.extend_from_slice(value.as_bytes());
            }
        }
        let header_len = buf.len();
        ExportRequestBuilder {
            buf,
            header_len,
            spans: 0,
        }
    }

    /// Validates `span` as a `Span` (wire-format walk) and appends it.
    ///
    /// Errors: [`CoreError::InvalidSpan`] naming the index the span would have had.
    pub fn push_span(&mut self, span: &[u8]) -> Result<(), CoreError> {
        validate_span_at(span, self.spans)?;
        self.push_validated_span(span);
        Ok(())
    }

    /// Appends span bytes already known to be a well-formed `Span` (built by
    /// [`build_span_proto_bytes`](crate::build_span_proto_bytes) or checked by
    /// [`validate_span_bytes`](crate::validate_span_bytes)).
    pub fn push_validated_span(&mut self, span: &[u8]) {
        self.buf.reserve(Self::span_field_len(span.len()));
        self.buf.push(TAG_SPANS);
        encode_varint(span.len() as u64, &mut self.buf);
        self.buf.extend_from_slice(span);
        self.spans += 1;
    }

    /// Reserves room for `additional` more bytes of spans (see [`Self::span_field_len`]), so a
    /// batch of known size is assembled without growing the buffer.
    pub fn reserve(&mut self, additional: usize) {
        self.buf.reserve(additional);
    }

    /// Bytes one span of `span_len` bytes adds to the request.
    pub fn span_field_len(span_len: usize) -> usize {
        1 + encoded_len_varint(span_len as u64) + span_len
    }

    /// Encoded length of the request so far.
    pub fn encoded_len(&self) -> usize {
        self.buf.len()
    }

    /// Number of spans appended.
    pub fn span_count(&self) -> usize {
        self.spans
    }

    /// Removes every span, keeping the header and the allocation.
    pub fn clear_spans(&mut self) {
        self.buf.truncate(self.header_len);
        self.spans = 0;
    }

    /// The request bytes so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The request bytes.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// The published `build_export_spans_request_bytes`: header fields plus each span, validated and
/// appended as is.
///
/// Errors: [`CoreError::InvalidSpan`] naming the index of the first bad span.
pub fn build_export_spans_request_bytes<S: AsRef<[u8]>>(
    observable_service_id: &str,
    environment: &str,
    sdk_version: &str,
    sdk_instance_id: &str,
    spans: &[S],
) -> Result<Vec<u8>, CoreError> {
    let mut builder = ExportRequestBuilder::new(
        observable_service_id,
        environment,
        sdk_version,
        sdk_instance_id,
    );
    let total: usize = spans
        .iter()
        .map(|s| ExportRequestBuilder::span_field_len(s.as_ref().len()))
        .sum();
    builder.reserve(total);
    for span in spans {
        builder.push_span(span.as_ref())?;
    }
    Ok(builder.finish())
}
