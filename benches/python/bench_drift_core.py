"""drift_core (this repo) against the published drift-core-python 0.1.9, side by side in one
process, interleaved, on the fixture corpus; plus RingExporter.push_span and the SDK's on_end.

Run with the venvs of scripts/test-python.sh (built with `maturin build --release`):

    target/py/test/bin/python benches/python/bench_drift_core.py

Both wheels install the extension `drift_core/drift_core.abi3.so` with the init function
`PyInit_drift_core`; the published one is loaded from the other venv's site-packages under the
module name `published_drift_core.drift_core` (same init symbol, different object file).

Timing: for each case, rounds alternate ours/published; each round times a batch of calls with
perf_counter_ns and the per-call median over rounds is reported. Ratios are published / ours
(higher is better for us).
"""

from __future__ import annotations

import argparse
import glob
import importlib.machinery
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import drift_core

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "span_payloads.jsonl"
SIZE_CLASSES = ["200b", "2k", "20k", "200k"]


def load_published(site_packages: str | None) -> Any:
    if site_packages is None:
        candidates = glob.glob(str(REPO / "target" / "py" / "published" / "lib" / "python3*" / "site-packages"))
        if not candidates:
            sys.exit("published venv not found: run scripts/test-python.sh first, or pass --published-site")
        site_packages = candidates[0]
    matches = glob.glob(os.path.join(site_packages, "drift_core", "drift_core*.so"))
    if not matches:
        sys.exit(f"no drift_core extension under {site_packages}")
    loader = importlib.machinery.ExtensionFileLoader("published_drift_core.drift_core", matches[0])
    spec = importlib.util.spec_from_file_location("published_drift_core.drift_core", matches[0], loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


# `--clock thread` times with the calling thread's CPU time (time.thread_time_ns), which leaves
# out the waits for a core on a shared machine; the default is wall time (perf_counter_ns).
CLOCK = time.perf_counter_ns


def per_call_ns(function: Callable[[], Any], batch: int) -> float:
    start = CLOCK()
    for _ in range(batch):
        function()
    return (CLOCK() - start) / batch


def compare(ours: Callable[[], Any], theirs: Callable[[], Any], budget_s: float) -> tuple[float, float]:
    """Median per-call ns of each side over 20 interleaved rounds, batches sized to ~budget/40."""
    probe = max(per_call_ns(theirs, 1), per_call_ns(ours, 1), 50.0)
    batch = max(1, int(budget_s / 40 / probe * 1e9))
    ours_times, theirs_times = [], []
    for _ in range(20):
        ours_times.append(per_call_ns(ours, batch))
        theirs_times.append(per_call_ns(theirs, batch))
    return statistics.median(ours_times), statistics.median(theirs_times)


def fmt_ns(ns: float) -> str:
    if ns >= 1e6:
        return f"{ns / 1e6:8.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:8.2f} µs"
    return f"{ns:8.0f} ns"


def report(rows: list[tuple[str, str, float, float]]) -> None:
    print(f"{'function':44} {'size':>6} {'ours':>11} {'0.1.9':>11} {'ratio':>8}")
    for name, size, ours, theirs in rows:
        print(f"{name:44} {size:>6} {fmt_ns(ours)} {fmt_ns(theirs)} {theirs / ours:7.1f}x")


def representative(payloads: list[dict], size_class: str) -> dict:
    """The input payload of the http_server fixture of a size class (a typical SDK span side)."""
    for payload in payloads:
        if payload["size_class"] == size_class and payload["kind"] == "http_server" and payload["side"] == "input":
            return payload
    return next(p for p in payloads if p["size_class"] == size_class)


def span_args(module: Any, payload: dict, output: dict) -> list[Any]:
    """The 29 arguments the SDK passes, computed the way its otel_converter does."""
    inp = module.process_export_payload_pyobject(payload["value"], payload["schema_merges"])
    out = module.process_export_payload_pyobject(output["value"], output["schema_merges"])
    return [
        "0af7651916cd43dd8448eb211c80319c",
        "b7ad6b7169203331",
        "",
        "GET /users",
        "requests",
        "RequestsInstrumentation",
        "GET",
        1,
        "production",
        2,
        inp[2],
        out[2],
        inp[3],
        out[3],
        inp[1],
        out[1],
        1,
        "",
        False,
        True,
        1_763_700_000,
        123_456_789,
        0,
        5_000_000,
        {"sdk": "python"},
        inp[0],
        out[0],
        inp[4],
        out[4],
    ]


def bench_functions(published: Any, payloads: list[dict], budget_s: float) -> list[tuple[str, str, float, float]]:
    rows = []
    for size_class in SIZE_CLASSES:
        payload = representative(payloads, size_class)
        output = next(p for p in payloads if p["size_class"] == size_class and p["side"] == "output")
        text = json.dumps(payload["value"])
        merges_json = json.dumps(payload["schema_merges"]) if payload["schema_merges"] else None
        value, merges = payload["value"], payload["schema_merges"]
        cases = [
            ("normalize_json", lambda m, t=text: lambda: m.normalize_json(t)),
            ("deterministic_hash", lambda m, t=text: lambda: m.deterministic_hash(t)),
            ("normalize_and_hash", lambda m, t=text: lambda: m.normalize_and_hash(t)),
            ("object_to_protobuf_struct_bytes", lambda m, t=text: lambda: m.object_to_protobuf_struct_bytes(t)),
            (
                "object_to_protobuf_struct_field_count",
                lambda m, t=text: lambda: m.object_to_protobuf_struct_field_count(t),
            ),
            ("process_export_payload", lambda m, t=text, j=merges_json: lambda: m.process_export_payload(t, j)),
            (
                "process_export_payload_pyobject",
                lambda m, v=value, g=merges: lambda: m.process_export_payload_pyobject(v, g),
            ),
        ]
        for name, make in cases:
            ours, theirs = compare(make(drift_core), make(published), budget_s)
            rows.append((name, size_class, ours, theirs))
        ours_args = span_args(drift_core, payload, output)
        theirs_args = span_args(published, payload, output)
        ours, theirs = compare(
            lambda a=ours_args: drift_core.build_span_proto_bytes_pyobject(*a),
            lambda a=theirs_args: published.build_span_proto_bytes_pyobject(*a),
            budget_s,
        )
        rows.append(("build_span_proto_bytes_pyobject", size_class, ours, theirs))
    payload, output = representative(payloads, "2k"), representative(payloads, "200b")
    spans = [drift_core.build_span_proto_bytes_pyobject(*span_args(drift_core, payload, output)) for _ in range(512)]
    header = ("svc", "production", "0.1.29", "instance")
    ours, theirs = compare(
        lambda: drift_core.build_export_spans_request_bytes_pyobject(*header, spans),
        lambda: published.build_export_spans_request_bytes_pyobject(*header, spans),
        budget_s,
    )
    rows.append(("build_export_spans_request_bytes (512 spans)", "2k", ours, theirs))
    return rows


def push_args(payload: dict, output: dict) -> tuple:
    now = time.time_ns()
    return (
        "0af7651916cd43dd8448eb211c80319c",
        "b7ad6b7169203331",
        "",
        "GET /users",
        "requests",
        "RequestsInstrumentation",
        "GET",
        1,
        2,
        1,
        "",
        False,
        True,
        now,
        now + 5_000_000,
        json.dumps(payload["value"]),
        json.dumps(output["value"]),
        json.dumps(payload["schema_merges"]) if payload["schema_merges"] else None,
        None,
        json.dumps({"sdk": "python"}),
        "production",
    )


def bench_push_span(payloads: list[dict], rounds: int) -> dict[str, float]:
    """Median ns per push of a ~2 KB span (input 2 KB fixture + small output) into the ring."""
    results = {}
    with tempfile.TemporaryDirectory() as ring_dir:
        exporter = drift_core.RingExporter(
            sink=lambda request: None, ring_dir=ring_dir, capacity_bytes=64 << 20, schedule_delay_millis=50
        )
        payload, output = representative(payloads, "2k"), representative(payloads, "200b")
        args = push_args(payload, output)
        record_bytes = sum(len(a) for a in args if isinstance(a, str))
        batch = 200
        samples = []
        for _ in range(rounds):
            start = time.perf_counter_ns()
            for _ in range(batch):
                exporter.push_span(*args)
            samples.append((time.perf_counter_ns() - start) / batch)
            exporter.force_flush(10)  # keep the ring from filling: measure the push, not drops
        health = exporter.health_snapshot()
        exporter.shutdown(10)
    results["push_span_2kb_median_ns"] = statistics.median(samples)
    results["push_span_2kb_p10_ns"] = sorted(samples)[len(samples) // 10]
    results["span_text_bytes"] = record_bytes
    results["dropped"] = health["dropped_total"]
    return results


def bench_sdk_on_end(published: Any, payloads: list[dict], spans: int) -> dict[str, float] | None:
    """The SDK's TdSpanProcessor.on_end per span: stock path with the published binding, stock
    path with ours, and the ring hookup, on the same ended spans, in one process."""
    try:
        from drift.core import rust_core_binding
    except ImportError:
        print("tusk-drift-python-sdk not installed: skipping the on_end benchmark")
        return None
    project = tempfile.mkdtemp(prefix="drift-bench-")
    os.makedirs(os.path.join(project, ".tusk"))
    Path(project, "pyproject.toml").write_text("[project]\nname='bench'\nversion='0'\n")
    Path(project, ".tusk", "config.yaml").write_text("service:\n  id: svc-bench\n  name: bench\n")
    os.chdir(project)
    os.environ["TUSK_DRIFT_MODE"] = "RECORD"
    os.environ["TUSK_USE_RUST_CORE"] = "1"
    os.environ["TUSK_SKIP_PROTO_VALIDATION"] = "0"
    import logging

    from opentelemetry.trace import SpanKind, Status, StatusCode

    from drift.core.drift_sdk import TuskDrift
    from drift.core.tracing.span_utils import AddSpanAttributesOptions, CreateSpanOptions, SpanUtils
    from drift.core.tracing.td_attributes import TdSpanAttributes
    from drift.core.tracing.td_span_processor import TdSpanProcessor

    sdk = TuskDrift.initialize(env="bench", log_level="error")
    sdk.mark_app_as_ready()
    logging.disable(logging.CRITICAL)
    processor = sdk._td_span_processor
    payload, output = representative(payloads, "2k"), representative(payloads, "200b")

    stock_on_end = TdSpanProcessor.on_end
    # Ended spans to feed on_end: create them with on_end disabled.
    TdSpanProcessor.on_end = lambda self, span: None
    ended = []
    for index in range(spans):
        info = SpanUtils.create_span(
            CreateSpanOptions(
                name=f"bench-{index}",
                kind=SpanKind.CLIENT,
                attributes={
                    TdSpanAttributes.NAME: "GET /users",
                    TdSpanAttributes.PACKAGE_NAME: "requests",
                    TdSpanAttributes.INSTRUMENTATION_NAME: "RequestsInstrumentation",
                    TdSpanAttributes.SUBMODULE_NAME: "GET",
                    TdSpanAttributes.PACKAGE_TYPE: "HTTP",
                },
            )
        )
        SpanUtils.add_span_attributes(
            info.span,
            AddSpanAttributesOptions(
                input_value=payload["value"],
                output_value=output["value"],
                input_schema_merges=payload["schema_merges"],
                metadata={"sdk": "python"},
            ),
        )
        info.span.set_status(Status(StatusCode.OK))
        info.span.end()
        ended.append(info.span)
    TdSpanProcessor.on_end = stock_on_end
    batch = processor._batch_processor

    import drift_core.sdk as ring_hook

    traces = tempfile.mkdtemp(prefix="drift-bench-traces-")
    # A file sink: the exporter thread works without the GIL, as with the api sink.
    exporter = ring_hook.install(sink="file", directory=traces, capacity_bytes=64 << 20)
    ring_on_end = TdSpanProcessor.on_end

    def run(on_end: Callable[[Any, Any], None], chunk: list) -> float:
        start = time.perf_counter_ns()
        for span in chunk:
            on_end(processor, span)
        elapsed = (time.perf_counter_ns() - start) / len(chunk)
        # The stock path queues CleanSpanData for its Python batch thread; drop them so the
        # queue never fills (the conversion cost measured here happens before the queue).
        queue = getattr(batch, "_queue", None)
        if queue is not None and hasattr(queue, "clear"):
            queue.clear()
        return elapsed

    samples: dict[str, list[float]] = {"stock_published_ns": [], "stock_ours_ns": [], "ring_ns": []}
    chunk_size = 10
    for offset in range(0, len(ended) - chunk_size + 1, chunk_size):
        chunk = ended[offset : offset + chunk_size]
        rust_core_binding._binding_module, rust_core_binding._binding_load_attempted = published, True
        samples["stock_published_ns"].append(run(stock_on_end, chunk))
        rust_core_binding._binding_module = drift_core
        samples["stock_ours_ns"].append(run(stock_on_end, chunk))
        samples["ring_ns"].append(run(ring_on_end, chunk))
    results: dict[str, Any] = {key: statistics.median(values) for key, values in samples.items()}
    exporter.force_flush(30)
    results["ring_health"] = exporter.health_snapshot()
    ring_hook.uninstall(10)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--published-site", help="site-packages holding drift-core-python 0.1.9")
    parser.add_argument("--budget", type=float, default=0.4, help="seconds per side per case")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument(
        "--clock", choices=["wall", "thread"], default="wall", help="wall time or the thread's CPU time"
    )
    args = parser.parse_args()
    global CLOCK
    CLOCK = time.thread_time_ns if args.clock == "thread" else time.perf_counter_ns
    if args.json:
        # The SDK scenario changes the working directory: resolve the output path first.
        args.json = str(Path(args.json).resolve())
    published = load_published(args.published_site)
    payloads = [json.loads(line) for line in FIXTURES.read_text().splitlines() if line.strip()]

    print(f"drift_core {drift_core.__version__} vs published 0.1.9, Python {sys.version.split()[0]}")
    rows = bench_functions(published, payloads, args.budget)
    report(rows)
    push = bench_push_span(payloads, rounds=200)
    print(
        f"\nRingExporter.push_span, 2 KB span ({push['span_text_bytes']} bytes of text): "
        f"median {push['push_span_2kb_median_ns']:.0f} ns/span (p10 {push['push_span_2kb_p10_ns']:.0f} ns), "
        f"drops {push['dropped']}"
    )
    on_end = bench_sdk_on_end(published, payloads, spans=600)
    if on_end:
        print(
            "SDK TdSpanProcessor.on_end per 2 KB span (median): "
            f"stock+0.1.9 {fmt_ns(on_end['stock_published_ns']).strip()}, "
            f"stock+ours {fmt_ns(on_end['stock_ours_ns']).strip()}, "
            f"ring hookup {fmt_ns(on_end['ring_ns']).strip()} "
            f"({on_end['stock_published_ns'] / on_end['ring_ns']:.0f}x cheaper than stock+0.1.9)"
        )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "functions": [
                        {"function": n, "size": s, "ours_ns": o, "published_ns": t, "ratio": t / o}
                        for n, s, o, t in rows
                    ],
                    "push_span": push,
                    "sdk_on_end": on_end,
                },
                indent=2,
                default=str,
            )
        )


if __name__ == "__main__":
    main()
