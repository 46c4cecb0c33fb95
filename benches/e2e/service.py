"""The service the end-to-end benchmark loads: Flask under gunicorn, recorded by the published
tusk-drift-python-sdk in RECORD mode (unless E2E_SDK=off).

`POST /order/<n>?body=2k|20k|b64` reads the JSON request body, makes one outbound HTTP call with
`requests` to the benchmark's upstream server (same body size and kind) and answers with the
upstream's JSON. So every request ends two spans: the inbound SERVER span and the outbound CLIENT
span, both carrying a body of the chosen size.
"""

from __future__ import annotations

import os

if os.environ.get("E2E_SDK", "on") == "on":
    from drift import TuskDrift

    SDK = TuskDrift.initialize(env="e2e-bench")
else:
    SDK = None

# Imported after initialize(), as the SDK asks, so that it instruments them.
import requests  # noqa: E402
from flask import Flask, request  # noqa: E402

UPSTREAM = os.environ["E2E_UPSTREAM_URL"]
app = Flask(__name__)
_session = requests.Session()

if SDK is not None:
    SDK.mark_app_as_ready()


@app.post("/order/<int:number>")
def order(number: int):
    kind = request.args.get("body", "2k")
    payload = request.get_json()
    upstream = _session.post(f"{UPSTREAM}/quote/{number}?body={kind}", json=payload, timeout=30)
    return app.response_class(upstream.content, status=upstream.status_code, mimetype="application/json")
