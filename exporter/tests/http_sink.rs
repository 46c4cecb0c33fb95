//! End-to-end against a real HTTP server on 127.0.0.1 (the mock Tusk backend), and backend
//! faults: 500s, slow responses past the timeout, connection refused, 400.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use common::mock_backend::{MockBackend, Reply};
use common::{OwnedSpan, fixtures_of, temp_dir, test_config};
use drift_exporter::{
    ApiSinkConfig, BreakerSettings, Exporter, RetrySettings, SdkFlavor, SinkConfig,
};

fn api_sink(base_url: String) -> ApiSinkConfig {
    ApiSinkConfig {
        base_url,
        api_key: "test-key".into(),
        timeout: Duration::from_millis(500),
        gzip_min_bytes: Some(16 * 1024),
        max_pending_requests: 4,
        retry: RetrySettings {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            multiplier: 2.0,
        },
        breaker: BreakerSettings {
            failure_threshold: 50,
            open_duration: Duration::from_millis(200),
        },
    }
}

#[test]
fn every_span_arrives_once_with_the_core_hashes() {
    let backend = MockBackend::start();
    let ring_dir = temp_dir("http-e2e");
    let exporter = Exporter::start(test_config(
        ring_dir.clone(),
        SinkConfig::Api(api_sink(backend.base_url())),
    ))
    .unwrap();
    let payloads = fixtures_of(&["200b", "2k", "20k"]);
    let spans: Vec<OwnedSpan> = (0..300)
        .map(|n| {
            let sdk = if n % 2 == 0 {
                SdkFlavor::Python
            } else {
                SdkFlavor::Node
            };
            OwnedSpan::from_payload(n, &payloads[n % payloads.len()], sdk)
        })
        .collect();
    for span in &spans {
        exporter.push_span(&span.record()).expect("push");
    }
    assert!(
        exporter.force_flush(Duration::from_secs(60)),
        "flush timed out: {:?}",
        exporter.health()
    );

    let mut seen: HashMap<String, drift_core_rs::tusk_drift_schemas::tusk::drift::core::v1::Span> =
        HashMap::new();
    for received in backend.accepted() {
        assert_eq!(received.request.observable_service_id, "svc-test");
        assert_eq!(received.request.sdk_instance_id, "instance-1");
        let header = |name: &str| {
            received
                .headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(header("x-api-key").as_deref(), Some("test-key"));
        assert_eq!(header("x-td-skip-instrumentation").as_deref(), Some("true"));
        assert_eq!(
            header("content-type").as_deref(),
            Some("application/protobuf")
        );
        for span in received.request.spans {
            assert!(
                seen.insert(span.span_id.clone(), span).is_none(),
                "span delivered twice"
            );
        }
    }
    assert_eq!(seen.len(), spans.len());
    for span in &spans {
        let got = &seen[&span.span_id];
        let (value_hash, schema_hash) = span.expected_input_hashes();
        assert_eq!(got.input_value_hash, value_hash, "{}", span.name);
        assert_eq!(got.input_schema_hash, schema_hash, "{}", span.name);
        let (value_hash, schema_hash) = span.expected_output_hashes();
        assert_eq!(got.output_value_hash, value_hash);
        assert_eq!(got.output_schema_hash, schema_hash);
        assert_eq!(got.trace_id, span.trace_id);
        assert_eq!(got.name, span.name);
        assert_eq!(got.package_type, span.package_type);
        assert_eq!(got.environment.as_deref(), Some("test"));
        let metadata = got.metadata.as_ref().expect("metadata struct");
        assert!(metadata.fields.contains_key("n"));
    }
    let health = exporter.health();
    assert_eq!(health.pushed, 300);
    assert_eq!(health.exported, 300);
    assert_eq!(health.dropped_total, 0);
    assert_eq!(health.in_flight, 0);
    assert!(
        health.batches >= 5,
        "batches of at most 64 spans: {}",
        health.batches
    );
    assert!(backend.accepted().iter().any(|r| {
        r.headers
            .iter()
            .any(|(k, v)| k == "content-encoding" && v == "gzip")
    }));
    assert!(exporter.shutdown(Duration::from_secs(60)));
    std::fs::remove_dir_all(ring_dir).ok();
}

fn spans(range: std::ops::Range<usize>) -> Vec<OwnedSpan> {
    let payloads = fixtures_of(&["2k"]);
    range
        .map(|n| OwnedSpan::from_payload(n, &payloads[n % payloads.len()], SdkFlavor::Node))
        .collect()
}

fn push_all(exporter: &Exporter, spans: &[OwnedSpan]) {
    for span in spans {
        exporter.push_span(&span.record()).expect("push");
    }
}

#[test]
fn server_errors_are_retried_and_client_errors_are_not() {
    let backend = MockBackend::start();
    let ring_dir = temp_dir("http-faults");
    let mut config = test_config(
        ring_dir.clone(),
        SinkConfig::Api(api_sink(backend.base_url())),
    );
    config.batch.max_export_batch_size = 1000;
    let exporter = Exporter::start(config).unwrap();

    // Two 500s, then success: delivered once, two retries.
    backend.script([Reply::Status(500), Reply::Status(503)]);
    push_all(&exporter, &spans(0..10));
    assert!(exporter.force_flush(Duration::from_secs(60)));
    let health = exporter.health();
    assert_eq!(
        (health.exported, health.retries, health.dropped_total),
        (10, 2, 0),
        "{health:?}"
    );
    assert_eq!(backend.attempts(), 3);

    // A 400 is not retried: the batch's spans are dropped as export_failed.
    backend.script([Reply::Status(400)]);
    push_all(&exporter, &spans(10..20));
    assert!(
        !exporter.force_flush(Duration::from_secs(10)),
        "a flush whose spans were rejected is not a success"
    );
    let health = exporter.health();
    assert_eq!(backend.attempts(), 4, "no retry after a 400");
    assert_eq!(health.dropped.export_failed, 10);
    assert_eq!(health.exported, 10);

    // `success: false` in a 200 is retried like a server error.
    backend.script([Reply::Unsuccessful]);
    push_all(&exporter, &spans(20..30));
    assert!(exporter.force_flush(Duration::from_secs(60)));
    let health = exporter.health();
    assert_eq!(health.exported, 20);
    assert_eq!(
        health.pushed,
        health.exported + health.dropped_total + health.in_flight
    );
    assert_eq!(health.in_flight, 0);
    let delivered: usize = backend
        .accepted()
        .iter()
        .map(|r| r.request.spans.len())
        .sum();
    assert_eq!(delivered, 20);
    assert!(exporter.shutdown(Duration::from_secs(60)));
    std::fs::remove_dir_all(ring_dir).ok();
}

#[test]
fn slow_responses_past_the_timeout_are_retried() {
    let backend = MockBackend::start();
    let ring_dir = temp_dir("http-slow");
    let mut api = api_sink(backend.base_url());
    api.timeout = Duration::from_millis(200);
    let mut config = test_config(ring_dir.clone(), SinkConfig::Api(api));
    config.batch.max_export_batch_size = 1000;
    let exporter = Exporter::start(config).unwrap();
    backend.script([Reply::Delay(Duration::from_millis(600))]);
    push_all(&exporter, &spans(0..5));
    assert!(exporter.force_flush(Duration::from_secs(60)));
    let health = exporter.health();
    assert!(health.export_timeouts >= 1, "{health:?}");
    assert_eq!(health.exported, 5);
    let delivered: usize = backend
        .accepted()
        .iter()
        .map(|r| r.request.spans.len())
        .sum();
    assert_eq!(delivered, 5);
    assert!(exporter.shutdown(Duration::from_secs(60)));
    std::fs::remove_dir_all(ring_dir).ok();
}

#[test]
fn connection_refused_keeps_spans_in_the_ring_flush_fails_and_shutdown_counts_them() {
    connection_refused(true);
}

#[test]
fn connection_refused_then_shutdown_leaves_the_spans_in_the_named_ring_for_the_next_start() {
    connection_refused(false);
}

/// `anonymous`: the ring dies with the process, so shutdown counts what it could not deliver
/// `export_failed`; named (the default), they stay in the ring file for the next start.
fn connection_refused(anonymous: bool) {
    // A port with no listener.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ring_dir = temp_dir("http-refused");
    let mut api = api_sink(format!("http://127.0.0.1:{port}"));
    api.retry.max_attempts = 2;
    api.breaker = BreakerSettings {
        failure_threshold: 2,
        open_duration: Duration::from_millis(100),
    };
    let mut config = test_config(ring_dir.clone(), SinkConfig::Api(api));
    config.batch.max_export_batch_size = 8;
    config.ring.anonymous = anonymous;
    let exporter = Exporter::start(config).unwrap();
    push_all(&exporter, &spans(0..40));
    // Nothing listens, ever: the flush cannot be confirmed, whatever its budget.
    assert!(
        !exporter.force_flush(Duration::from_millis(1500)),
        "{:?}",
        exporter.health()
    );
    let health = exporter.health();
    assert_eq!(health.exported, 0);
    assert_eq!(
        health.dropped_total, 0,
        "spans wait in the ring: {health:?}"
    );
    assert_eq!(health.in_flight, 40);
    assert!(health.export_failures >= 2);
    assert_ne!(
        health.circuit_state,
        drift_exporter::CircuitState::Closed,
        "{health:?}"
    );
    // Shutdown says what it could not deliver.
    assert!(!exporter.shutdown(Duration::from_millis(500)));
    let health = exporter.health();
    assert_eq!(health.undelivered_at_shutdown, 40, "{health:?}");
    if anonymous {
        assert_eq!(health.dropped.export_failed, 40, "{health:?}");
        assert_eq!(health.in_flight, 0);
        assert!(drift_ring::list_rings(&ring_dir).unwrap().is_empty());
    } else {
        assert_eq!(health.dropped.export_failed, 0, "{health:?}");
        assert_eq!(health.in_flight, 40, "still in the ring: {health:?}");
        let rings = drift_ring::list_rings(&ring_dir).unwrap();
        assert_eq!(rings.len(), 1, "the ring file stays for the next start");
    }
    std::fs::remove_dir_all(ring_dir).ok();
}

#[test]
fn a_stuck_backend_fills_the_ring_and_only_queue_full_drops() {
    let backend = MockBackend::start();
    // Every request hangs past the timeout.
    backend.script(std::iter::repeat_n(
        Reply::Delay(Duration::from_millis(400)),
        1000,
    ));
    let ring_dir = temp_dir("http-stuck");
    let mut api = api_sink(backend.base_url());
    api.timeout = Duration::from_millis(100);
    api.max_pending_requests = 2;
    api.retry.max_attempts = 2;
    let mut config = test_config(ring_dir.clone(), SinkConfig::Api(api));
    // A small ring: 64 KiB holds about a hundred of these spans, so it would fill within the
    // first rounds if nobody drained it.
    config.ring.capacity_bytes = 64 << 10;
    config.ring.max_span_bytes = 16 << 10;
    config.batch.max_export_batch_size = 16;
    let exporter = Exporter::start(config).unwrap();
    let payloads = fixtures_of(&["200b"]);
    let batch: Vec<OwnedSpan> = (0..20)
        .map(|n| OwnedSpan::from_payload(n, &payloads[n % payloads.len()], SdkFlavor::Node))
        .collect();
    for _round in 0..50 {
        for span in &batch {
            // Never blocks: a full ring refuses at once.
            let _ = exporter.push_span(&span.record());
        }
    }
    let health = exporter.health();
    assert!(
        health.dropped.queue_full > 0,
        "the unconfirmed spans fill the ring, the newest are dropped: {health:?}"
    );
    assert_eq!(
        health.dropped.export_failed, 0,
        "nothing is dropped behind the ring while the backend fails: {health:?}"
    );
    assert_eq!(health.exported, 0);
    // In flight is bounded by the ring, not by the backend.
    assert!(health.in_flight < 200, "{health:?}");
    exporter.shutdown(Duration::from_secs(1));
    let health = exporter.health();
    assert_eq!(health.pushed, 1000);
    assert_eq!(
        health.pushed,
        health.exported + health.dropped_total + health.in_flight,
        "{health:?}"
    );
    std::fs::remove_dir_all(ring_dir).ok();
}

#[test]
fn a_backend_down_then_up_gets_every_span_nothing_dropped() {
    let backend = MockBackend::start();
    // Down for the first 8 requests (503 and resets), then up.
    backend.script([
        Reply::Status(503),
        Reply::Reset,
        Reply::Status(503),
        Reply::Status(429),
        Reply::Reset,
        Reply::Status(502),
        Reply::Status(504),
        Reply::Status(500),
    ]);
    let ring_dir = temp_dir("http-down-up");
    let mut config = test_config(
        ring_dir.clone(),
        SinkConfig::Api(api_sink(backend.base_url())),
    );
    config.batch.max_export_batch_size = 10;
    let exporter = Exporter::start(config).unwrap();
    push_all(&exporter, &spans(0..50));
    // The flush waits for the event (every span confirmed); the deadline only bounds a hang.
    assert!(
        exporter.force_flush(Duration::from_secs(60)),
        "{:?}",
        exporter.health()
    );
    let health = exporter.health();
    assert_eq!(
        (health.exported, health.dropped_total),
        (50, 0),
        "{health:?}"
    );
    let delivered: BTreeSet<String> = backend
        .accepted()
        .iter()
        .flat_map(|r| r.request.spans.iter().map(|s| s.span_id.clone()))
        .collect();
    assert_eq!(delivered.len(), 50);
    assert!(exporter.shutdown(Duration::from_secs(60)));
    std::fs::remove_dir_all(ring_dir).ok();
}
