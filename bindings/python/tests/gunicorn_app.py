"""A WSGI app for the gunicorn --preload test: the exporter is created at import, in the
master process, before the workers are forked; every request pushes one span."""

from __future__ import annotations

import json
import os
import time
from urllib.parse import parse_qs

import drift_core

EXPORTER = drift_core.RingExporter(
    sink="api",
    url=os.environ["DRIFT_TEST_BACKEND"],
    api_key="gunicorn-key",
    service_id="svc-gunicorn",
    environment="gunicorn",
    sdk_version="1.0.0",
    sdk_instance_id="gunicorn-test",
    ring_dir=os.environ["DRIFT_TEST_RING_DIR"],
    schedule_delay_millis=20,
)
MASTER_PID = os.getpid()


def app(environ, start_response):
    request_id = int(parse_qs(environ.get("QUERY_STRING", "")).get("id", ["0"])[0])
    now = time.time_ns()
    pushed = EXPORTER.push_span(
        f"{request_id:032x}",
        f"{request_id:016x}",
        "",
        f"GET /item/{request_id}",
        "http",
        "WsgiInstrumentation",
        "GET",
        1,
        2,
        1,
        "",
        False,
        True,
        now,
        now + 1000,
        json.dumps({"method": "GET", "target": f"/item?id={request_id}"}),
        json.dumps({"status": 200}),
        None,
        None,
        json.dumps({"pid": os.getpid(), "master": MASTER_PID}),
        "gunicorn",
    )
    body = b"pushed" if pushed else b"dropped"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
