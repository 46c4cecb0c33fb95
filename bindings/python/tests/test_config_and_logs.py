"""The configuration front door as the Python binding sees it (one option table, per-field
precedence, errors at creation) and the exporter's log records reaching Python `logging`."""

from __future__ import annotations

import ast
import logging
import socket
import time
from pathlib import Path

import pytest

import drift_core
from mock_backend import MockBackend
from span_helpers import push_args

STUB = Path(drift_core.__file__).with_name("__init__.pyi")
ALIASES = {"url", "service_id", "directory", "capacity_bytes"}
DEADLINE = 60.0


def wait_until(what, condition):
    until = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < until, f"timed out waiting for {what}"
        time.sleep(0.01)


def stub_keywords(class_name: str, method: str) -> list[str]:
    tree = ast.parse(STUB.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == method:
                    return [arg.arg for arg in item.args.kwonlyargs]
    raise AssertionError(f"{class_name}.{method} not in the stub")


def test_options_come_from_the_exporter_table():
    table = drift_core._exporter_options()
    names = [name for name, _env, _help in table]
    assert len(names) == len(set(names)) >= 18
    assert all(env.startswith("TUSK_") for _name, env, _help in table)
    # The stub lists the table's options (plus `sink`'s callable form and the former names), and
    # the binding's own in-process option `ring_anonymous`.
    keywords = stub_keywords("RingExporter", "__new__")
    assert set(keywords) - ALIASES - {"ring_anonymous"} == set(names)


@pytest.fixture
def clean_env(monkeypatch):
    for name, env, _help in drift_core._exporter_options():
        monkeypatch.delenv(env, raising=False)
    return monkeypatch


def test_api_url_and_key_from_the_environment_reach_the_api_sink(tmp_path, clean_env):
    backend = MockBackend()
    try:
        clean_env.setenv("TUSK_API_URL", backend.url)
        clean_env.setenv("TUSK_API_KEY", "key-from-env")
        exporter = drift_core.RingExporter(sink="api", ring_dir=str(tmp_path / "r"), schedule_delay_millis=10)
        assert exporter.push_span(*push_args(1))
        assert exporter.force_flush(DEADLINE)
        assert exporter.shutdown(DEADLINE)
        assert len(backend.spans()) == 1
        assert {h.get("x-api-key") for h in backend.headers} == {"key-from-env"}
    finally:
        backend.close()


def test_programmatic_options_beat_the_environment_per_field(tmp_path, clean_env):
    backend = MockBackend()
    try:
        clean_env.setenv("TUSK_EXPORT_SINK", "file")
        clean_env.setenv("TUSK_API_KEY", "key-from-env")
        clean_env.setenv("TUSK_OBSERVABLE_SERVICE_ID", "svc-from-env")
        # sink and URL from code, key and service id from the environment.
        exporter = drift_core.RingExporter(
            sink="api", api_url=backend.url, ring_dir=str(tmp_path / "r"), schedule_delay_millis=10
        )
        assert repr(exporter) == "RingExporter(sink='api')"
        assert exporter.push_span(*push_args(2))
        assert exporter.force_flush(DEADLINE)
        exporter.shutdown(DEADLINE)
        assert {h.get("x-api-key") for h in backend.headers} == {"key-from-env"}
        assert backend.requests[0]["request"]["observable_service_id"] == "svc-from-env"
    finally:
        backend.close()


def test_export_timeout_millis_reaches_the_http_sink(tmp_path, clean_env, caplog):
    # A backend that accepts connections and never answers.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    port = silent.getsockname()[1]
    try:
        caplog.set_level(logging.WARNING, logger="drift_exporter")
        exporter = drift_core.RingExporter(
            sink="api",
            api_url=f"http://127.0.0.1:{port}",
            export_timeout_millis=200,
            max_retry_attempts=1,
            schedule_delay_millis=10,
            ring_dir=str(tmp_path / "r"),
        )
        assert exporter.push_span(*push_args(1))

        def failure_logged():
            return any(r.name == "drift_exporter.export" for r in caplog.records)

        # The batch times out after 200 ms (the 30 s default would keep it waiting), is logged
        # and stays queued for another attempt.
        wait_until("an export failure in the log", failure_logged)
        health = exporter.health_snapshot()
        assert health["export_timeouts"] >= 1
        assert health["exported"] == 0
        exporter.shutdown(0.5)
        record = next(r for r in caplog.records if r.name == "drift_exporter.export")
        assert record.levelno == logging.WARNING
        message = record.getMessage()
        assert f"export of 1 spans to the Tusk API at 127.0.0.1:{port} failed" in message
        assert "sent again" in message
        assert "timeout" in message
    finally:
        silent.close()


def test_activation_is_logged_through_python_logging(tmp_path, clean_env, caplog):
    caplog.set_level(logging.INFO, logger="drift_exporter")
    exporter = drift_core.RingExporter(sink="file", traces_dir=str(tmp_path / "t"), ring_dir=str(tmp_path / "r"))
    exporter.shutdown(DEADLINE)
    started = [r for r in caplog.records if "ring exporter started" in r.getMessage()]
    assert len(started) == 1
    assert started[0].levelno == logging.INFO
    assert started[0].name.startswith("drift_exporter")
    assert f"trace files in {tmp_path / 't'}" in started[0].getMessage()


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"sink": "fiel"}, ValueError, "unknown sink"),
        ({"max_export_batch_size": 0}, ValueError, "max_export_batch_size"),
        ({"max_export_batch_size": -1}, ValueError, "max_export_batch_size"),
        ({"max_export_batch_size": "10"}, TypeError, "max_export_batch_size"),
        ({"max_export_batch_size": True}, TypeError, "max_export_batch_size"),
        ({"api_url": "ftp://x"}, ValueError, "api_url"),
        ({"sink": "file", "api_key": "k"}, ValueError, "api_key"),
        ({"sink": "api", "traces_dir": "/tmp/x"}, ValueError, "traces_dir"),
        ({"queue_size": 1}, TypeError, "queue_size"),
        ({"url": "http://a", "api_url": "http://b"}, TypeError, "same option"),
    ],
)
def test_invalid_options_are_errors_at_creation(tmp_path, clean_env, options, error, match):
    options.setdefault("ring_dir", str(tmp_path / "r"))
    if "api_url" in options and "sink" not in options:
        options["sink"] = "api"
    with pytest.raises(error, match=match):
        drift_core.RingExporter(**options)


def test_invalid_environment_values_name_their_variable(tmp_path, clean_env):
    clean_env.setenv("TUSK_MAX_EXPORT_BATCH_SIZE", "lots")
    with pytest.raises(ValueError, match="TUSK_MAX_EXPORT_BATCH_SIZE"):
        drift_core.RingExporter(ring_dir=str(tmp_path / "r"))
    clean_env.setenv("TUSK_MAX_EXPORT_BATCH_SIZE", "16")
    clean_env.setenv("TUSK_EXPORT_SINK", "fiel")
    with pytest.raises(ValueError, match="TUSK_EXPORT_SINK"):
        drift_core.RingExporter(ring_dir=str(tmp_path / "r"))


def test_one_sink_vocabulary_with_the_former_spelling_accepted(tmp_path, clean_env):
    for name in ("file", "files"):
        exporter = drift_core.RingExporter(sink=name, traces_dir=str(tmp_path / name), ring_dir=str(tmp_path / "r"))
        assert repr(exporter) == "RingExporter(sink='file')"
        exporter.shutdown(DEADLINE)
    # The former keyword names still work.
    exporter = drift_core.RingExporter(sink="file", directory=str(tmp_path / "d"), capacity_bytes=1 << 16)
    exporter.shutdown(DEADLINE)
