"""gunicorn settings of the end-to-end benchmark: 2 sync workers, no --preload (the SDK, and with it
the ring hookup, initializes in each worker), as in the issue's measurement."""

import json
import os

workers = 2
worker_class = "sync"
keepalive = 30
accesslog = None
loglevel = "warning"
graceful_timeout = 60


def worker_exit(server, worker):
    """In the exiting worker: shut its ring exporter down (deliver what it holds, or count it) and
    write its final health snapshot to E2E_HEALTH_DIR, so the benchmark can tell spans dropped and
    counted (queue_full, ...) from spans lost silently. Nothing to write on the stock path."""
    directory = os.environ.get("E2E_HEALTH_DIR")
    if not directory:
        return
    try:
        from drift_core.sdk import installed_exporter
    except ImportError:  # the published core: no ring exporter
        return
    exporter = installed_exporter()
    if exporter is None:
        return
    settled = exporter.shutdown(30.0)
    snapshot = dict(exporter.health_snapshot(), shutdown_settled=settled)
    path = os.path.join(directory, f"health-{os.getpid()}.json")
    with open(path + ".tmp", "w") as out:
        json.dump(snapshot, out)
    os.replace(path + ".tmp", path)
