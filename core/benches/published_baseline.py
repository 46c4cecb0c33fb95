#!/usr/bin/env python3
"""Throughput of the published drift-core-python 0.1.9 on the fixture size classes, for comparison
with `cargo bench -p drift-core-rs --bench core` (same payload texts, CPU time of this process).

    python3 -m venv "$VENV" && "$VENV/bin/pip" install drift-core-python==0.1.9
    "$VENV/bin/python" core/benches/published_baseline.py
"""

import base64
import json
import os
import time

import drift_core

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "..", "tests", "fixtures", "span_payloads.jsonl")


def load():
    classes = {}
    with open(FIXTURES, encoding="utf-8") as f:
        for raw in f:
            raw = raw.rstrip("\n")
            rec = json.loads(raw)
            start = raw.index('"value": ') + len('"value": ')
            end = raw.rindex(', "schema_merges": ')
            merges = None if rec["schema_merges"] is None else json.dumps(rec["schema_merges"])
            classes.setdefault(rec["size_class"], []).append((raw[start:end], merges))
    return classes


def measure(fn, items, min_seconds=1.0):
    total_bytes = sum(len(t.encode()) for t, _ in items)
    rounds = 0
    start = time.process_time()
    while True:
        for text, merges in items:
            fn(text, merges)
        rounds += 1
        elapsed = time.process_time() - start
        if elapsed >= min_seconds:
            return total_bytes * rounds / elapsed / (1024 * 1024)


def main():
    classes = load()
    print(f"{'class':6s} {'normalize_and_hash':>20s} {'process_export_payload':>24s}  (MiB/s, CPU time)")
    for name in ("200b", "2k", "20k", "200k"):
        items = classes[name]
        nh = measure(lambda t, m: drift_core.normalize_and_hash(t), items)
        pe = measure(lambda t, m: drift_core.process_export_payload(t, m), items)
        print(f"{name:6s} {nh:20.1f} {pe:24.1f}")
    spans = []
    for text, merges in classes["2k"]:
        r = drift_core.process_export_payload(text, merges)
        spans.append(drift_core.build_span_proto_bytes_pyobject(
            "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "", "GET /api/v1/users", "http",
            "HttpInstrumentation", "GET", 1, "production", 2, None, None, r[4], "", r[2], "", 1, "",
            False, True, 1763700000, 1, 0, 5000000, None, None, None, bytes(r[5]), None))
    spans = (spans * 64)[:512]
    rounds, start = 0, time.process_time()
    while time.process_time() - start < 1.0:
        drift_core.build_export_spans_request_bytes_pyobject("svc", "production", "0.2.0", "instance", spans)
        rounds += 1
    per_call = (time.process_time() - start) / rounds
    print(f"build_export_spans_request_bytes, 512 spans of 2k: {per_call * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
