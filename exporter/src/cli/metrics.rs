//! `run --metrics-addr`: Prometheus text exposition of the sidecar's counters at `/metrics`.
//!
//! The figures are read from the sidecar's snapshot at each scrape (a `prometheus-client`
//! collector), so they are exactly what `drift-exporter stats --json` shows. A plain blocking
//! listener thread serves the requests one at a time: scrapes are rare and small.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use drift_exporter::ExporterError;
use drift_exporter::health::DropReason;
use drift_exporter::sidecar::Sidecar;
use drift_exporter::{CircuitState, HealthSnapshot};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

/// Binds `addr` and serves `/metrics` from a background thread. Returns the bound address
/// (useful with port 0).
pub fn serve(addr: &str, sidecar: Arc<Sidecar>) -> Result<std::net::SocketAddr, ExporterError> {
    let listener = TcpListener::bind(addr).map_err(|source| ExporterError::Io {
        context: format!("binding the metrics address {addr}"),
        source,
    })?;
    let bound = listener.local_addr().map_err(|source| ExporterError::Io {
        context: "reading the metrics address".into(),
        source,
    })?;
    let mut registry = Registry::default();
    registry.register_collector(Box::new(SidecarCollector { sidecar }));
    std::thread::Builder::new()
        .name("drift-metrics".into())
        .spawn(move || {
            for stream in listener.incoming().flatten() {
                if let Err(error) = answer(stream, &registry) {
                    tracing::debug!("metrics request failed: {error}");
                }
            }
        })
        .map_err(|source| ExporterError::Thread {
            thread: "metrics",
            source,
        })?;
    Ok(bound)
}

fn answer(mut stream: TcpStream, registry: &Registry) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    // The request line and headers; the body (if any) is not needed.
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let read = stream.read(&mut chunk)?;
        if read == 0 {
            break;
        }
        head.extend_from_slice(&chunk[..read]);
    }
    let request_line = String::from_utf8_lossy(&head);
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, content_type, body) = if method != "GET" {
        (
            "405 Method Not Allowed",
            "text/plain",
            "GET only\n".to_string(),
        )
    } else if path == "/metrics" || path.starts_with("/metrics?") {
        let mut text = String::new();
        match prometheus_client::encoding::text::encode(&mut text, registry) {
            Ok(()) => ("200 OK", "text/plain; version=0.0.4; charset=utf-8", text),
            Err(_) => (
                "500 Internal Server Error",
                "text/plain",
                "encoding failed\n".to_string(),
            ),
        }
    } else {
        ("404 Not Found", "text/plain", "see /metrics\n".to_string())
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

struct SidecarCollector {
    sidecar: Arc<Sidecar>,
}

impl std::fmt::Debug for SidecarCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SidecarCollector")
    }
}

/// Writes one metric family: `name` (counters get `_total` from the encoder), help text, and
/// one sample per label set.
fn family<L>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    metric_type: MetricType,
    samples: &[(L, f64)],
) -> Result<(), std::fmt::Error>
where
    L: prometheus_client::encoding::EncodeLabelSet,
{
    let mut metric = encoder.encode_descriptor(name, help, None, metric_type)?;
    for (labels, value) in samples {
        let sample = metric.encode_family(labels)?;
        match metric_type {
            // Counters are integers; only gauges carry fractions (fill ratios).
            MetricType::Counter => ConstCounter::new(*value as u64).encode(sample)?,
            _ => ConstGauge::new(*value).encode(sample)?,
        }
    }
    Ok(())
}

type NoLabels = [(&'static str, &'static str); 0];

fn one(value: u64) -> [(NoLabels, f64); 1] {
    [([], value as f64)]
}

impl Collector for SidecarCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let snapshot = self.sidecar.snapshot();
        let health: &HealthSnapshot = &snapshot.exporter;
        let e = &mut encoder;
        use MetricType::{Counter, Gauge};
        family(
            e,
            "drift_exporter_spans_pushed",
            "Span records read from the rings.",
            Counter,
            &one(health.pushed),
        )?;
        family(
            e,
            "drift_exporter_spans_exported",
            "Spans the sink confirmed.",
            Counter,
            &one(health.exported),
        )?;
        let dropped: Vec<([(&str, &str); 1], f64)> = DropReason::ALL
            .iter()
            .map(|&reason| {
                (
                    [("reason", reason.as_str())],
                    health.dropped.get(reason) as f64,
                )
            })
            .collect();
        family(
            e,
            "drift_exporter_spans_dropped",
            "Spans dropped by the exporter, by reason.",
            Counter,
            &dropped,
        )?;
        family(
            e,
            "drift_exporter_spans_in_flight",
            "Spans read and not yet settled (exported or dropped).",
            Gauge,
            &one(health.in_flight),
        )?;
        family(
            e,
            "drift_exporter_spans_redelivered",
            "Spans delivered again after an earlier sidecar died before their confirmation.",
            Counter,
            &one(health.redelivered),
        )?;
        family(
            e,
            "drift_exporter_export_requests",
            "Export requests delivered.",
            Counter,
            &one(health.batches),
        )?;
        family(
            e,
            "drift_exporter_export_bytes",
            "Request body bytes delivered (after compression).",
            Counter,
            &one(health.bytes_sent),
        )?;
        family(
            e,
            "drift_exporter_export_failures",
            "Export attempts that failed.",
            Counter,
            &one(health.export_failures),
        )?;
        family(
            e,
            "drift_exporter_export_timeouts",
            "Export attempts that timed out.",
            Counter,
            &one(health.export_timeouts),
        )?;
        family(
            e,
            "drift_exporter_export_retries",
            "Export attempts retried.",
            Counter,
            &one(health.retries),
        )?;
        let states = [
            (CircuitState::Closed, "closed"),
            (CircuitState::Open, "open"),
            (CircuitState::HalfOpen, "half_open"),
        ]
        .map(|(state, name)| {
            (
                [("state", name)],
                f64::from(u8::from(health.circuit_state == state)),
            )
        });
        family(
            e,
            "drift_exporter_circuit_state",
            "Circuit breaker of the API sink: 1 for the current state.",
            Gauge,
            &states,
        )?;

        // Latency histogram, in seconds as Prometheus expects.
        let latency = &health.export_latency;
        // The encoder accumulates the buckets itself: hand it per-bucket counts.
        let mut below = 0;
        let buckets: Vec<(f64, u64)> = latency
            .buckets
            .iter()
            .map(|&(bound_ms, cumulative)| {
                let count = cumulative - below;
                below = cumulative;
                (bound_ms / 1000.0, count)
            })
            .collect();
        let mut buckets = buckets;
        buckets.push((f64::INFINITY, latency.count - below));
        let mut metric = e.encode_descriptor(
            "drift_exporter_export_latency_seconds",
            "Wall time of each successful export request.",
            None,
            MetricType::Histogram,
        )?;
        metric.encode_histogram::<NoLabels>(
            latency.sum_ms / 1000.0,
            latency.count,
            &buckets,
            None,
        )?;

        // Per ring (labels: file name and producer pid).
        let rings = &snapshot.rings;
        family(
            e,
            "drift_exporter_rings_attached",
            "Rings currently attached.",
            Gauge,
            &one(rings.rings.len() as u64),
        )?;
        family(
            e,
            "drift_exporter_dead_producers",
            "Rings of dead producers recovered and finished.",
            Counter,
            &one(rings.counters.dead_producers),
        )?;
        family(
            e,
            "drift_exporter_rings_quarantined",
            "Rings quarantined (malformed or truncated).",
            Counter,
            &one(rings.counters.quarantined_rings),
        )?;
        let labels: Vec<[(&str, String); 2]> = rings
            .rings
            .iter()
            .map(|ring| {
                [
                    (
                        "ring",
                        ring.path
                            .file_name()
                            .map(|name| name.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                    ),
                    ("pid", ring.producer_pid.to_string()),
                ]
            })
            .collect();
        let per_ring = |value: &dyn Fn(&drift_exporter::sidecar::RingReport) -> f64| {
            labels
                .iter()
                .zip(&rings.rings)
                .map(|(labels, ring)| (labels.clone(), value(ring)))
                .collect::<Vec<_>>()
        };
        family(
            e,
            "drift_exporter_ring_records_written",
            "Records the producer wrote into its ring.",
            Counter,
            &per_ring(&|r| r.records_written as f64),
        )?;
        family(
            e,
            "drift_exporter_ring_records_confirmed",
            "Records of the ring the sink confirmed.",
            Counter,
            &per_ring(&|r| r.confirmed as f64),
        )?;
        family(
            e,
            "drift_exporter_ring_records_in_ring",
            "Records still in the ring.",
            Gauge,
            &per_ring(&|r| r.in_ring as f64),
        )?;
        family(
            e,
            "drift_exporter_ring_used_bytes",
            "Bytes in use in the ring.",
            Gauge,
            &per_ring(&|r| r.used_bytes as f64),
        )?;
        family(
            e,
            "drift_exporter_ring_capacity_bytes",
            "Data bytes of the ring.",
            Gauge,
            &per_ring(&|r| r.capacity_bytes as f64),
        )?;
        family(
            e,
            "drift_exporter_ring_fill_ratio",
            "Used bytes over capacity.",
            Gauge,
            &per_ring(&|r| r.fill_ratio),
        )?;
        let mut dropped = Vec::new();
        for (labels, ring) in labels.iter().zip(&rings.rings) {
            for (reason, value) in [
                ("full", ring.dropped_full),
                ("too_large", ring.dropped_too_large),
                ("closed", ring.dropped_closed),
                ("contention", ring.dropped_contention),
            ] {
                let [ring_label, pid] = labels.clone();
                dropped.push((
                    [ring_label, pid, ("reason", reason.to_string())],
                    value as f64,
                ));
            }
        }
        family(
            e,
            "drift_exporter_ring_dropped",
            "Records the producer could not write, by reason.",
            Counter,
            &dropped,
        )?;
        Ok(())
    }
}
