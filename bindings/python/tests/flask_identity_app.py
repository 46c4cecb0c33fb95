"""A Flask service recorded by the published tusk-drift-python-sdk (RECORD mode), run by
test_stock_identity.py once on the SDK's stock export path and once on the ring
(``TUSK_RING_EXPORTER=1``), with the same deterministic requests.

Every request is traced: an inbound POST with a JSON body whose numbers are written ``0.0``,
``10.50``, ``1e2``, an outbound POST (urllib) to a local server (the test's,
``DRIFT_TEST_DOWNSTREAM_PORT``) and a JSON response written the same way. The service listens on
a Unix socket (``DRIFT_TEST_APP_SOCKET``), so no client port (different in every run) is part of
the recorded inbound request. Prints one JSON line: ``{"ring": bool, "health": {...} | null}``.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import sys
import threading

if os.environ.get("DRIFT_TEST_SDK_VERSION"):
    # The fail-open tests: the installed SDK reporting a version the hook does not know.
    import drift.version

    drift.version.SDK_VERSION = os.environ["DRIFT_TEST_SDK_VERSION"]

from drift import TuskDrift

sdk = TuskDrift.initialize(env="identity-test")

# Imported after initialize(), as the SDK asks, so that it instruments them.
import urllib.request  # noqa: E402

from flask import Flask, request  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

DOWNSTREAM = f"http://127.0.0.1:{os.environ['DRIFT_TEST_DOWNSTREAM_PORT']}/quote?currency=EUR"
SOCKET = os.environ["DRIFT_TEST_APP_SOCKET"]

# Raw JSON texts: the number spellings are the point (0.0, 10.50, 1e2, -0.0, 2.50e-3).
REQUEST_BODIES = [
    '{"id":1,"price":0.0,"qty":10.50,"tags":["a","b"],"nested":{"z":1e2,"a":-0.0}}',
    '{"id":2,"price":2.50e-3,"items":[{"n":1.0},{"n":0.0}],"ok":true,"none":null}',
    '{"10":"ten","2":"two","b":1.5,"a":[],"e":{},"big":12345678901234567890,"tiny":1e-7}',
]

app = Flask(__name__)


@app.post("/orders/<int:number>")
def order(number: int):
    body = request.get_data(as_text=True)
    outbound = urllib.request.Request(
        DOWNSTREAM,
        data=json.dumps({"amount": 0.0, "order": number, "rate": 1.5}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(outbound, timeout=30) as response:
        quote = response.read().decode()
    text = f'{{"ok":true,"total":0.0,"fee":10.50,"quote":{quote},"echo":{body or "null"}}}'
    return app.response_class(text, mimetype="application/json")


class UnixHTTPConnection(http.client.HTTPConnection):
    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(SOCKET)


def main() -> None:
    sdk.mark_app_as_ready()
    server = make_server("unix://" + SOCKET, 0, app)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # One request at a time: the same order of spans in both runs.
    for index, body in enumerate(REQUEST_BODIES):
        connection = UnixHTTPConnection("localhost")
        connection.request("POST", f"/orders/{index}?q={index}", body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        assert response.status == 200, response.status
        connection.close()
    server.shutdown()
    # The server span ended before the response was sent back. Flushing the SDK's span
    # processor hands its queue to the stock exporter; on the ring, the hooked flush also waits
    # for the ring exporter's delivery.
    flushed = TuskDrift.get_instance()._td_span_processor.force_flush(60_000)
    try:
        import drift_core.sdk

        exporter = drift_core.sdk.installed_exporter()
    except ImportError:  # the fail-open test without the native module
        exporter = None
    health = exporter.health_snapshot() if exporter is not None else None
    sys.stdout.write(json.dumps({"ring": exporter is not None, "flushed": flushed, "health": health}, default=str) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
