//! Lifecycle and accounting: shutdown (idempotent, final drain, later pushes counted), flush,
//! drop reasons at push time, callback sink, configuration precedence.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{OwnedSpan, fixtures_of, temp_dir, test_config};
use drift_exporter::{DropReason, Exporter, ExporterConfig, SdkFlavor, SinkConfig};

fn counting_callback() -> (Arc<AtomicUsize>, SinkConfig) {
    let spans = Arc::new(AtomicUsize::new(0));
    let seen = spans.clone();
    let sink = SinkConfig::Callback(Arc::new(move |bytes: Vec<u8>| {
        use prost::Message;
        let request =
            drift_core_rs::tusk_drift_schemas::tusk::drift::backend::v1::ExportSpansRequest::decode(bytes.as_slice())
                .expect("request bytes decode");
        seen.fetch_add(request.spans.len(), Ordering::SeqCst);
    }));
    (spans, sink)
}

fn spans(n: usize, class: &str) -> Vec<OwnedSpan> {
    let payloads = fixtures_of(&[class]);
    (0..n)
        .map(|i| OwnedSpan::from_payload(i, &payloads[i % payloads.len()], SdkFlavor::Python))
        .collect()
}

#[test]
fn shutdown_drains_is_idempotent_and_counts_late_pushes() {
    let ring_dir = temp_dir("lifecycle-shutdown");
    let (delivered, sink) = counting_callback();
    let mut config = test_config(ring_dir.clone(), sink);
    // Only the final drain can send these: the batch would otherwise wait a minute.
    config.batch.schedule_delay = Duration::from_secs(60);
    config.batch.max_export_batch_size = 10_000;
    let exporter = Exporter::start(config).unwrap();
    for span in spans(25, "2k") {
        exporter.push_span(&span.record()).unwrap();
    }
    assert!(exporter.shutdown(Duration::from_secs(10)));
    assert_eq!(delivered.load(Ordering::SeqCst), 25);
    let late = spans(1, "200b");
    assert_eq!(
        exporter.push_span(&late[0].record()),
        Err(DropReason::AlreadyShutdown)
    );
    assert!(
        exporter.shutdown(Duration::from_secs(1)),
        "second shutdown is a no-op"
    );
    assert!(!exporter.force_flush(Duration::from_millis(50)) || exporter.health().in_flight == 0);
    let health = exporter.health();
    assert_eq!(
        (
            health.pushed,
            health.exported,
            health.dropped.already_shutdown
        ),
        (26, 25, 1)
    );
    assert_eq!(health.in_flight, 0);
    assert!(!health.running);
    std::fs::remove_dir_all(ring_dir).ok();
}

#[test]
fn force_flush_sends_the_open_batch_now() {
    let ring_dir = temp_dir("lifecycle-flush");
    let (delivered, sink) = counting_callback();
    let mut config = test_config(ring_dir.clone(), sink);
    config.batch.schedule_delay = Duration::from_secs(60);
    config.batch.max_export_batch_size = 10_000;
    let exporter = Exporter::start(config).unwrap();
    for round in 1..=3 {
        for span in spans(7, "200b") {
            exporter.push_span(&span.record()).unwrap();
        }
        assert!(exporter.force_flush(Duration::from_secs(10)));
        assert_eq!(delivered.load(Ordering::SeqCst), 7 * round);
    }
    let health = exporter.health();
    assert_eq!(health.batches, 3);
    assert!(exporter.shutdown(Duration::from_secs(5)));
    std::fs::remove_dir_all(ring_dir).ok();
}

#[test]
fn too_large_and_queue_full_are_counted_and_accounting_adds_up() {
    let ring_dir = temp_dir("lifecycle-drops");
    let (delivered, sink) = counting_callback();
    let mut config = test_config(ring_dir.clone(), sink);
    config.ring.capacity_bytes = 64 << 10;
    config.ring.max_span_bytes = 16 << 10;
    let exporter = Exporter::start(config).unwrap();
    let big = spans(1, "20k");
    assert_eq!(
        exporter.push_span(&big[0].record()),
        Err(DropReason::TooLarge)
    );
    // Far more than the ring holds, as fast as possible: some pushes find it full.
    let burst = spans(3000, "2k");
    let mut refused = 0;
    for span in &burst {
        if let Err(reason) = exporter.push_span(&span.record()) {
            assert_eq!(reason, DropReason::QueueFull);
            refused += 1;
        }
    }
    assert!(
        exporter.force_flush(Duration::from_secs(30)),
        "{:?}",
        exporter.health()
    );
    let health = exporter.health();
    assert_eq!(health.pushed, 3001);
    assert_eq!(health.dropped.too_large, 1);
    assert_eq!(health.dropped.queue_full, refused);
    assert!(
        refused > 0,
        "a 64 KiB ring cannot absorb 6 MB in a tight loop"
    );
    assert_eq!(health.exported as usize, delivered.load(Ordering::SeqCst));
    assert_eq!(health.pushed, health.exported + health.dropped_total);
    assert_eq!(health.in_flight, 0);
    assert!(health.queue_capacity_bytes >= 64 << 10);
    assert!(exporter.shutdown(Duration::from_secs(5)));
    std::fs::remove_dir_all(ring_dir).ok();
}

#[test]
fn a_panicking_callback_counts_export_failed_and_the_exporter_goes_on() {
    let ring_dir = temp_dir("lifecycle-panic");
    let calls = Arc::new(Mutex::new(0));
    let seen = calls.clone();
    let sink = SinkConfig::Callback(Arc::new(move |_bytes: Vec<u8>| {
        let mut calls = seen.lock().unwrap_or_else(|p| p.into_inner());
        *calls += 1;
        if *calls == 1 {
            drop(calls);
            panic!("callback failure (expected by the test)");
        }
    }));
    let mut config = test_config(ring_dir.clone(), sink);
    config.batch.max_export_batch_size = 5;
    let exporter = Exporter::start(config).unwrap();
    for span in spans(5, "200b") {
        exporter.push_span(&span.record()).unwrap();
    }
    assert!(exporter.force_flush(Duration::from_secs(10)));
    for span in spans(5, "200b") {
        exporter.push_span(&span.record()).unwrap();
    }
    assert!(exporter.force_flush(Duration::from_secs(10)));
    let health = exporter.health();
    assert_eq!(
        (health.dropped.export_failed, health.exported),
        (5, 5),
        "{health:?}"
    );
    assert!(exporter.shutdown(Duration::from_secs(5)));
    std::fs::remove_dir_all(ring_dir).ok();
}

#[test]
fn configuration_precedence_defaults_toml_env_then_code() {
    let dir = temp_dir("config");
    let toml_path = dir.join("exporter.toml");
    std::fs::write(
        &toml_path,
        "sink = \"api\"\napi_url = \"http://127.0.0.1:9\"\nmax_export_batch_size = 100\nschedule_delay_millis = 500\n",
    )
    .unwrap();
    let mut config = ExporterConfig::default();
    assert!(
        matches!(config.sink, SinkConfig::Files(_)),
        "the embedded default is the file sink"
    );
    assert_eq!(config.batch.max_export_batch_size, 512);
    assert_eq!(config.batch.max_export_batch_bytes, 4 << 20);
    assert_eq!(config.batch.schedule_delay, Duration::from_millis(2000));
    config.apply_toml_file(&toml_path).unwrap();
    let vars: BTreeMap<String, String> = [
        ("TUSK_MAX_EXPORT_BATCH_SIZE", "200"),
        ("TUSK_API_KEY", "from-env"),
        ("TUSK_OBSERVABLE_SERVICE_ID", "svc-env"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    config.apply_vars(&vars).unwrap();
    let SinkConfig::Api(api) = &config.sink else {
        panic!("sink from TOML")
    };
    assert_eq!(api.base_url, "http://127.0.0.1:9");
    assert_eq!(api.api_key, "from-env");
    assert!(
        !format!("{api:?}").contains("from-env"),
        "the key is never printed"
    );
    assert_eq!(config.batch.max_export_batch_size, 200, "env over TOML");
    assert_eq!(
        config.batch.schedule_delay,
        Duration::from_millis(500),
        "TOML over defaults"
    );
    assert_eq!(config.service.observable_service_id, "svc-env");
    config.batch.max_export_batch_size = 300; // code over env
    assert!(config.validate().is_ok());

    let bad: BTreeMap<String, String> =
        [("TUSK_MAX_EXPORT_BATCH_SIZE".to_string(), "many".to_string())]
            .into_iter()
            .collect();
    let error = ExporterConfig::default()
        .apply_vars(&bad)
        .unwrap_err()
        .to_string();
    assert!(error.contains("TUSK_MAX_EXPORT_BATCH_SIZE"), "{error}");
    std::fs::write(&toml_path, "no_such_key = 1\n").unwrap();
    assert!(
        ExporterConfig::default()
            .apply_toml_file(&toml_path)
            .is_err()
    );
    std::fs::remove_dir_all(dir).ok();
}
