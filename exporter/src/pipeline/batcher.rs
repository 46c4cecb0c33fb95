//! Coalescing: spans are appended to the current batch, which is cut when it reaches
//! `max_export_batch_size` spans, would exceed `max_export_batch_bytes`, or has been open for
//! `schedule_delay`; the drain loop also cuts it once its records hold a set share of their
//! ring (`ring_bytes`, see `DrainLoop`).

use std::time::Instant;

use drift_core_rs::ExportRequestBuilder;

use crate::config::{BatchSettings, ServiceIdentity};
use crate::sink::{Batch, BatchBody, RingMark, SpanLine};

/// One processed span, in the form its sink needs.
#[derive(Debug)]
pub(crate) enum SpanOutput {
    /// A `tusk.drift.core.v1.Span` built by the core, written into the request as it is.
    Proto(Vec<u8>),
    Line(SpanLine),
}

impl SpanOutput {
    fn len(&self) -> usize {
        match self {
            SpanOutput::Proto(span) => span.len(),
            SpanOutput::Line(line) => line.json.len() + 1,
        }
    }
}

pub(crate) struct Batcher {
    settings: BatchSettings,
    /// An `ExportSpansRequest` with the header fields and no span: each cut starts from a
    /// clone of it.
    empty_request: ExportRequestBuilder,
    /// The open request (the core's builder; spans come from the core's span builder, so they
    /// are appended without a second validation).
    request: ExportRequestBuilder,
    lines: Vec<SpanLine>,
    marks: Vec<RingMark>,
    spans: usize,
    bytes: usize,
    /// Ring bytes (record headers included) of the records the open batch answers for: they
    /// stay in their ring until the sink confirms the batch (acknowledged consumption).
    ring_bytes: u64,
    opened_at: Option<Instant>,
}

impl Batcher {
    pub(crate) fn new(settings: BatchSettings, service: &ServiceIdentity) -> Self {
        let empty_request = ExportRequestBuilder::new(
            &service.observable_service_id,
            &service.environment,
            &service.sdk_version,
            &service.sdk_instance_id,
        );
        Batcher {
            settings,
            request: empty_request.clone(),
            empty_request,
            lines: Vec::new(),
            marks: Vec::new(),
            spans: 0,
            bytes: 0,
            ring_bytes: 0,
            opened_at: None,
        }
    }

    /// Ring bytes the open batch holds (see the field).
    pub(crate) fn ring_bytes(&self) -> u64 {
        self.ring_bytes
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.spans == 0
    }

    /// When the open batch must be cut by time (`None` if empty).
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.opened_at
            .map(|opened| opened + self.settings.schedule_delay)
    }

    /// Adds a span; returns a finished batch if adding it cut one (the span then opens the next
    /// batch, or, when it alone reaches a bound, leaves in the batch returned).
    #[cfg(test)]
    pub(crate) fn add(&mut self, span: SpanOutput, now: Instant) -> Option<Batch> {
        self.add_from(span, None, now)
    }

    /// Notes the range of a ring record: `(ring, end)`, and the ring bytes it takes.
    fn mark(&mut self, ring: u64, end: u64, len: usize, span: bool) {
        self.ring_bytes += (drift_ring::RECORD_HEADER_LEN + len) as u64;
        match self.marks.last_mut() {
            Some(last) if last.ring == ring => {
                last.end = end;
                if span {
                    last.spans += 1;
                } else {
                    last.rejected += 1;
                }
            }
            _ => self.marks.push(RingMark {
                ring,
                end,
                spans: u64::from(span),
                rejected: u64::from(!span),
            }),
        }
    }

    /// A ring record that carries no span: its range rides with the open batch so it is
    /// released in order.
    pub(crate) fn reject(&mut self, ring: u64, end: u64, len: usize, now: Instant) {
        if self.opened_at.is_none() {
            self.opened_at = Some(now);
        }
        self.mark(ring, end, len, false);
    }

    /// Adds a span read from `from = (ring, end, record length)`; as [`Self::add`].
    pub(crate) fn add_from(
        &mut self,
        span: SpanOutput,
        from: Option<(u64, u64, usize)>,
        now: Instant,
    ) -> Option<Batch> {
        let mut cut = None;
        let framed = span.len() + 10;
        if self.spans > 0 && self.bytes + framed > self.settings.max_export_batch_bytes {
            cut = self.cut();
        }
        if let Some((ring, end, len)) = from {
            self.mark(ring, end, len, true);
        }
        if self.opened_at.is_none() {
            self.opened_at = Some(now);
        }
        match span {
            SpanOutput::Proto(span) => self.request.push_validated_span(&span),
            SpanOutput::Line(line) => self.lines.push(line),
        }
        self.spans += 1;
        self.bytes += framed;
        // With max_export_batch_size == 1 a byte cut and a count cut can coincide; the second
        // batch then leaves on the caller's next `cut_if_due`.
        if cut.is_none() && self.spans >= self.settings.max_export_batch_size {
            cut = self.cut();
        }
        cut
    }

    /// Cuts the batch if its bounds or its schedule delay are reached.
    pub(crate) fn cut_if_due(&mut self, now: Instant) -> Option<Batch> {
        let full = self.spans >= self.settings.max_export_batch_size;
        let late = self.deadline().is_some_and(|deadline| now >= deadline);
        if (self.spans > 0 || !self.marks.is_empty()) && (full || late) {
            self.cut()
        } else {
            None
        }
    }

    /// Cuts whatever is open (flush, shutdown).
    pub(crate) fn cut(&mut self) -> Option<Batch> {
        if self.spans == 0 && self.marks.is_empty() {
            return None;
        }
        let body = if self.lines.is_empty() {
            let mut next = self.empty_request.clone();
            next.reserve(self.request.encoded_len());
            BatchBody::Request(std::mem::replace(&mut self.request, next).finish())
        } else {
            BatchBody::Lines(std::mem::take(&mut self.lines))
        };
        let batch = Batch {
            spans: self.spans as u64,
            body,
            marks: std::mem::take(&mut self.marks),
        };
        self.spans = 0;
        self.bytes = 0;
        self.ring_bytes = 0;
        self.opened_at = None;
        Some(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn settings(size: usize, bytes: usize) -> BatchSettings {
        BatchSettings {
            max_export_batch_size: size,
            max_export_batch_bytes: bytes,
            schedule_delay: Duration::from_millis(100),
            export_timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn cuts_by_count_bytes_and_time() {
        let service = ServiceIdentity::default();
        let now = Instant::now();
        let mut by_count = Batcher::new(settings(2, 1 << 20), &service);
        assert!(by_count.add(SpanOutput::Proto(vec![1; 10]), now).is_none());
        let batch = by_count
            .add(SpanOutput::Proto(vec![2; 10]), now)
            .expect("cut at 2 spans");
        assert_eq!(batch.spans, 2);
        assert!(by_count.is_empty());

        let mut by_bytes = Batcher::new(settings(100, 1024), &service);
        assert!(by_bytes.add(SpanOutput::Proto(vec![1; 600]), now).is_none());
        let batch = by_bytes
            .add(SpanOutput::Proto(vec![2; 600]), now)
            .expect("cut before overflowing");
        assert_eq!(batch.spans, 1);
        assert_eq!(by_bytes.cut().map(|b| b.spans), Some(1));

        let mut by_time = Batcher::new(settings(100, 1 << 20), &service);
        assert!(by_time.add(SpanOutput::Proto(vec![1; 10]), now).is_none());
        assert!(
            by_time
                .cut_if_due(now + Duration::from_millis(50))
                .is_none()
        );
        assert_eq!(
            by_time
                .cut_if_due(now + Duration::from_millis(100))
                .map(|b| b.spans),
            Some(1)
        );
    }

    #[test]
    fn ring_bytes_count_every_record_of_the_open_batch_and_reset_on_cut() {
        let service = ServiceIdentity::default();
        let now = Instant::now();
        let mut batcher = Batcher::new(settings(100, 1 << 20), &service);
        let header = drift_ring::RECORD_HEADER_LEN as u64;
        assert!(
            batcher
                .add_from(SpanOutput::Proto(vec![1; 10]), Some((0, 100, 500)), now)
                .is_none()
        );
        batcher.reject(0, 200, 30, now);
        assert_eq!(batcher.ring_bytes(), 500 + 30 + 2 * header);
        assert_eq!(batcher.cut().map(|b| b.spans), Some(1));
        assert_eq!(batcher.ring_bytes(), 0);
    }

    /// Consecutive requests (the header reused, an empty environment omitted) are byte for
    /// byte what prost encodes for the same `ExportSpansRequest` (the schemas crate's types).
    #[test]
    fn requests_equal_prost_encoding_of_the_schema() {
        use prost::Message;
        use tusk_drift_schemas::tusk::drift::backend::v1::ExportSpansRequest;
        use tusk_drift_schemas::tusk::drift::core::v1::Span;

        let service = ServiceIdentity {
            observable_service_id: "svc".into(),
            environment: String::new(),
            sdk_version: "1.2.3".into(),
            sdk_instance_id: "instance".into(),
        };
        let now = Instant::now();
        let mut batcher = Batcher::new(settings(3, 1 << 20), &service);
        let spans: Vec<Span> = (0..6)
            .map(|n| Span {
                name: format!("span {n} {}", "x".repeat(n * 70)),
                trace_id: format!("{n:032x}"),
                ..Span::default()
            })
            .collect();
        let mut requests = Vec::new();
        for span in &spans {
            if let Some(batch) = batcher.add(SpanOutput::Proto(span.encode_to_vec()), now) {
                requests.push(batch);
            }
        }
        assert_eq!(requests.len(), 2);
        for (batch, chunk) in requests.iter().zip(spans.chunks(3)) {
            let BatchBody::Request(bytes) = &batch.body else {
                panic!("a protobuf request");
            };
            let expected = ExportSpansRequest {
                observable_service_id: "svc".into(),
                environment: String::new(),
                sdk_version: "1.2.3".into(),
                sdk_instance_id: "instance".into(),
                spans: chunk.to_vec(),
            };
            assert_eq!(bytes, &expected.encode_to_vec());
        }
    }
}
