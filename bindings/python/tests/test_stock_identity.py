"""Issue 14: the ring path records what tusk-drift-python-sdk 0.1.29's stock path records, field
for field. A real Flask service under the SDK (flask_identity_app.py) gets the same deterministic
requests twice, on the stock path and on the ring (``TUSK_RING_EXPORTER=1``); the trace files
(text and names) and the ExportSpansRequests a mock backend on 127.0.0.1 receives (decoded with
the tusk-drift-schemas types) are diffed. Only what differs by nature may differ: trace and span
ids, timestamps, durations, the file names' time, the SDK instance id."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from conftest import TESTS_DIR
from mock_backend import MockBackend

pytest.importorskip("flask")
pytest.importorskip("drift")

REQUESTS = 3
BY_NATURE = ("trace_id", "span_id", "parent_span_id", "timestamp", "duration")
# `datetime.now(timezone.utc).isoformat()` with `:` and `.` replaced by `-` (no microseconds
# part when they are 0).
FILE_NAME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d(-\d{6})?\+00-00_trace_([0-9a-f]{32})\.jsonl$")


class Downstream:
    """The app's outbound calls go here: a JSON answer whose numbers are written 1.50, 0.0, with
    fixed headers (no Date or Server header, which would differ between runs)."""

    BODY = b'{"currency":"EUR","rate":1.50,"fees":[0.0,2.0],"b":{"y":1e-7,"x":123456789012345680000}}'

    def __init__(self) -> None:
        body = self.BODY

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.send_response_only(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.port = self._server.server_address[1]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def downstream():
    server = Downstream()
    yield server
    server.close()


def run_app(
    project: Path,
    downstream: Downstream,
    *,
    ring: bool,
    backend: MockBackend | None = None,
    extra_env: dict[str, str] | None = None,
) -> dict:
    tusk = project / ".tusk"
    tusk.mkdir(parents=True, exist_ok=True)
    # The SDK finds its project (and .tusk/config.yaml) by the nearest pyproject.toml.
    (project / "pyproject.toml").write_text("[project]\nname = 'identity-app'\nversion = '0'\n")
    config = "service:\n  id: svc-identity\n  name: identity\n"
    if backend is not None:
        config += f"recording:\n  export_spans: true\ntusk_api:\n  url: {backend.url}\n"
    (tusk / "config.yaml").write_text(config)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUSK_")}
    env.update(
        {
            "TUSK_DRIFT_MODE": "RECORD",
            "TUSK_API_KEY": "identity-key",
            "DRIFT_TEST_DOWNSTREAM_PORT": str(downstream.port),
            "DRIFT_TEST_APP_SOCKET": str(project / "app.sock"),
        }
    )
    if ring:
        env["TUSK_RING_EXPORTER"] = "1"
        env["TUSK_RING_DIR"] = str(project / "rings")
    env.update(extra_env or {})
    started = time.monotonic()
    completed = subprocess.run(
        [os.environ.get("DRIFT_TEST_PYTHON") or "python3", str(TESTS_DIR / "flask_identity_app.py")],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["ring"] is ring
    assert report["flushed"] is True
    report["stderr"] = completed.stderr
    report["seconds"] = time.monotonic() - started
    return report


def mask_line(line: str) -> str:
    """A trace file line with its by-nature values masked, every other byte kept."""
    line = re.sub(r'"(traceId|spanId|parentSpanId)": "[0-9a-f]*"', r'"\1": "<id>"', line)
    return re.sub(r'"(timestamp|duration)": \{"seconds": \d+, "nanos": \d+\}', r'"\1": "<time>"', line)


def ordered(spans: list[dict], name_key: str, parent_key: str, trace_key: str, kind_key: str) -> list[dict]:
    """Spans in a stable order: by their root span's name (the request), root first, then by
    name and kind."""
    roots = {span[trace_key]: span[name_key] for span in spans if not span.get(parent_key)}

    def key(span: dict) -> tuple:
        return (roots.get(span[trace_key], ""), bool(span.get(parent_key)), span[name_key], span[kind_key])

    return sorted(spans, key=key)


def read_trace_files(project: Path) -> list[tuple[str, list[str]]]:
    traces = project / ".tusk" / "traces"
    return [(path.name, path.read_text(encoding="utf-8").split("\n")) for path in sorted(traces.glob("*.jsonl"))]


def test_file_sink_trace_files_equal_the_stock_path(tmp_path, downstream):
    run_app(tmp_path / "stock", downstream, ring=False)
    ring = run_app(tmp_path / "ring", downstream, ring=True)
    assert ring["health"]["dropped_total"] == 0

    def lines_of(project: Path) -> list[tuple[str, dict]]:
        files = read_trace_files(project)
        assert len(files) == REQUESTS
        out = []
        for name, lines in files:
            match = FILE_NAME.match(name)
            assert match, name
            assert lines.pop() == "", f"{name} ends with a newline"
            for line in lines:
                span = json.loads(line)
                assert span["traceId"] == match.group(2)
                out.append((line, span))
        return out

    stock_lines = lines_of(tmp_path / "stock")
    ring_lines = lines_of(tmp_path / "ring")
    # Each request: the SERVER span and the CLIENT span of its outbound call.
    assert len(stock_lines) == 2 * REQUESTS
    assert len(ring_lines) == len(stock_lines)

    def order(entries):
        by_id = {id(span): line for line, span in entries}
        spans = ordered([span for _, span in entries], "name", "parentSpanId", "traceId", "kind")
        return [(by_id[id(span)], span) for span in spans]

    for (want_line, want), (got_line, got) in zip(order(stock_lines), order(ring_lines)):
        assert mask_line(got_line) == mask_line(want_line), want["name"]
        assert bool(got["parentSpanId"]) == bool(want["parentSpanId"])
        for field in ("traceId", "spanId", "timestamp", "duration"):
            assert type(got[field]) is type(want[field]), field


def test_api_sink_requests_equal_the_stock_path(tmp_path, downstream):
    backend = MockBackend()
    try:
        run_app(tmp_path / "stock", downstream, ring=False, backend=backend)
        with backend._lock:
            stock_requests = [item["request"] for item in backend.requests]
            stock_headers = list(backend.headers)
            backend.requests.clear()
            backend.headers.clear()
        run_app(tmp_path / "ring", downstream, ring=True, backend=backend)
        with backend._lock:
            ring_requests = [item["request"] for item in backend.requests]
            ring_headers = list(backend.headers)
    finally:
        backend.close()
    assert stock_requests and ring_requests
    for request in stock_requests + ring_requests:
        assert request["observable_service_id"] == "svc-identity"
        assert request["environment"] == stock_requests[0]["environment"]
        assert request["sdk_version"] == stock_requests[0]["sdk_version"]
        assert request["sdk_instance_id"]
    for headers in stock_headers + ring_headers:
        assert headers["x-api-key"] == "identity-key"
    stock_spans = ordered([s for r in stock_requests for s in r["spans"]], "name", "parent_span_id", "trace_id", "kind")
    ring_spans = ordered([s for r in ring_requests for s in r["spans"]], "name", "parent_span_id", "trace_id", "kind")
    assert len(stock_spans) == 2 * REQUESTS
    assert len(ring_spans) == len(stock_spans)

    def strip(span: dict) -> dict:
        return {k: v for k, v in span.items() if k not in BY_NATURE}

    for want, got in zip(stock_spans, ring_spans):
        assert strip(got) == strip(want), want["name"]
        assert bool(got.get("parent_span_id")) == bool(want.get("parent_span_id"))
