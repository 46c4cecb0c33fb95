"""A plain application process for the crash tests: `python crash_app.py MODE RING_DIR TRACES N`.

hold:    an in-process RingExporter (file sink, a ten-minute schedule delay, so nothing is
         exported on a timer) gets N spans, prints `ready <health JSON>` and waits to be killed.
         No signal handler is installed: SIGTERM has its default action.
recover: the next start of the same service: waits until every span a dead predecessor left is
         delivered (force_flush until `exported` reaches N), prints the health and shuts down.
"""

from __future__ import annotations

import json
import sys
import time

import drift_core
from span_helpers import push_args

SERVICE = "svc-crash"


def main() -> None:
    mode, ring_dir, traces, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    hold = mode == "hold"
    exporter = drift_core.RingExporter(
        sink="file",
        directory=traces,
        ring_dir=ring_dir,
        service_id=SERVICE,
        schedule_delay_millis=600_000 if hold else 20,
        max_export_batch_size=100_000 if hold else 50,
        max_export_batch_bytes=(64 << 20) if hold else (1 << 20),
    )
    if hold:
        for index in range(count):
            assert exporter.push_span(*push_args(index)) is True
        print("ready " + json.dumps(exporter.health_snapshot()), flush=True)
        while True:
            time.sleep(3600)
    # A generous deadline: only turns a hang into a failure.
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if exporter.force_flush(60) and exporter.health_snapshot()["exported"] >= count:
            break
    health = exporter.health_snapshot()
    ok = exporter.shutdown(60)
    print(json.dumps({"health": health, "shutdown": ok}), flush=True)


if __name__ == "__main__":
    main()
