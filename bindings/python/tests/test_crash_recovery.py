"""In-process mode survives its process: a plain `python crash_app.py` with an in-process
RingExporter (file sink) is SIGTERMed (default action, no handler) or SIGKILLed with spans
pushed and surely not exported (ten-minute schedule delay); its next start delivers every one
of them exactly once, and separately so does a `drift-exporter run` sidecar pointed at the ring
directory. Every wait is for an event (a line, a process exit, files), with generous deadlines.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO_ROOT, TESTS_DIR

APP = TESTS_DIR / "crash_app.py"
COUNT = 300
DEADLINE = 90.0


@pytest.fixture(scope="session")
def sidecar_binary() -> Path:
    """The `drift-exporter` binary (DRIFT_EXPORTER_BIN, else built with cargo)."""
    given = os.environ.get("DRIFT_EXPORTER_BIN")
    if given:
        return Path(given)
    subprocess.run(
        ["cargo", "build", "-q", "--locked", "-p", "drift-exporter", "--bin", "drift-exporter"],
        cwd=REPO_ROOT,
        check=True,
    )
    metadata = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps"],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return Path(json.loads(metadata.stdout)["target_directory"]) / "debug" / "drift-exporter"


def app_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(TESTS_DIR) + os.pathsep + env.get("PYTHONPATH", "")
    env["DRIFT_EXPORTER_QUIET"] = "1"
    return env


def delivered(traces: Path) -> dict[str, int]:
    """Span id -> times written, over every trace file; a torn line fails the test."""
    seen: dict[str, int] = {}
    if not traces.exists():
        return seen
    for path in traces.rglob("*.jsonl"):
        text = path.read_text(encoding="utf-8")
        assert text == "" or text.endswith("\n"), f"torn tail in {path}"
        for line in text.splitlines():
            span_id = json.loads(line)["spanId"]
            seen[span_id] = seen.get(span_id, 0) + 1
    return seen


def rings(ring_dir: Path) -> list[Path]:
    return sorted(p for p in ring_dir.glob("*.ring") if not p.name.startswith("."))


def leave_spans_behind(tmp_path: Path, sig: int) -> Path:
    """Runs the app, waits until it has pushed COUNT spans (none exported), kills it with sig."""
    ring_dir = tmp_path / "rings"
    killed = tmp_path / "killed"
    app = subprocess.Popen(
        [sys.executable, str(APP), "hold", str(ring_dir), str(killed), str(COUNT)],
        stdout=subprocess.PIPE,
        env=app_env(),
        text=True,
    )
    try:
        line = app.stdout.readline()
        assert line.startswith("ready "), line
        health = json.loads(line[len("ready ") :])
        assert (health["pushed"], health["exported"], health["in_flight"]) == (COUNT, 0, COUNT)
        os.kill(app.pid, sig)
        assert app.wait(DEADLINE) == -sig, "died of the signal's default action"
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
    assert len(rings(ring_dir)) == 1, "the dead process's ring stays in the ring directory"
    assert delivered(killed) == {}, "nothing was exported before the kill"
    return ring_dir


def expected_ids() -> set[str]:
    return {f"{index:016x}" for index in range(COUNT)}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_the_next_start_delivers_what_a_killed_app_left(tmp_path, sig):
    ring_dir = leave_spans_behind(tmp_path, sig)
    traces = tmp_path / "next"
    result = subprocess.run(
        [sys.executable, str(APP), "recover", str(ring_dir), str(traces), str(COUNT)],
        capture_output=True,
        env=app_env(),
        text=True,
        timeout=DEADLINE * 2,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    health = report["health"]
    assert (health["pushed"], health["recovered"], health["exported"]) == (0, COUNT, COUNT)
    assert health["dropped_total"] == 0 and report["shutdown"] is True
    seen = delivered(traces)
    assert set(seen) == expected_ids()
    assert set(seen.values()) == {1}, "each span exactly once"
    assert rings(ring_dir) == [], "the dead ring and the clean run's own ring are removed"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_a_sidecar_delivers_what_a_killed_app_left(tmp_path, sig, sidecar_binary):
    ring_dir = leave_spans_behind(tmp_path, sig)
    traces = tmp_path / "sidecar"
    sidecar = subprocess.Popen(
        [
            str(sidecar_binary),
            "run",
            "--ring-dir",
            str(ring_dir),
            "--sink",
            "files",
            "--traces-dir",
            str(traces),
            "--schedule-delay-millis",
            "20",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=app_env(),
    )
    try:
        deadline = time.monotonic() + DEADLINE
        while rings(ring_dir) or len(delivered(traces)) < COUNT:
            assert time.monotonic() < deadline, "the sidecar did not deliver the dead ring"
            assert sidecar.poll() is None, "the sidecar exited"
            time.sleep(0.01)
    finally:
        sidecar.send_signal(signal.SIGTERM)
        sidecar.wait(DEADLINE)
    seen = delivered(traces)
    assert set(seen) == expected_ids()
    assert set(seen.values()) == {1}, "each span exactly once"
