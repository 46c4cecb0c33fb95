//! Counters and the health snapshot. Accounting invariant, checked by the tests:
//! `pushed + recovered = exported + dropped_total + in_flight` where `in_flight` is what sits in the ring,
//! the batcher or the send queue.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Why a span did not reach the sink. Names are the OpenTelemetry-style reason strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// The ring had no room (drop newest, never block the application thread).
    QueueFull,
    /// The encoded record is larger than `max_span_bytes` (or the ring's record limit).
    TooLarge,
    /// Pushed after `shutdown` began.
    AlreadyShutdown,
    /// The record was malformed or its JSON could not be processed.
    SerializationError,
    /// The sink gave up on the request carrying the span (4xx, retries exhausted, queue overflow).
    ExportFailed,
    /// A child process inherited the span in flight from its parent across `fork()`.
    ForkDiscarded,
}

impl DropReason {
    pub const ALL: [DropReason; 6] = [
        DropReason::QueueFull,
        DropReason::TooLarge,
        DropReason::AlreadyShutdown,
        DropReason::SerializationError,
        DropReason::ExportFailed,
        DropReason::ForkDiscarded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::TooLarge => "too_large",
            DropReason::AlreadyShutdown => "already_shutdown",
            DropReason::SerializationError => "serialization_error",
            DropReason::ExportFailed => "export_failed",
            DropReason::ForkDiscarded => "fork_discarded",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for DropReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// State of the HTTP sink's circuit breaker (`closed` for sinks that have none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CircuitState {
    Closed,
    Open,
    HalfOpen,
}

impl CircuitState {
    pub(crate) fn from_u64(value: u64) -> Self {
        match value {
            1 => CircuitState::Open,
            2 => CircuitState::HalfOpen,
            _ => CircuitState::Closed,
        }
    }
}

/// Live counters shared by the push path, the drain thread and the sender thread. All updates
/// are Relaxed: each counter is monotonic and read only for reporting; `force_flush` compares
/// sums after the threads it waits on have published through a mutex/condvar.
#[derive(Debug, Default)]
pub struct Counters {
    pub(crate) pushed: AtomicU64,
    /// In-process: spans read from the rings dead predecessors of this service left.
    pub(crate) recovered: AtomicU64,
    pub(crate) exported: AtomicU64,
    dropped: [AtomicU64; 6],
    pub(crate) batches: AtomicU64,
    pub(crate) bytes_sent: AtomicU64,
    pub(crate) export_failures: AtomicU64,
    pub(crate) export_timeouts: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) last_export_latency_us: AtomicU64,
    /// Every successful export's wall time (the metrics endpoint's histogram).
    pub(crate) export_latency: LatencyHistogram,
    pub(crate) circuit_state: AtomicU64,
    pub(crate) records_drained: AtomicU64,
    /// Records read again after an earlier consumer died before they were confirmed.
    pub(crate) redelivered: AtomicU64,
    /// Spans not confirmed when a shutdown ended (in-process: counted `export_failed` too).
    pub(crate) undelivered_at_shutdown: AtomicU64,
}

impl Counters {
    pub fn drop_spans(&self, reason: DropReason, spans: u64) {
        self.dropped[reason.index()].fetch_add(spans, Ordering::Relaxed);
    }

    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped[reason.index()].load(Ordering::Relaxed)
    }

    pub fn dropped_total(&self) -> u64 {
        DropReason::ALL
            .iter()
            .map(|&reason| self.dropped(reason))
            .sum()
    }

    /// Spans this exporter answers for: pushed here, or recovered from a dead predecessor's
    /// ring.
    pub fn accepted(&self) -> u64 {
        self.pushed.load(Ordering::Relaxed) + self.recovered.load(Ordering::Relaxed)
    }

    /// Spans whose fate is settled: delivered or dropped.
    pub fn settled(&self) -> u64 {
        self.exported.load(Ordering::Relaxed) + self.dropped_total()
    }

    /// A successful export took `elapsed`: the last latency and the histogram.
    pub(crate) fn record_export_latency(&self, elapsed: std::time::Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.last_export_latency_us.store(micros, Ordering::Relaxed);
        self.export_latency.observe(micros);
    }

    pub(crate) fn add(counter: &AtomicU64, value: u64) {
        counter.fetch_add(value, Ordering::Relaxed);
    }

    pub(crate) fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Upper bounds (milliseconds) of the export latency histogram's buckets; the last bucket is
/// everything above.
pub const EXPORT_LATENCY_BOUNDS_MS: [f64; 12] = [
    1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 10000.0,
];

/// A fixed-bucket histogram of export latencies: one relaxed increment per export, no lock.
#[derive(Debug, Default)]
pub(crate) struct LatencyHistogram {
    /// Per bucket (not cumulative); index `EXPORT_LATENCY_BOUNDS_MS.len()` is `+Inf`.
    buckets: [AtomicU64; EXPORT_LATENCY_BOUNDS_MS.len() + 1],
    sum_us: AtomicU64,
}

impl LatencyHistogram {
    fn observe(&self, micros: u64) {
        let ms = micros as f64 / 1000.0;
        let index = EXPORT_LATENCY_BOUNDS_MS
            .iter()
            .position(|&bound| ms <= bound)
            .unwrap_or(EXPORT_LATENCY_BOUNDS_MS.len());
        self.buckets[index].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(micros, Ordering::Relaxed);
    }

    fn snapshot(&self) -> LatencySnapshot {
        let mut cumulative = 0;
        let buckets = EXPORT_LATENCY_BOUNDS_MS
            .iter()
            .zip(&self.buckets)
            .map(|(&bound, count)| {
                cumulative += count.load(Ordering::Relaxed);
                (bound, cumulative)
            })
            .collect();
        let count =
            cumulative + self.buckets[EXPORT_LATENCY_BOUNDS_MS.len()].load(Ordering::Relaxed);
        LatencySnapshot {
            buckets,
            count,
            sum_ms: self.sum_us.load(Ordering::Relaxed) as f64 / 1000.0,
        }
    }
}

/// Export latencies so far, as Prometheus shows a histogram.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LatencySnapshot {
    /// `(upper bound in ms, exports at or below it)`, cumulative, without `+Inf`.
    pub buckets: Vec<(f64, u64)>,
    /// Every successful export (the `+Inf` bucket).
    pub count: u64,
    pub sum_ms: f64,
}

/// Drops broken down by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DroppedByReason {
    pub queue_full: u64,
    pub too_large: u64,
    pub already_shutdown: u64,
    pub serialization_error: u64,
    pub export_failed: u64,
    pub fork_discarded: u64,
}

impl DroppedByReason {
    /// `(reason name, spans)` for every reason, in [`DropReason::ALL`] order.
    pub fn entries(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        DropReason::ALL
            .iter()
            .map(|&reason| (reason.as_str(), self.get(reason)))
    }

    pub fn get(&self, reason: DropReason) -> u64 {
        match reason {
            DropReason::QueueFull => self.queue_full,
            DropReason::TooLarge => self.too_large,
            DropReason::AlreadyShutdown => self.already_shutdown,
            DropReason::SerializationError => self.serialization_error,
            DropReason::ExportFailed => self.export_failed,
            DropReason::ForkDiscarded => self.fork_discarded,
        }
    }
}

/// A point-in-time view of an exporter, serializable so bindings can hand it to Python as a
/// dict and to JavaScript as an object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthSnapshot {
    /// Bytes currently used in this process's ring (0 where there is no ring).
    pub queue_size_bytes: u64,
    pub queue_capacity_bytes: u64,
    /// `queue_size_bytes / queue_capacity_bytes`, 0.0 when there is no ring.
    pub fill_ratio: f64,
    /// Spans handed to `push_span` (or, in the sidecar, records read from rings).
    pub pushed: u64,
    /// In-process: spans read from rings that dead earlier processes of this service left in
    /// the ring directory (delivered or counted like pushed ones).
    pub recovered: u64,
    pub exported: u64,
    pub dropped_total: u64,
    pub dropped: DroppedByReason,
    /// `pushed + recovered - exported - dropped_total`: in the ring, the batcher or the send
    /// queue.
    pub in_flight: u64,
    /// Export requests delivered.
    pub batches: u64,
    /// Request body bytes delivered (after compression).
    pub bytes_sent: u64,
    pub export_failures: u64,
    pub export_timeouts: u64,
    pub retries: u64,
    /// Spans delivered a second time: read by an earlier consumer (a killed sidecar) that did
    /// not get the sink's confirmation (at-least-once; bounded by one in-flight window).
    pub redelivered: u64,
    /// Spans a shutdown could not deliver (the sink had not confirmed them by its deadline).
    pub undelivered_at_shutdown: u64,
    /// Wall time of the last successful export, milliseconds.
    pub last_export_latency_ms: f64,
    /// Wall time of every successful export.
    pub export_latency: LatencySnapshot,
    pub circuit_state: CircuitState,
    /// `false` once `shutdown` has begun.
    pub running: bool,
}

/// One value of the health snapshot as the bindings show it (see [`HealthSnapshot::entries`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HealthValue {
    /// A counter or size (exact as a JavaScript number: far below 2^53).
    Count(u64),
    /// A ratio or a duration in milliseconds.
    Number(f64),
    /// A name (the circuit state).
    Text(&'static str),
    Flag(bool),
    /// Spans dropped, by reason: one count per [`DropReason::ALL`], named by
    /// [`DropReason::as_str`].
    Dropped(DroppedByReason),
}

impl CircuitState {
    /// `closed`, `open` or `half_open`.
    pub fn as_str(self) -> &'static str {
        match self {
            CircuitState::Closed => "closed",
            CircuitState::Open => "open",
            CircuitState::HalfOpen => "half_open",
        }
    }
}

impl HealthSnapshot {
    /// The snapshot as the bindings show it: named entries (snake_case; the Node binding
    /// camelCases them), in this order. The one list of what `health_snapshot()` (Python) and
    /// `getHealthSnapshot()` (Node) return; each binding converts the entries generically.
    pub fn entries(&self) -> [(&'static str, HealthValue); 17] {
        use HealthValue::{Count, Dropped, Flag, Number, Text};
        [
            ("queue_size_bytes", Count(self.queue_size_bytes)),
            ("queue_capacity_bytes", Count(self.queue_capacity_bytes)),
            ("fill_ratio", Number(self.fill_ratio)),
            ("pushed", Count(self.pushed)),
            ("recovered", Count(self.recovered)),
            ("exported", Count(self.exported)),
            ("dropped_total", Count(self.dropped_total)),
            ("dropped", Dropped(self.dropped)),
            ("in_flight", Count(self.in_flight)),
            ("batches", Count(self.batches)),
            ("bytes_sent", Count(self.bytes_sent)),
            ("export_failures", Count(self.export_failures)),
            ("export_timeouts", Count(self.export_timeouts)),
            ("retries", Count(self.retries)),
            (
                "last_export_latency_ms",
                Number(self.last_export_latency_ms),
            ),
            ("circuit_state", Text(self.circuit_state.as_str())),
            ("running", Flag(self.running)),
        ]
    }

    /// The snapshot of an exporter that is not running (nothing counted).
    pub fn stopped() -> Self {
        HealthSnapshot::from_counters(&Counters::default(), 0, 0, false)
    }

    pub(crate) fn from_counters(
        counters: &Counters,
        used: u64,
        capacity: u64,
        running: bool,
    ) -> Self {
        let dropped = DroppedByReason {
            queue_full: counters.dropped(DropReason::QueueFull),
            too_large: counters.dropped(DropReason::TooLarge),
            already_shutdown: counters.dropped(DropReason::AlreadyShutdown),
            serialization_error: counters.dropped(DropReason::SerializationError),
            export_failed: counters.dropped(DropReason::ExportFailed),
            fork_discarded: counters.dropped(DropReason::ForkDiscarded),
        };
        let exported = Counters::get(&counters.exported);
        let dropped_total: u64 = DropReason::ALL
            .iter()
            .map(|&reason| dropped.get(reason))
            .sum();
        let pushed = Counters::get(&counters.pushed);
        let recovered = Counters::get(&counters.recovered);
        HealthSnapshot {
            queue_size_bytes: used,
            queue_capacity_bytes: capacity,
            fill_ratio: if capacity == 0 {
                0.0
            } else {
                used as f64 / capacity as f64
            },
            pushed,
            recovered,
            exported,
            dropped_total,
            dropped,
            in_flight: (pushed + recovered).saturating_sub(exported + dropped_total),
            batches: Counters::get(&counters.batches),
            bytes_sent: Counters::get(&counters.bytes_sent),
            export_failures: Counters::get(&counters.export_failures),
            export_timeouts: Counters::get(&counters.export_timeouts),
            retries: Counters::get(&counters.retries),
            redelivered: Counters::get(&counters.redelivered),
            undelivered_at_shutdown: Counters::get(&counters.undelivered_at_shutdown),
            last_export_latency_ms: Counters::get(&counters.last_export_latency_us) as f64 / 1000.0,
            export_latency: counters.export_latency.snapshot(),
            circuit_state: CircuitState::from_u64(Counters::get(&counters.circuit_state)),
            running,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_name_every_reported_field_once() {
        let snapshot = HealthSnapshot::stopped();
        let names: Vec<&str> = snapshot.entries().iter().map(|(name, _)| *name).collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
        // Every entry is a field of the serialized snapshot, under the same name and value.
        let json = serde_json::to_value(&snapshot).unwrap();
        for (name, value) in snapshot.entries() {
            let field = &json[name];
            match value {
                HealthValue::Count(n) => assert_eq!(field, n, "{name}"),
                HealthValue::Number(n) => assert_eq!(field.as_f64(), Some(n), "{name}"),
                HealthValue::Text(text) => assert_eq!(field, text, "{name}"),
                HealthValue::Flag(flag) => assert_eq!(field, flag, "{name}"),
                HealthValue::Dropped(dropped) => {
                    for (reason, n) in dropped.entries() {
                        assert_eq!(field[reason], n, "{name}.{reason}");
                    }
                    assert_eq!(field.as_object().unwrap().len(), DropReason::ALL.len());
                }
            }
        }
    }
}
