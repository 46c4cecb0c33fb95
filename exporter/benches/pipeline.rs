//! Drain → process → request bytes, on one core, for 2 KB and 20 KB SDK-shaped spans.
//!
//! Each iteration drains a ring holding a batch of encoded span records, processes every record
//! (decode, `process_export_value` for input and output, span bytes) and appends the spans to an
//! `ExportSpansRequest`. Throughput is MB/s of span JSON (input + output text); spans/s is
//! `spans_per_batch / time`. `drain_process_lines_*` is the file sink's path (the same records
//! rendered as the SDKs' JSON lines). Baseline in the same run: the core's text-form
//! `process_export_payload` alone on the same payloads (what the SDKs call per span today).
//!
//! `cargo bench -p drift-exporter --bench pipeline`

#[path = "../../benches/cpu_time.rs"]
mod cpu_time;

use std::hint::black_box;
use std::time::Duration;

use cpu_time::ThreadCpuTime;
use criterion::measurement::Measurement;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use drift_core_rs::ExportRequestBuilder;
use drift_exporter::{
    SPAN_RECORD_TYPE, SdkFlavor, SpanRecord, Timestamp, span_bytes_from_record,
    span_json_line_from_record,
};
use drift_ring::{Consumer, Producer, RingConfig};

const FIXTURES: &str = include_str!("../../tests/fixtures/span_payloads.jsonl");

struct Payload {
    json: String,
    merges: Option<String>,
}

fn payloads(size_class: &str) -> Vec<Payload> {
    FIXTURES
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|value| value["size_class"] == size_class)
        .map(|value| Payload {
            json: serde_json::to_string(&value["value"]).unwrap(),
            merges: (!value["schema_merges"].is_null()).then(|| value["schema_merges"].to_string()),
        })
        .collect()
}

/// Encoded records of `count` spans cycling through the payloads (input = payload, output a
/// small HTTP-style response, metadata), alternating Python and Node records.
fn records(payloads: &[Payload], count: usize) -> (Vec<Vec<u8>>, u64) {
    let mut json_bytes = 0;
    let records = (0..count)
        .map(|n| {
            let payload = &payloads[n % payloads.len()];
            let trace_id = format!("{:032x}", n / 4);
            let span_id = format!("{n:016x}");
            let output = format!(
                r#"{{"statusCode":200,"headers":{{"content-type":"application/json"}},"n":{n}}}"#
            );
            json_bytes += (payload.json.len() + output.len()) as u64;
            SpanRecord {
                sdk: if n % 2 == 0 {
                    SdkFlavor::Python
                } else {
                    SdkFlavor::Node
                },
                sdk_version: "bench-1.0",
                trace_id: &trace_id,
                span_id: &span_id,
                parent_span_id: "",
                name: "GET /api/v1/users",
                package_name: "http",
                instrumentation_name: "HttpInstrumentation",
                submodule_name: "GET",
                package_type: 1,
                kind: 2,
                environment: Some("bench"),
                status_code: 1,
                status_message: "",
                is_pre_app_start: false,
                is_root_span: true,
                timestamp: Timestamp {
                    seconds: 1_763_766_605,
                    nanos: 0,
                },
                duration: Timestamp {
                    seconds: 0,
                    nanos: 1_500_000,
                },
                input_value_json: payload.json.as_bytes(),
                output_value_json: Some(output.as_bytes()),
                input_schema_merges_json: payload.merges.as_deref().map(str::as_bytes),
                output_schema_merges_json: None,
                metadata_json: Some(br#"{"bench":true}"#),
                transform_metadata_json: None,
                stack_trace: None,
            }
            .to_bytes()
            .unwrap()
        })
        .collect();
    (records, json_bytes)
}

/// The application thread's share: claim a ring slot and encode the span into it (what
/// `Exporter::push_span` does besides a counter), 256 spans per iteration, ring emptied between
/// iterations.
fn bench_push<M: Measurement>(c: &mut Criterion<M>) {
    let dir =
        std::env::temp_dir().join(format!("drift-exporter-bench-push-{}", std::process::id()));
    let payloads = payloads("2k");
    let json: Vec<(String, String)> = (0..256)
        .map(|n| {
            (
                payloads[n % payloads.len()].json.clone(),
                format!(r#"{{"statusCode":200,"n":{n}}}"#),
            )
        })
        .collect();
    let config = RingConfig {
        dir: Some(dir.clone()),
        ..RingConfig::with_capacity(4 << 20)
    };
    let (producer, _fd) = Producer::create_memfd(&config).unwrap();
    let mut consumer = Consumer::from_producer(&producer).unwrap();
    let mut group = c.benchmark_group("push_2k");
    group.throughput(Throughput::Elements(json.len() as u64));
    group.bench_function("claim_encode_commit_256_spans", |b| {
        b.iter_batched(
            || {
                consumer.drain(usize::MAX, usize::MAX, |_| {}).unwrap();
            },
            |()| {
                for (n, (input, output)) in json.iter().enumerate() {
                    let span_id = format!("{n:016x}");
                    let record = SpanRecord {
                        sdk: SdkFlavor::Python,
                        sdk_version: "bench-1.0",
                        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
                        span_id: &span_id,
                        parent_span_id: "",
                        name: "GET /api/v1/users",
                        package_name: "http",
                        instrumentation_name: "HttpInstrumentation",
                        submodule_name: "GET",
                        package_type: 1,
                        kind: 2,
                        environment: Some("bench"),
                        status_code: 1,
                        status_message: "",
                        is_pre_app_start: false,
                        is_root_span: true,
                        timestamp: Timestamp {
                            seconds: 1_763_766_605,
                            nanos: 0,
                        },
                        duration: Timestamp {
                            seconds: 0,
                            nanos: 1_500_000,
                        },
                        input_value_json: input.as_bytes(),
                        output_value_json: Some(output.as_bytes()),
                        input_schema_merges_json: None,
                        output_schema_merges_json: None,
                        metadata_json: None,
                        transform_metadata_json: None,
                        stack_trace: None,
                    };
                    let mut slot = producer
                        .try_claim(SPAN_RECORD_TYPE, record.encoded_len())
                        .unwrap();
                    record.encode_into(&mut slot).unwrap();
                    slot.commit();
                }
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
    std::fs::remove_dir_all(dir).ok();
}

fn bench_pipeline<M: Measurement>(c: &mut Criterion<M>) {
    bench_pipeline_named(c, "");
}

fn bench_pipeline_named<M: Measurement>(c: &mut Criterion<M>, suffix: &str) {
    let dir = std::env::temp_dir().join(format!("drift-exporter-bench-{}", std::process::id()));
    for (class, spans) in [("2k", 512usize), ("20k", 64)] {
        let payloads = payloads(class);
        let (records, json_bytes) = records(&payloads, spans);
        let config = RingConfig {
            dir: Some(dir.clone()),
            ..RingConfig::with_capacity(16 << 20)
        };
        let (producer, _fd) = Producer::create_memfd(&config).unwrap();
        let mut consumer = Consumer::from_producer(&producer).unwrap();

        let mut group = c.benchmark_group(format!("pipeline_{class}{suffix}"));
        group.throughput(Throughput::BytesDecimal(json_bytes));
        group.bench_function(format!("drain_process_request_{spans}_spans"), |b| {
            b.iter_batched(
                || {
                    for record in &records {
                        producer.try_push(SPAN_RECORD_TYPE, record).unwrap();
                    }
                },
                |()| {
                    // Acknowledged consumption, as the exporter drains: read ahead, then
                    // release the batch's range once it is "confirmed".
                    let mut request =
                        ExportRequestBuilder::new("svc", "bench", "bench-1.0", "instance");
                    let mut end = 0;
                    let read = consumer
                        .read(usize::MAX, usize::MAX, |record| {
                            let span = span_bytes_from_record(record.payload).unwrap();
                            request.push_validated_span(&span);
                            end = record.end;
                        })
                        .unwrap();
                    let body = request.finish();
                    consumer.release(end, read.records, 0, 0).unwrap();
                    black_box(body)
                },
                BatchSize::PerIteration,
            )
        });
        // The file sink's path: the same records rendered as the SDKs' JSON lines.
        group.bench_function(format!("drain_process_lines_{spans}_spans"), |b| {
            b.iter_batched(
                || {
                    for record in &records {
                        producer.try_push(SPAN_RECORD_TYPE, record).unwrap();
                    }
                },
                |()| {
                    let mut lines = Vec::with_capacity(spans);
                    consumer
                        .drain(usize::MAX, usize::MAX, |record| {
                            lines.push(span_json_line_from_record(record.payload).unwrap());
                        })
                        .unwrap();
                    black_box(lines)
                },
                BatchSize::PerIteration,
            )
        });
        group.bench_function(
            format!("baseline_core_process_export_payload_{spans}_spans"),
            |b| {
                b.iter(|| {
                    for n in 0..spans {
                        let payload = &payloads[n % payloads.len()];
                        black_box(
                            drift_core_rs::process_export_payload(
                                &payload.json,
                                payload.merges.as_deref(),
                            )
                            .unwrap(),
                        );
                    }
                })
            },
        );
        group.finish();
    }
    std::fs::remove_dir_all(dir).ok();
}

fn settings<M: Measurement>(criterion: Criterion<M>) -> Criterion<M> {
    criterion
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = wall_time;
    config = settings(Criterion::default());
    targets = bench_pipeline, bench_push
}
criterion_group! {
    name = cpu_time;
    config = settings(Criterion::default().with_measurement(ThreadCpuTime));
    targets = bench_pipeline_cpu
}

/// The same pipeline measured in CPU time of the draining thread (group names end in `_cpu`).
fn bench_pipeline_cpu(c: &mut Criterion<ThreadCpuTime>) {
    bench_pipeline_named(c, "_cpu");
}

criterion_main!(wall_time, cpu_time);
