"""End-to-end benchmark: what the SDK costs a real service per request, in each export mode.

Two services, each recorded by its published SDK in RECORD mode: Flask under gunicorn (2 workers,
`service.py`, tusk-drift-python-sdk) and node:http in 2 cluster workers (`node_service.js`,
@use-tusk/drift-node-sdk). Each request makes one outbound call to a local upstream server with a
~2 KB or ~20 KB JSON body, or a base64 body; spans go to a mock Tusk backend on 127.0.0.1 that
decodes every ExportSpansRequest. Modes:

  off              the SDK not initialized (the baseline)
  stock-published  Python: the SDK's stock export path on the published drift-core-python 0.1.9
  stock-ours       Python: the SDK's stock export path on our drift_core (the drop-in)
  stock            Node: the SDK's stock export path (SDK 0.1.27 does not load a native core)
  ring-inprocess   spans go through drift-core's ring to an in-process exporter thread
  ring-sidecar     the workers only write their rings, `drift-exporter run` delivers

Each mode gets the same closed-loop load (the same numbered requests, CONNECTIONS at a time). It
reports requests/s, p50/p90/p99 latency, CPU per request of all the service's processes (gunicorn
master and workers, and the sidecar), and the overhead of each mode over "off". It checks that
every span the service ended is accounted for: delivered exactly once or, in the ring modes,
counted as dropped by the exporters (each worker writes its exporter's final health snapshot when
it exits; `queue_full` under overload is reported, not failed), so a span neither delivered nor
counted is "lost" and fails the run; and that the recorded hashes equal the stock path's. Only
those checks decide the exit status; the timings are figures to read (ratios within one run).

Run through benches/e2e/run.sh, which prepares the venvs; argv: see --help.
"""

from __future__ import annotations

import argparse
import base64
import collections
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
EXPORT_PATH = "/api/drift/tusk.drift.backend.v1.SpanExportService/ExportSpans"
SUCCESS = b"\x08\x01"  # ExportSpansResponse{success: true}
CLK_TCK = os.sysconf("SC_CLK_TCK")
DEADLINE_S = 120.0
# How long delivery may make no progress before the bench stops the service (whose shutdown then
# delivers or counts what is left). Only bounds the wait: the verdict comes from the counters.
STALL_S = 10.0


# ---- request and response bodies (deterministic: the same in every mode) ----------------------------


def body_for(kind: str, number: int, side: str) -> dict[str, Any]:
    """A JSON body of about 2 KB / 20 KB of mixed fields, or a base64 blob, from a fixed seed."""
    rng = random.Random(f"{kind}/{number}/{side}")
    if kind == "b64":
        return {"id": number, "encoding": "base64", "data": base64.b64encode(rng.randbytes(1536)).decode()}
    items = 10 if kind == "2k" else 100
    return {
        "id": number,
        "side": side,
        "items": [
            {
                "sku": f"SKU-{rng.randrange(10**8):08d}",
                "name": "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(60)),
                "price": round(rng.uniform(0, 1000), 2),
                "qty": rng.randrange(1, 20),
                "ok": rng.random() < 0.5,
                "tags": [f"t{rng.randrange(100)}" for _ in range(3)],
            }
            for _ in range(items)
        ],
    }


# ---- the upstream server and the mock backend -----------------------------------------------------


def answer(handler: BaseHTTPRequestHandler, content_type: str, payload: bytes) -> None:
    """A 200 response in one write: split into two small segments it would meet Nagle's algorithm
    and the client's delayed ACK, 40 ms that would dwarf what is measured. No Date or Server
    header, so what the service records of it is the same in every mode."""
    head = f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {len(payload)}\r\n\r\n"
    handler.wfile.write(head.encode() + payload)


def serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    """Starts a threaded HTTP/1.1 server on an ephemeral port of 127.0.0.1; returns it and its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class Upstream:
    """Answers POST /quote/<n>?body=K with a deterministic JSON body (`answer`: no Date header, so
    the client spans' recorded responses are the same in every mode)."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                path, _, query = self.path.partition("?")
                number = int(path.rsplit("/", 1)[1])
                kind = query.partition("=")[2] or "2k"
                payload = json.dumps(body_for(kind, number, "upstream"), separators=(",", ":")).encode()
                answer(self, "application/json", payload)

            def log_message(self, *args: Any) -> None:
                pass

        self._server, self.url = serve(Handler)


def wire_fields(buf: bytes, start: int, end: int):
    """The fields of the protobuf message in buf[start:end]: (number, wire type, value), a varint's
    value as an int and a length-delimited field's as its (start, end). Raises on malformed input."""
    pos = start
    while pos < end:
        key, pos = varint(buf, pos)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, pos = varint(buf, pos)
            yield number, wire_type, value
        elif wire_type == 2:
            length, pos = varint(buf, pos)
            if pos + length > end:
                raise ValueError("a length-delimited field runs past its message")
            yield number, wire_type, (pos, pos + length)
            pos += length
        elif wire_type in (1, 5):
            pos += 8 if wire_type == 1 else 4
        else:
            raise ValueError(f"unsupported wire type {wire_type}")
    if pos != end:
        raise ValueError("a field runs past its message")


def varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


# tusk.drift.core.v1.Span: the fields the checks read (the values and schemas are skipped).
SPAN_KEY_FIELDS = {1: 0, 2: 1, 17: 2, 4: 3, 15: 4, 16: 5, 13: 6, 14: 7}
SPANS_FIELD = 5  # ExportSpansRequest.spans


def span_rows(body: bytes) -> list[tuple[Any, ...]]:
    """The spans of an ExportSpansRequest as (trace_id, span_id, kind, name, input/output value
    hash, input/output schema hash). A wire-format walk that skips the span values instead of
    building them (betterproto takes seconds per 20 KB-bodied batch under load, in this same
    process as the load generator: a mock that slow would be the bottleneck measured)."""
    rows = []
    for number, wire_type, value in wire_fields(body, 0, len(body)):
        if number != SPANS_FIELD or wire_type != 2:
            continue
        row: list[Any] = ["", "", 0, "", "", "", "", ""]
        for field, field_type, field_value in wire_fields(body, *value):
            slot = SPAN_KEY_FIELDS.get(field)
            if slot is None:
                continue
            row[slot] = field_value if field_type == 0 else body[field_value[0]:field_value[1]].decode()
        rows.append(tuple(row))
    return rows


class Backend:
    """The Tusk backend's ExportSpans endpoint: decodes each request's spans and keeps their keys."""

    def __init__(self) -> None:
        self.spans: list[tuple[Any, ...]] = []
        self.cond = threading.Condition()
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    import gzip

                    body = gzip.decompress(body)
                rows = span_rows(body)
                with backend.cond:
                    backend.spans.extend(rows)
                    backend.cond.notify_all()
                answer(self, "application/protobuf", SUCCESS)

            def log_message(self, *args: Any) -> None:
                pass

        self._server, self.url = serve(Handler)

    def take(self) -> list[tuple[Any, ...]]:
        with self.cond:
            spans, self.spans = self.spans, []
            return spans

    def wait_for(self, count: int, timeout: float, stall: float = STALL_S) -> int:
        """Waits until `count` spans arrived, no span arrived for `stall` seconds (the rest were
        dropped, or wait in a ring for the shutdown), or `timeout`; returns how many arrived."""
        deadline = time.monotonic() + timeout
        with self.cond:
            seen, progress_at = len(self.spans), time.monotonic()
            while len(self.spans) < count:
                now = time.monotonic()
                if len(self.spans) != seen:
                    seen, progress_at = len(self.spans), now
                left = min(deadline, progress_at + stall) - now
                if left <= 0:
                    break
                self.cond.wait(min(left, 1.0))
            return len(self.spans)


# ---- processes ------------------------------------------------------------------------------------


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / CLK_TCK


def all_descendants(pid: int) -> list[int]:
    """The process tree under `pid` (gunicorn's or cluster's workers), from /proc's children lists."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").iterdir():
            for child in (task / "children").read_text().split():
                found.append(int(child))
                todo.append(int(child))
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the service exited with {proc.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)  # polling a port for readiness; no result depends on this pause
    raise RuntimeError(f"the service did not listen on {port} within {timeout} s")


def read_health(directory: Path) -> list[dict[str, Any]]:
    """The ring exporters' final health snapshots, one per worker (written at its exit by
    gunicorn_conf.worker_exit / node_service.js), with Node's camelCase names made snake_case."""

    def snake(name: str) -> str:
        return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)

    def normalized(value: Any) -> Any:
        return {snake(k): normalized(v) for k, v in value.items()} if isinstance(value, dict) else value

    return [normalized(json.loads(path.read_text())) for path in sorted(directory.glob("health-*.json"))]


def span_accounting(health: list[dict[str, Any]]) -> dict[str, Any]:
    """The workers' counters summed: spans pushed into the rings, exported, dropped (by reason),
    and still in flight (in a ring, unconfirmed) when the worker exited."""
    dropped: collections.Counter[str] = collections.Counter()
    for snapshot in health:
        dropped.update({reason: count for reason, count in snapshot["dropped"].items() if count})
    return {
        "workers_reporting": len(health),
        "pushed": sum(h["pushed"] + h.get("recovered", 0) for h in health),
        "exported": sum(h["exported"] for h in health),
        "dropped": dict(dropped),
        "dropped_total": sum(h["dropped_total"] for h in health),
        "in_flight_at_exit": sum(h["in_flight"] for h in health),
        "shutdown_settled": all(h.get("shutdown_settled", True) for h in health),
        "queue_capacity_bytes": max((h["queue_capacity_bytes"] for h in health), default=0),
        "batches": sum(h["batches"] for h in health),
        "bytes_sent": sum(h["bytes_sent"] for h in health),
        "last_export_latency_ms": max((h["last_export_latency_ms"] for h in health), default=0.0),
    }


# ---- load -----------------------------------------------------------------------------------------


def run_load(port: int, kind: str, numbers: range, connections: int) -> tuple[list[float], float]:
    """Closed loop: `connections` clients, each sending the next numbered request when its last
    one is answered. Returns per-request latencies (ms) and the wall time."""
    bodies = {n: json.dumps(body_for(kind, n, "client"), separators=(",", ":")).encode() for n in numbers}
    todo = iter(numbers)
    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine: list[float] = []
        while True:
            with lock:
                number = next(todo, None)
            if number is None:
                break
            start = time.perf_counter_ns()
            conn.request("POST", f"/order/{number}?body={kind}", body=bodies[number], headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            mine.append((time.perf_counter_ns() - start) / 1e6)
            if response.status != 200:
                errors.append(f"request {number}: HTTP {response.status}")
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(connections)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"{len(errors)} failed requests, first: {errors[0]}")
    return latencies, wall


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ---- one mode -------------------------------------------------------------------------------------


PYTHON_MODES = "off,stock-published,stock-ours,ring-inprocess,ring-sidecar"
NODE_MODES = "off,stock,ring-inprocess,ring-sidecar"
REFERENCE = {"python": "stock-ours", "node": "stock"}


def service_command(service: str, mode: str, args: argparse.Namespace, port: int) -> tuple[list[str], dict[str, str]]:
    """The service's command line and its mode's environment."""
    if service == "python":
        python = args.python_published if mode == "stock-published" else args.python_ours
        env = {"TUSK_USE_RUST_CORE": "1", "PYTHONPATH": str(HERE)}
        if mode == "ring-inprocess":
            env["TUSK_RING_EXPORTER"] = "1"
        if mode == "ring-sidecar":
            env["TUSK_RING_EXPORTER"] = "sidecar"
        return [python, "-m", "gunicorn", "-c", str(HERE / "gunicorn_conf.py"), "-b", f"127.0.0.1:{port}", "service:app"], env
    env = {"E2E_PORT": str(port), "E2E_SDK_PATH": args.node_sdk, "E2E_ADDON_DIR": args.node_addon_dir}
    if mode.startswith("ring-"):
        env["E2E_RING"] = mode.removeprefix("ring-")
    return [args.node, str(HERE / "node_service.js")], env


def run_mode(service: str, variant: str, args: argparse.Namespace, kind: str, backend: Backend, upstream: Upstream, port: int) -> dict[str, Any]:
    # A variant is a mode with exporter options of its own, to compare settings in one run:
    # "ring-inprocess:TUSK_X=1;TUSK_Y=2".
    mode, _, variant_env = variant.partition(":")
    sdk_on = mode != "off"
    with tempfile.TemporaryDirectory(prefix=f"e2e-{service}-{mode}-") as tmp:
        project = Path(tmp)
        # The SDKs find their project (and .tusk/config.yaml) by the working directory's manifest.
        (project / "pyproject.toml").write_text("[project]\nname = 'e2e-bench'\nversion = '0'\n")
        (project / "package.json").write_text('{"name": "e2e-bench", "version": "1.0.0"}\n')
        (project / ".tusk").mkdir()
        (project / ".tusk" / "config.yaml").write_text(
            "service:\n  id: svc-e2e-bench\n  name: e2e-bench\n"
            f"recording:\n  export_spans: true\n  sampling_rate: 1.0\ntusk_api:\n  url: {backend.url}\n"
        )
        command, mode_env = service_command(service, mode, args, port)
        env = {k: v for k, v in os.environ.items() if not k.startswith("TUSK_")}
        env.update(
            {
                "E2E_SDK": "on" if sdk_on else "off",
                "E2E_UPSTREAM_URL": upstream.url,
                "TUSK_DRIFT_MODE": "RECORD" if sdk_on else "DISABLED",
                "TUSK_API_KEY": "e2e-bench-key",
                "TUSK_RING_DIR": str(project / "rings"),
                "E2E_HEALTH_DIR": str(project / "health"),
            }
        )
        (project / "health").mkdir()
        env.update(mode_env)
        if mode.startswith("ring-"):
            env.update(args.exporter_env)
            env.update(item.split("=", 1) for item in variant_env.split(";") if item)
        sidecar = None
        if mode == "ring-sidecar":
            (project / "rings").mkdir(mode=0o700)
            sidecar = subprocess.Popen(
                [args.sidecar, "run", "--sink", "api", "--api-url", backend.url, "--api-key", "e2e-bench-key",
                 "--ring-dir", str(project / "rings"), "--observable-service-id", "svc-e2e-bench"],
                env=env, stdout=subprocess.DEVNULL, stderr=open(project / "sidecar.log", "wb"),
            )
        service_proc = subprocess.Popen(
            command, cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=open(project / "service.log", "wb")
        )
        try:
            try:
                wait_listening(port, service_proc, DEADLINE_S)
            except RuntimeError as error:
                log = (project / "service.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{service}/{mode}: {error}; its stderr:\n{log}") from None
            backend.take()
            warm = range(0, args.warmup)
            run_load(port, kind, warm, args.connections)
            measured = range(args.warmup, args.warmup + args.requests)
            pids = [service_proc.pid, *all_descendants(service_proc.pid)] + ([sidecar.pid] if sidecar else [])
            cpu_before = cpu_seconds(pids)
            latencies, wall = run_load(port, kind, measured, args.connections)
            expected = 2 * (args.warmup + args.requests) if sdk_on else 0
            # CPU until the spans of the measured requests are delivered (the exporters' share).
            if sdk_on:
                backend.wait_for(expected, DEADLINE_S)
            cpu_after = cpu_seconds(pids)
        finally:
            service_proc.send_signal(signal.SIGTERM)
            try:
                service_proc.wait(DEADLINE_S)
            except subprocess.TimeoutExpired:
                service_proc.kill()
                service_proc.wait()
            if sidecar is not None:
                # The workers' shutdown waited for the sidecar to confirm what they pushed.
                sidecar.send_signal(signal.SIGTERM)
                try:
                    sidecar.wait(DEADLINE_S)
                except subprocess.TimeoutExpired:
                    sidecar.kill()
                    sidecar.wait()
        spans = backend.take()
        accounting = span_accounting(read_health(project / "health")) if mode.startswith("ring-") else None
        if service_proc.returncode not in (0, -signal.SIGTERM):
            log = (project / "service.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{service}/{mode}: the service exited with {service_proc.returncode}:\n{log}")
    ids = collections.Counter((s[0], s[1]) for s in spans)
    return {
        "service": service,
        "mode": variant,
        "body": kind,
        "requests": len(latencies),
        "rps": len(latencies) / wall,
        "p50": percentile(latencies, 0.50),
        "p90": percentile(latencies, 0.90),
        "p99": percentile(latencies, 0.99),
        "mean": statistics.fmean(latencies),
        "cpu_ms_per_request": 1000 * (cpu_after - cpu_before) / len(latencies),
        "spans_expected": expected,
        "spans_unique": len(ids),
        "spans_duplicated": sum(count - 1 for count in ids.values()),
        "accounting": accounting,
        "hash_keys": sorted(hash_key(s) for s in spans),
    }


def hash_key(span: tuple[Any, ...]) -> tuple[Any, ...]:
    """What must equal the stock path's: kind, name and both schema hashes of every span, and the
    input and output value hashes of CLIENT spans (the service sends the upstream the same request
    and the upstream answers the same bytes in every mode). A SERVER span's values differ by nature
    from run to run: its input records the client's port, its output the response's Date header."""
    _, _, kind, name, in_hash, out_hash, in_schema, out_schema = span
    client = kind == 3  # SpanKind.CLIENT in tusk.drift.core.v1
    return (kind, name, in_schema, out_schema, in_hash if client else "", out_hash if client else "")


# ---- report ---------------------------------------------------------------------------------------


def completeness_problems(r: dict[str, Any]) -> list[str]:
    """Every span the service ended is delivered exactly once, or (ring modes) counted as dropped
    by the exporters: delivered + dropped == ended. A span neither delivered nor counted is lost
    silently, the failure this checks for; counted drops (ring full under overload) are reported,
    not failed."""
    where = f"{r['service']}/{r['body']}/{r['mode']}"
    problems = []
    if r["spans_duplicated"]:
        problems.append(f"{where}: {r['spans_duplicated']} spans delivered more than once")
    accounting = r["accounting"]
    dropped = 0
    if accounting is not None:
        if accounting["workers_reporting"] != 2:
            problems.append(f"{where}: {accounting['workers_reporting']} of 2 workers reported their exporter's counters")
        if accounting["pushed"] != r["spans_expected"]:
            problems.append(f"{where}: the exporters saw {accounting['pushed']} spans pushed, the service ended {r['spans_expected']}")
        dropped = accounting["dropped_total"]
    lost = r["spans_expected"] - r["spans_unique"] - dropped
    if lost > 0:
        problems.append(f"{where}: {lost} spans lost silently ({r['spans_unique']} delivered, {dropped} counted as dropped, of {r['spans_expected']})")
    elif lost < 0:
        problems.append(f"{where}: {r['spans_unique']} delivered + {dropped} counted as dropped exceeds the {r['spans_expected']} ended")
    return problems


def hashes_match(r: dict[str, Any], reference: dict[str, Any]) -> tuple[bool, str]:
    """The recorded hashes equal the reference mode's; with counted drops, every delivered span's
    hashes are among the reference's (the dropped ones are missing by design)."""
    ours = collections.Counter(r["hash_keys"])
    theirs = collections.Counter(reference["hash_keys"])
    accounting = r["accounting"]
    partial = accounting is not None and accounting["dropped_total"] > 0
    extra = ours - theirs
    if not extra and (partial or ours == theirs):
        return True, ""
    example = next(iter(extra), None)
    missing = next(iter(theirs - ours), None)
    return False, f"{sum(extra.values())} recorded spans differ, e.g. {example} where the reference has {missing}"


def dropped_text(r: dict[str, Any]) -> str:
    accounting = r["accounting"]
    if accounting is None:
        return "—"
    if not accounting["dropped_total"]:
        return "0"
    return " ".join(f"{reason} {count}" for reason, count in sorted(accounting["dropped"].items()))


def report(results: list[dict[str, Any]]) -> tuple[str, list[str]]:
    problems: list[str] = []
    lines = [
        "| service | body | mode | req/s | p50 ms | p90 ms | p99 ms | CPU ms/req | added p50 ms | added CPU ms/req | delivered (ended) | dropped, counted | lost | dup | hashes = stock |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for service, kind in dict.fromkeys((r["service"], r["body"]) for r in results):
        rows = {r["mode"]: r for r in results if r["body"] == kind and r["service"] == service}
        off = rows.get("off")
        reference = rows.get(REFERENCE[service])
        for mode, r in rows.items():
            added_p50 = r["p50"] - off["p50"] if off else float("nan")
            added_cpu = r["cpu_ms_per_request"] - off["cpu_ms_per_request"] if off else float("nan")
            same = "—"
            lost: Any = "—"
            if mode != "off":
                problems.extend(completeness_problems(r))
                dropped = r["accounting"]["dropped_total"] if r["accounting"] else 0
                lost = r["spans_expected"] - r["spans_unique"] - dropped
            if mode != "off" and reference is not None:
                match, why = hashes_match(r, reference)
                same = "yes" if match else "NO"
                if not match:
                    problems.append(f"{service}/{kind}/{mode}: {why} ({REFERENCE[service]} is the reference)")
            lines.append(
                f"| {service} | {kind} | {mode} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p90']:.2f} | {r['p99']:.2f} | "
                f"{r['cpu_ms_per_request']:.2f} | {added_p50:.2f} | {added_cpu:.2f} | "
                f"{r['spans_unique']} ({r['spans_expected']}) | {dropped_text(r) if mode != 'off' else '—'} | {lost} | "
                f"{r['spans_duplicated']} | {same} |"
            )
    return "\n".join(lines), problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", default="python,node")
    parser.add_argument("--python-ours", help="python of a venv with our drift_core, the SDK, Flask, gunicorn")
    parser.add_argument("--python-published", help="the same with drift-core-python 0.1.9")
    parser.add_argument("--node", default="node")
    parser.add_argument("--node-sdk", help="path of @use-tusk/drift-node-sdk (its package directory)")
    parser.add_argument("--node-addon-dir", help="our @use-tusk/drift-core-node package directory, built")
    parser.add_argument("--sidecar", required=True, help="path of the drift-exporter binary")
    parser.add_argument("--bodies", default="2k,20k,b64")
    parser.add_argument("--python-modes", default=PYTHON_MODES)
    parser.add_argument("--node-modes", default=NODE_MODES)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--json-out", type=Path)
    parser.add_argument(
        "--exporter-env", action="append", default=[], metavar="TUSK_X=V",
        help="an exporter option for the ring modes' services and sidecar (repeatable), e.g. TUSK_RING_CAPACITY_BYTES=16777216",
    )
    args = parser.parse_args()
    args.exporter_env = dict(item.split("=", 1) for item in args.exporter_env)

    upstream = Upstream()
    backend = Backend()
    port = free_port()
    results = []
    for service in args.services.split(","):
        modes = args.python_modes if service == "python" else args.node_modes
        for kind in args.bodies.split(","):
            for mode in modes.split(","):
                print(f"[e2e] {service} {kind} {mode} ...", file=sys.stderr, flush=True)
                results.append(run_mode(service, mode, args, kind, backend, upstream, port))
    table, problems = report(results)
    print(table)
    if args.json_out:
        args.json_out.write_text(json.dumps([{k: v for k, v in r.items() if k != "hash_keys"} for r in results], indent=2))
    for problem in problems:
        print(f"FAILED: {problem}")
    print(f"e2e: {len(results)} runs, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
