"""Fork safety: a child process gets its own ring and exporter threads on its first push, the
parent keeps working, no inherited lock or thread is used in the child (os.fork while another
thread pushes, multiprocessing's fork start method)."""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
import time
from pathlib import Path

import pytest

import drift_core
from span_helpers import push_args

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def file_exporter(tmp_path: Path) -> drift_core.RingExporter:
    return drift_core.RingExporter(
        sink="file",
        directory=str(tmp_path / "traces"),
        ring_dir=str(tmp_path / "rings"),
        schedule_delay_millis=20,
        environment="fork-test",
    )


def exported_span_ids(tmp_path: Path) -> list[str]:
    ids = []
    for path in (tmp_path / "traces").glob("*.jsonl"):
        for line in path.read_text().splitlines():
            if line.strip():
                ids.append(json.loads(line)["spanId"])
    return ids


def wait_child(pid: int, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    raise AssertionError(f"child {pid} did not finish in {timeout}s (deadlock after fork?)")


def run_in_child(body) -> int:
    """Forks; the child runs `body()` and exits with its return code (1 on exception)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            code = body()
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            os._exit(code)
    return wait_child(pid)


def test_os_fork_child_gets_its_own_exporter(tmp_path):
    exporter = file_exporter(tmp_path)
    for i in range(5):
        assert exporter.push_span(*push_args(i))
    assert exporter.force_flush(60)
    parent_pid = os.getpid()
    report = tmp_path / "child.json"

    def child() -> int:
        results = [exporter.push_span(*push_args(1000 + i)) for i in range(20)]
        flushed = exporter.force_flush(60)
        health = exporter.health_snapshot()
        report.write_text(json.dumps({"results": results, "flushed": flushed, "health": health}))
        return 0 if os.getpid() != parent_pid else 3

    assert run_in_child(child) == 0
    child_report = json.loads(report.read_text())
    assert all(child_report["results"]) and child_report["flushed"]
    assert child_report["health"]["pid"] != parent_pid
    assert child_report["health"]["exported"] >= 20

    # The parent is unaffected: its counters never saw the child's spans, its threads still run.
    for i in range(5, 10):
        assert exporter.push_span(*push_args(i))
    assert exporter.force_flush(60)
    health = exporter.health_snapshot()
    assert health["pushed"] == 10 and health["exported"] == 10 and health["dropped_total"] == 0
    assert exporter.shutdown(60)
    ids = exported_span_ids(tmp_path)
    assert sorted(ids) == sorted([f"{i:016x}" for i in range(10)] + [f"{1000 + i:016x}" for i in range(20)])


def test_fork_while_other_threads_push(tmp_path):
    """Forking while a thread is mid-push must not hand the child a held lock."""
    exporter = file_exporter(tmp_path)
    stop = threading.Event()
    pushed = []

    def pusher() -> None:
        i = 0
        while not stop.is_set():
            exporter.push_span(*push_args(10_000 + i, input_value=json.dumps({"i": i, "pad": "p" * 500})))
            i += 1
        pushed.append(i)

    thread = threading.Thread(target=pusher)
    thread.start()
    try:
        for round_index in range(5):
            time.sleep(0.02)

            def child(round_index: int = round_index) -> int:
                ok = all(exporter.push_span(*push_args(50_000 + round_index * 10 + i)) for i in range(10))
                return 0 if ok and exporter.force_flush(60) else 2

            assert run_in_child(child) == 0
    finally:
        stop.set()
        thread.join()
    assert exporter.force_flush(60)
    health = exporter.health_snapshot()
    assert health["pushed"] == pushed[0]
    assert health["exported"] + health["dropped_total"] == health["pushed"]
    assert exporter.shutdown(60)
    ids = set(exported_span_ids(tmp_path))
    for round_index in range(5):
        for i in range(10):
            assert f"{50_000 + round_index * 10 + i:016x}" in ids


_MP_EXPORTER: drift_core.RingExporter | None = None


def _mp_worker(base: int) -> tuple[int, bool, int]:
    assert _MP_EXPORTER is not None
    ok = sum(_MP_EXPORTER.push_span(*push_args(base + i)) for i in range(25))
    # multiprocessing workers leave through os._exit: flush explicitly.
    return ok, _MP_EXPORTER.force_flush(60), os.getpid()


def test_multiprocessing_fork_pool(tmp_path):
    global _MP_EXPORTER
    _MP_EXPORTER = file_exporter(tmp_path)
    try:
        assert _MP_EXPORTER.push_span(*push_args(1))
        context = multiprocessing.get_context("fork")
        with context.Pool(2) as pool:
            results = pool.map(_mp_worker, [100_000 * (n + 1) for n in range(4)])
        assert all(ok == 25 and flushed for ok, flushed, _ in results)
        assert os.getpid() not in {pid for _, _, pid in results}
        assert _MP_EXPORTER.force_flush(60)
        assert _MP_EXPORTER.health_snapshot()["pushed"] == 1
    finally:
        _MP_EXPORTER.shutdown(60)
        _MP_EXPORTER = None
    ids = set(exported_span_ids(tmp_path))
    expected = {f"{100_000 * (n + 1) + i:016x}" for n in range(4) for i in range(25)} | {f"{1:016x}"}
    assert expected <= ids
