//! Throughput of every core function on the fixture size classes (200 B, 2 KB, 20 KB, 200 KB),
//! with the published core's pipeline rebuilt on serde_json as the baseline in the same run.
//!
//! Run: `cargo bench -p drift-core-rs --bench core` (add `-- normalize_and_hash` to filter, and
//! `DRIFT_BENCH_KIND=postgres` to keep only the fixtures whose id starts with it).
//! With `DRIFT_BENCH_CPU_TIME=1` the clock is the benchmark thread's CPU time instead of wall time:
//! on a shared machine (the project's has 2 cores and several builds running) it leaves out the
//! time the thread waits for a core, and is what `docs/benchmarks.md` reports next to wall time.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../../benches/cpu_time.rs"]
mod cpu_time;

use std::hint::black_box;
use std::time::Duration;

use cpu_time::ThreadCpuTime;
use criterion::measurement::Measurement;
use criterion::{BatchSize, Criterion, Throughput};
use drift_core_rs::*;

const CLASSES: [&str; 4] = ["200b", "2k", "20k", "200k"];

struct Class {
    name: &'static str,
    payloads: Vec<common::Fixture>,
    bytes: u64,
}

fn classes() -> Vec<Class> {
    // `DRIFT_BENCH_KIND=redis` (a fixture id prefix) keeps one kind of payload, to see which
    // kind a change helps.
    let kind = std::env::var("DRIFT_BENCH_KIND").unwrap_or_default();
    let all: Vec<_> = common::fixtures()
        .into_iter()
        .filter(|f| f.id.starts_with(&kind))
        .collect();
    CLASSES
        .iter()
        .map(|&name| {
            let payloads: Vec<_> = all
                .iter()
                .filter(|f| f.size_class == name)
                .map(clone_fixture)
                .collect();
            let bytes = payloads.iter().map(|f| f.text.len() as u64).sum();
            Class {
                name,
                payloads,
                bytes,
            }
        })
        .collect()
}

fn clone_fixture(f: &common::Fixture) -> common::Fixture {
    common::Fixture {
        id: f.id.clone(),
        size_class: f.size_class.clone(),
        text: f.text.clone(),
        merges: f.merges.clone(),
    }
}

/// The published core's way, rebuilt: parse, write, parse again, sort into a tree, write, hash.
fn baseline_normalize_and_hash(text: &str) -> (String, String) {
    let first: serde_json::Value = serde_json::from_str(text).unwrap();
    let reparsed: serde_json::Value =
        serde_json::from_str(&serde_json::to_string(&first).unwrap()).unwrap();
    let sorted = reparsed.clone(); // serde_json's Map is a BTreeMap: the clone is the sorted tree
    let out = serde_json::to_string(&sorted).unwrap();
    let hash = common::sha256_hex(out.as_bytes());
    (out, hash)
}

fn bench_text_functions<M: Measurement>(c: &mut Criterion<M>) {
    for class in classes() {
        let mut group = c.benchmark_group(format!("core/{}", class.name));
        group.throughput(Throughput::Bytes(class.bytes));
        let texts: Vec<&str> = class.payloads.iter().map(|f| f.text.as_str()).collect();
        macro_rules! each {
            ($name:expr, $f:expr) => {
                group.bench_function($name, |b| {
                    b.iter(|| {
                        for t in &texts {
                            black_box($f(black_box(*t)));
                        }
                    })
                });
            };
        }
        each!("parse_json", |t| parse_json(t).unwrap());
        each!("normalize_json", |t| normalize_json(t).unwrap());
        each!("deterministic_hash", |t| deterministic_hash(t).unwrap());
        each!("normalize_and_hash", |t| normalize_and_hash(t).unwrap());
        each!(
            "baseline_serde_json_normalize_and_hash",
            baseline_normalize_and_hash
        );
        each!("object_to_protobuf_struct_bytes", |t| {
            object_to_protobuf_struct_bytes(t).unwrap()
        });
        each!("object_to_protobuf_struct_field_count", |t| {
            object_to_protobuf_struct_field_count(t).unwrap()
        });
        group.bench_function("process_export_payload", |b| {
            b.iter(|| {
                for f in &class.payloads {
                    black_box(
                        process_export_payload(black_box(&f.text), f.merges.as_deref()).unwrap(),
                    );
                }
            })
        });
        let processed: Vec<_> = class
            .payloads
            .iter()
            .map(|f| {
                let merges = f
                    .merges
                    .as_deref()
                    .map(|m| parse_schema_merges(m).unwrap())
                    .unwrap_or_default();
                process_export_value(parse_json(&f.text).unwrap(), &merges).unwrap()
            })
            .collect();
        group.bench_function("build_span_proto_bytes", |b| {
            b.iter(|| {
                for p in &processed {
                    black_box(build_span_proto_bytes(&span_input(p)).unwrap());
                }
            })
        });
        // The same spans with the payloads' own `Struct` bytes, copied without the check.
        group.bench_function("build_span_proto_bytes_produced_struct", |b| {
            b.iter(|| {
                for p in &processed {
                    let mut input = span_input(p);
                    input.payloads.input = p.span_struct_bytes();
                    black_box(build_span_proto_bytes(&input).unwrap());
                }
            })
        });
        group.finish();
    }
}

fn span_input<'a>(p: &'a ProcessedPayload<'a>) -> SpanInput<'a> {
    SpanInput {
        identity: SpanIdentity {
            trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
            span_id: "00f067aa0ba902b7",
            parent_span_id: "",
            name: "GET /api/v1/users",
        },
        classification: SpanClassification {
            package_name: "http",
            instrumentation_name: "HttpInstrumentation",
            submodule_name: "GET",
            package_type: 1,
            kind: 2,
            environment: Some("production"),
        },
        payloads: SpanPayloads {
            input: SpanPayload::StructBytes(&p.protobuf_struct_bytes),
            output: SpanPayload::None,
            input_schema: Some(&p.decoded_schema),
            output_schema: None,
            metadata: SpanPayload::None,
        },
        hashes: SpanHashes {
            input_value_hash: &p.decoded_value_hash,
            input_schema_hash: &p.decoded_schema_hash,
            ..SpanHashes::default()
        },
        status: SpanStatusInput {
            code: 1,
            message: "",
        },
        timing: SpanTiming {
            timestamp_seconds: 1_763_700_000,
            timestamp_nanos: 1,
            duration_seconds: 0,
            duration_nanos: 5_000_000,
        },
        flags: SpanFlags {
            is_pre_app_start: false,
            is_root_span: true,
        },
    }
}

/// 512 spans built from the 2 KB payloads, assembled into one export request.
fn bench_export_request<M: Measurement>(c: &mut Criterion<M>) {
    let class = classes().into_iter().find(|c| c.name == "2k").unwrap();
    let spans: Vec<Vec<u8>> = class
        .payloads
        .iter()
        .map(|f| {
            let merges = f
                .merges
                .as_deref()
                .map(|m| parse_schema_merges(m).unwrap())
                .unwrap_or_default();
            let p = process_export_value(parse_json(&f.text).unwrap(), &merges).unwrap();
            build_span_proto_bytes(&span_input(&p)).unwrap()
        })
        .cycle()
        .take(512)
        .collect();
    let total: u64 = spans.iter().map(|s| s.len() as u64).sum();
    let mut group = c.benchmark_group("core/export_request_512x2k");
    group.throughput(Throughput::Bytes(total));
    group.bench_function("build_export_spans_request_bytes", |b| {
        b.iter(|| {
            black_box(
                build_export_spans_request_bytes(
                    "svc",
                    "production",
                    "0.2.0",
                    "instance",
                    black_box(&spans),
                )
                .unwrap(),
            )
        })
    });
    group.bench_function("builder_push_span", |b| {
        b.iter_batched(
            || {
                let mut builder =
                    ExportRequestBuilder::new("svc", "production", "0.2.0", "instance");
                builder.reserve(
                    spans
                        .iter()
                        .map(|s| ExportRequestBuilder::span_field_len(s.len()))
                        .sum(),
                );
                builder
            },
            |mut builder| {
                for s in &spans {
                    builder.push_span(s).unwrap();
                }
                black_box(builder.finish())
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("baseline_prost_decode_reencode", |b| {
        use drift_core_rs::tusk_drift_schemas::tusk::drift::{
            backend::v1::ExportSpansRequest, core::v1::Span,
        };
        use prost::Message as _;
        b.iter(|| {
            let request = ExportSpansRequest {
                observable_service_id: "svc".into(),
                environment: "production".into(),
                sdk_version: "0.2.0".into(),
                sdk_instance_id: "instance".into(),
                spans: spans
                    .iter()
                    .map(|s| Span::decode(s.as_slice()).unwrap())
                    .collect(),
            };
            black_box(request.encode_to_vec())
        })
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

fn run<M: Measurement>(mut c: Criterion<M>) {
    bench_text_functions(&mut c);
    bench_export_request(&mut c);
    c.final_summary();
}

fn main() {
    if std::env::var_os("DRIFT_BENCH_CPU_TIME").is_some() {
        run(config()
            .with_measurement(ThreadCpuTime)
            .configure_from_args());
    } else {
        run(config().configure_from_args());
    }
}
