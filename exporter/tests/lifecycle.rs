//! Lifecycle and accounting: shutdown (idempotent, final drain, later pushes counted), flush,
//! drop reasons at push time, callback sink, configuration precedence.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    assert!(exporter.shutdown(Duration::from_secs(60)));
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
    assert!(
        exporter.force_flush(Duration::from_secs(60)),
        "after a completed shutdown everything is settled"
    );
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
        assert!(exporter.force_flush(Duration::from_secs(60)));
        assert_eq!(delivered.load(Ordering::SeqCst), 7 * round);
    }
    let health = exporter.health();
    assert_eq!(health.batches, 3);
    assert!(exporter.shutdown(Duration::from_secs(60)));
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
    assert!(exporter.shutdown(Duration::from_secs(60)));
    std::fs::remove_dir_all(ring_dir).ok();
}

/// Records stay in the ring until their batch is confirmed, so an open batch must not be able to
/// fill the ring: with a minute's schedule delay and no count or byte bound in reach, a ring
/// of 64 KiB still carries many times its size, because the batch is cut once it holds a
/// quarter of the ring. (Before, the batch held the full ring for its schedule delay and every
/// push in between was dropped `queue_full`: the e2e benchmark's missing spans.)
#[test]
fn an_open_batch_is_cut_before_it_fills_the_ring() {
    let ring_dir = temp_dir("lifecycle-ring-share");
    let (delivered, sink) = counting_callback();
    let mut config = test_config(ring_dir.clone(), sink);
    config.ring.capacity_bytes = 64 << 10;
    config.batch.schedule_delay = Duration::from_secs(60);
    config.batch.max_export_batch_size = 10_000;
    let exporter = Exporter::start(config).unwrap();
    let all = spans(300, "2k");
    // A push refused as ring-full is retried until the exporter makes room: it only can if it
    // cuts batches by ring share. The budget only bounds how long a failure takes to show.
    let budget = Instant::now() + Duration::from_secs(30);
    for span in &all {
        while let Err(reason) = exporter.push_span(&span.record()) {
            assert_eq!(reason, DropReason::QueueFull);
            assert!(
                Instant::now() < budget,
                "the ring stayed full: {:?}",
                exporter.health()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    assert!(exporter.force_flush(Duration::from_secs(30)));
    let health = exporter.health();
    assert_eq!(delivered.load(Ordering::SeqCst), all.len());
    assert_eq!(health.exported as usize, all.len());
    assert!(
        health.bytes_sent > 10 * (64 << 10),
        "{} bytes carried",
        health.bytes_sent
    );
    assert!(exporter.shutdown(Duration::from_secs(60)));
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
    assert!(
        !exporter.force_flush(Duration::from_secs(10)),
        "the panicking callback did not take the spans"
    );
    for span in spans(5, "200b") {
        exporter.push_span(&span.record()).unwrap();
    }
    assert!(exporter.force_flush(Duration::from_secs(60)));
    let health = exporter.health();
    assert_eq!(
        (health.dropped.export_failed, health.exported),
        (5, 5),
        "{health:?}"
    );
    assert!(exporter.shutdown(Duration::from_secs(60)));
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

#[test]
fn force_flush_after_a_completed_shutdown_returns_at_once() {
    let ring_dir = temp_dir("lifecycle-flush-after-shutdown");
    let (delivered, sink) = counting_callback();
    let exporter = Exporter::start(test_config(ring_dir.clone(), sink)).unwrap();
    for span in spans(10, "200b") {
        exporter.push_span(&span.record()).unwrap();
    }
    assert!(exporter.shutdown(Duration::from_secs(60)));
    assert_eq!(delivered.load(Ordering::SeqCst), 10);
    // A late push is counted (already_shutdown), so everything pushed is still settled.
    let late = spans(1, "200b");
    assert_eq!(
        exporter.push_span(&late[0].record()),
        Err(DropReason::AlreadyShutdown)
    );
    // Before the fix this waited for its whole timeout: the drain thread that would answer
    // the flush request is gone. The bound is far below the timeout, not a speed target.
    let started = Instant::now();
    assert!(exporter.force_flush(Duration::from_secs(300)));
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "force_flush after shutdown took {:?}",
        started.elapsed()
    );
    let health = exporter.health();
    assert_eq!((health.exported, health.in_flight), (10, 0), "{health:?}");
    std::fs::remove_dir_all(ring_dir).ok();
}

#[test]
fn force_flush_after_a_shutdown_that_left_work_undone_returns_false_at_once() {
    let ring_dir = temp_dir("lifecycle-flush-after-failed-shutdown");
    // A sink stuck in its first delivery until the test releases it.
    let release = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
    let gate = release.clone();
    let sink = SinkConfig::Callback(Arc::new(move |_bytes: Vec<u8>| {
        let (lock, released) = &*gate;
        let mut done = lock.lock().unwrap_or_else(|p| p.into_inner());
        while !*done {
            done = released.wait(done).unwrap_or_else(|p| p.into_inner());
        }
    }));
    // An anonymous ring: shutdown counts what it could not deliver (a named ring would keep
    // it for the next start, see `http_sink.rs`).
    let mut config = test_config(ring_dir.clone(), sink);
    config.ring.anonymous = true;
    let exporter = Exporter::start(config).unwrap();
    for span in spans(10, "200b") {
        exporter.push_span(&span.record()).unwrap();
    }
    assert!(
        !exporter.shutdown(Duration::from_millis(300)),
        "the batch in delivery cannot settle within the budget"
    );
    let started = Instant::now();
    assert!(!exporter.force_flush(Duration::from_secs(300)));
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "force_flush after shutdown took {:?}",
        started.elapsed()
    );
    let health = exporter.health();
    assert_eq!(
        (health.in_flight, health.undelivered_at_shutdown),
        (0, 10),
        "shutdown counts what it could not deliver: {health:?}"
    );
    // Let the detached sender finish; what shutdown counted is not counted again.
    {
        let (lock, released) = &*release;
        *lock.lock().unwrap() = true;
        released.notify_all();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while exporter.health().in_flight > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        !exporter.force_flush(Duration::from_secs(1)),
        "the shutdown's undelivered spans stay undelivered"
    );
    let health = exporter.health();
    assert_eq!(health.pushed, health.exported + health.dropped_total);
    std::fs::remove_dir_all(ring_dir).ok();
}

#[test]
fn force_flush_racing_a_shutdown_waits_for_it_and_reports_its_outcome() {
    let ring_dir = temp_dir("lifecycle-flush-during-shutdown");
    let (delivered, sink) = counting_callback();
    let mut config = test_config(ring_dir.clone(), sink);
    config.batch.schedule_delay = Duration::from_secs(60);
    let exporter = Arc::new(Exporter::start(config).unwrap());
    for span in spans(200, "2k") {
        exporter.push_span(&span.record()).unwrap();
    }
    let flusher = {
        let exporter = exporter.clone();
        std::thread::spawn(move || {
            (0..50)
                .map(|_| exporter.force_flush(Duration::from_secs(120)))
                .collect::<Vec<bool>>()
        })
    };
    assert!(exporter.shutdown(Duration::from_secs(60)));
    let started = Instant::now();
    let outcomes = flusher.join().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "flushes did not end with the shutdown"
    );
    assert!(outcomes.iter().all(|&ok| ok), "{outcomes:?}");
    assert_eq!(delivered.load(Ordering::SeqCst), 200);
    std::fs::remove_dir_all(ring_dir).ok();
}

#[test]
fn a_small_ring_without_a_span_limit_clamps_the_default_limit() {
    let ring_dir = temp_dir("lifecycle-small-ring");
    let (delivered, sink) = counting_callback();
    let mut config = test_config(ring_dir.clone(), sink);
    // 64 KiB of ring with the default 1 MiB span limit: the limit becomes the largest record
    // such a ring accepts (half the ring less the ring's record header).
    config.ring.capacity_bytes = 64 << 10;
    assert!(!config.ring.max_span_bytes_is_explicit());
    let largest = drift_ring::max_payload_for_capacity(64 << 10);
    assert_eq!(config.ring.effective_max_span_bytes().unwrap(), largest);
    config.validate().unwrap();
    let exporter = Exporter::start(config).unwrap();
    for span in spans(5, "2k") {
        exporter.push_span(&span.record()).unwrap();
    }
    // A span just over the limit is refused as too_large, not a ring error.
    let mut big = spans(1, "200b").remove(0);
    big.input_json = format!(r#"{{"blob":"{}"}}"#, "x".repeat(largest));
    assert_eq!(exporter.push_span(&big.record()), Err(DropReason::TooLarge));
    assert!(exporter.force_flush(Duration::from_secs(60)));
    assert_eq!(delivered.load(Ordering::SeqCst), 5);
    assert!(exporter.shutdown(Duration::from_secs(60)));

    // The same through the environment (what the bindings' options go through).
    let vars: BTreeMap<String, String> = [("TUSK_RING_CAPACITY_BYTES", "8192")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut config = ExporterConfig::default();
    config.apply_vars(&vars).unwrap();
    assert_eq!(
        config.ring.effective_max_span_bytes().unwrap(),
        drift_ring::max_payload_for_capacity(8192)
    );
    // A capacity that is not a power of two is rounded up first, as the ring does.
    config.ring.capacity_bytes = 5000;
    assert_eq!(
        config.ring.effective_max_span_bytes().unwrap(),
        drift_ring::max_payload_for_capacity(8192)
    );
    std::fs::remove_dir_all(ring_dir).ok();
}

#[test]
fn an_explicit_span_limit_the_ring_cannot_hold_is_a_clear_error() {
    let ring_dir = temp_dir("lifecycle-explicit-limit");
    let (_, sink) = counting_callback();
    let mut config = test_config(ring_dir.clone(), sink);
    config.ring.capacity_bytes = 64 << 10;
    // Set explicitly, even to the default value: never clamped.
    config.ring.set_max_span_bytes(1 << 20);
    let error = Exporter::start(config.clone())
        .err()
        .expect("must not start");
    let message = error.to_string();
    assert!(message.contains("max_span_bytes"), "{message}");
    assert!(message.contains("ring_capacity_bytes"), "{message}");
    assert!(message.contains(&drift_ring::max_payload_for_capacity(64 << 10).to_string()));

    // A plain assignment of another value is explicit too.
    let mut assigned = config.clone();
    assigned.ring.max_span_bytes_explicit = false;
    assigned.ring.max_span_bytes = 40 << 10;
    assert!(assigned.ring.max_span_bytes_is_explicit());
    assert!(assigned.validate().is_err());
    assigned.ring.max_span_bytes = 16 << 10;
    assert_eq!(assigned.ring.effective_max_span_bytes().unwrap(), 16 << 10);

    // From a variable, with a ring too small for it.
    let vars: BTreeMap<String, String> = [
        ("TUSK_RING_CAPACITY_BYTES", "65536"),
        ("TUSK_MAX_SPAN_BYTES", "1048576"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let error = ExporterConfig::default().apply_vars(&vars).unwrap_err();
    assert!(error.to_string().contains("max_span_bytes"), "{error}");

    // A ring too small for any span is an error naming the capacity, explicit limit or not.
    let mut tiny = ExporterConfig::default();
    tiny.ring.capacity_bytes = 256;
    let error = tiny.validate().unwrap_err().to_string();
    assert!(error.contains("ring_capacity_bytes"), "{error}");
    tiny.ring.capacity_bytes = usize::MAX;
    assert!(
        tiny.validate().is_err(),
        "an impossible capacity never panics"
    );
    std::fs::remove_dir_all(ring_dir).ok();
}
