"""RingExporter.push_span and ._push_sdk_span per call (a 2 KB fixture span), for whichever
drift_core the interpreter imports: run it with two interpreters (two builds) to compare them.
Prints the median of 200-call batch averages in ns.

    python benches/python/bench_push_span.py [rounds]
"""

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import drift_core

root = Path(__file__).resolve().parents[2]
payloads = [json.loads(l) for l in (root / "tests/fixtures/span_payloads.jsonl").read_text().splitlines() if l.strip()]
payload = next(p for p in payloads if p["size_class"] == "2k")
value = json.dumps(payload["value"])
merges = json.dumps(payload["schema_merges"]) if payload.get("schema_merges") is not None else None
fields = ["name", "package_name", "instrumentation_name", "submodule_name", "is_pre_app_start", "is_root_span",
          "input_value_json", "output_value_json", "input_schema_merges_json", "output_schema_merges_json",
          "metadata_json", "transform_metadata_json", "stack_trace"]
attr = {f: "td." + f for f in fields}
if hasattr(drift_core, "_SdkAttributeKeys"):
    keys = drift_core._SdkAttributeKeys(**attr)
else:
    keys = tuple(attr[f] for f in fields)
attributes = {"td.name": "GET /users", "td.package_name": "requests", "td.instrumentation_name": "RequestsInstrumentation",
              "td.submodule_name": "GET", "td.input_value_json": value, "td.output_value_json": '{"status": 200}',
              "td.input_schema_merges_json": merges, "td.metadata_json": '{"sdk": "python"}'}
attributes = {k: v for k, v in attributes.items() if v is not None}

calls = []
with drift_core.RingExporter(sink=lambda b: None, ring_dir=tempfile.mkdtemp(), ring_capacity_bytes=64 << 20,
                             schedule_delay_millis=200) as exporter:
    push = lambda: exporter.push_span("a" * 32, "b" * 16, "", "GET /users", "requests", "RequestsInstrumentation", "GET",
                                      1, 3, 1, "", False, False, 1_000_000_000, 2_000_000_000, value, '{"status": 200}',
                                      merges, None, '{"sdk": "python"}', "env")
    sdk = lambda: exporter._push_sdk_span(attributes, keys, "a" * 32, "b" * 16, "", "otel", 1, 3, 1, "",
                                          1_000_000_000, 2_000_000_000, "env", 1 << 20)
    samples = {"push_span": [], "_push_sdk_span": []}
    for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 100):
        for name, fn in (("push_span", push), ("_push_sdk_span", sdk)):
            n = 200
            t0 = time.perf_counter_ns()
            for _ in range(n):
                fn()
            samples[name].append((time.perf_counter_ns() - t0) / n)
        exporter.force_flush(30)
    assert sdk() == 0
print(json.dumps({k: round(statistics.median(v)) for k, v in samples.items()}))
