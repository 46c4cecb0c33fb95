"""gunicorn --preload --workers 2: the exporter is created in the master before the fork; each
worker gets its own ring and exporter threads on its first span, and every span of every
request reaches the backend."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import TESTS_DIR
from mock_backend import MockBackend

REQUESTS = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn_command() -> list[str]:
    if shutil.which("gunicorn", path=os.path.dirname(sys.executable)) is None:
        try:
            import gunicorn  # noqa: F401
        except ImportError:
            pytest.skip("gunicorn is not installed (scripts/test-python.sh installs it)")
    return [sys.executable, "-m", "gunicorn"]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"gunicorn exited early: {process.stderr.read() if process.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("gunicorn did not start listening")


def get(port: int, request_id: int) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/item?id={request_id}", timeout=10) as response:
        return response.read()


def test_gunicorn_preload_workers_export_every_span(tmp_path):
    backend = MockBackend()
    port = free_port()
    env = dict(os.environ, DRIFT_TEST_BACKEND=backend.url, DRIFT_TEST_RING_DIR=str(tmp_path / "rings"))
    env["PYTHONPATH"] = str(TESTS_DIR) + os.pathsep + env.get("PYTHONPATH", "")
    process = subprocess.Popen(
        [
            *gunicorn_command(),
            "--preload",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--config",
            str(TESTS_DIR / "gunicorn_conf.py"),
            "--graceful-timeout",
            "20",
            "gunicorn_app:app",
        ],
        cwd=TESTS_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_port(port, process)
        with ThreadPoolExecutor(max_workers=8) as pool:
            bodies = list(pool.map(lambda i: get(port, i), range(1, REQUESTS + 1)))
        assert bodies == [b"pushed"] * REQUESTS
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            _, stderr = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate()
    try:
        deadline = time.monotonic() + 60
        while len(backend.spans()) < REQUESTS and time.monotonic() < deadline:
            time.sleep(0.05)
        spans = backend.spans()
    finally:
        backend.close()
    assert process.returncode == 0, stderr[-2000:]
    assert sorted(span["span_id"] for span in spans) == [f"{i:016x}" for i in range(1, REQUESTS + 1)]
    master_pids = {span["metadata"]["fields"]["master"]["number_value"] for span in spans}
    worker_pids = {span["metadata"]["fields"]["pid"]["number_value"] for span in spans}
    assert len(master_pids) == 1
    assert master_pids.isdisjoint(worker_pids)  # spans come from the forked workers only
    assert all(header["x-api-key"] == "gunicorn-key" for header in backend.headers)
