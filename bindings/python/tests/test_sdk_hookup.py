"""End to end: spans recorded through the published tusk-drift-python-sdk reach a local mock
backend with the same content and hashes whether the SDK's stock Rust path (with the published
drift-core-python 0.1.9) exports them or the ring hookup does."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FIXTURES, PUBLISHED_PYTHON_ENV, REPO_ROOT, TESTS_DIR
from mock_backend import EXPORT_PATH, MockBackend

SPAN_COUNT = 64
# Per-run values: ids, times and the SDK instance differ between two recordings.
VOLATILE_FIELDS = {"trace_id", "span_id", "parent_span_id", "timestamp", "duration"}


def published_python() -> str:
    python = os.environ.get(PUBLISHED_PYTHON_ENV) or str(REPO_ROOT / "target" / "py" / "published" / "bin" / "python")
    if not Path(python).exists():
        if os.environ.get("DRIFT_REQUIRE_PUBLISHED") == "1":
            pytest.fail(f"published venv not found at {python}")
        pytest.skip("published venv not found (scripts/test-python.sh creates it)")
    return python


def record(python: str, project: Path, backend: MockBackend | None, mode: str, extra_env: dict[str, str] | None = None):
    """Runs sdk_scenario.py in `project`, exporting to `backend`, or with None to the SDK's
    local traces directory `project/.tusk/traces`."""
    tusk = project / ".tusk"
    tusk.mkdir(parents=True, exist_ok=True)
    (project / "pyproject.toml").write_text("[project]\nname = 'e2e-app'\nversion = '0'\n")
    config = "service:\n  id: svc-e2e\n  name: e2e\n"
    if backend is not None:
        config += f"recording:\n  export_spans: true\ntusk_api:\n  url: {backend.url}\n"
    (tusk / "config.yaml").write_text(config)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUSK_")}
    env.update(
        {
            "TUSK_DRIFT_MODE": "RECORD",
            "TUSK_API_KEY": "e2e-key",
            "TUSK_USE_RUST_CORE": "1",
            "TUSK_RING_DIR": str(project / "rings"),
            # The scenario ends 64 spans (up to ~400 KB each) in a burst: room for all of them.
            "TUSK_RING_CAPACITY_BYTES": str(32 << 20),
            "DRIFT_EXPORTER_QUIET": "1",
        }
    )
    env.update(extra_env or {})
    completed = subprocess.run(
        [python, str(TESTS_DIR / "sdk_scenario.py"), str(FIXTURES / "span_payloads.jsonl"), mode, str(SPAN_COUNT)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def spans_by_name(backend: MockBackend) -> dict[str, dict]:
    spans = {}
    for span in backend.spans():
        spans[span["name"]] = {k: v for k, v in span.items() if k not in VOLATILE_FIELDS}
    return spans


@pytest.fixture(scope="module")
def stock_spans(tmp_path_factory):
    backend = MockBackend()
    try:
        report = record(published_python(), tmp_path_factory.mktemp("stock"), backend, "stock")
        assert report["hooked"] is False
        spans = spans_by_name(backend)
    finally:
        backend.close()
    assert len(spans) == SPAN_COUNT
    return spans


@pytest.mark.parametrize(
    ("mode", "extra_env"),
    [("install", {}), ("env", {"TUSK_RING_EXPORTER": "1"})],
    ids=["install", "env-var"],
)
def test_ring_hookup_exports_what_the_stock_path_exports(tmp_path, stock_spans, mode, extra_env):
    backend = MockBackend()
    try:
        report = record(sys.executable, tmp_path, backend, mode, extra_env)
        spans = spans_by_name(backend)
        headers = list(backend.headers)
        paths = {item["path"] for item in backend.requests}
    finally:
        backend.close()
    assert report["hooked"] is True
    health = report["health"]
    assert health["pushed"] == SPAN_COUNT and health["exported"] == SPAN_COUNT, health
    assert health["dropped_total"] == 0
    assert paths == {EXPORT_PATH}
    assert all(h["x-api-key"] == "e2e-key" and h["content-type"] == "application/protobuf" for h in headers)
    assert all(h.get("x-td-skip-instrumentation") == "true" for h in headers)
    assert spans.keys() == stock_spans.keys()
    for name, span in spans.items():
        assert span == stock_spans[name], name


def test_our_module_under_the_stock_path_matches_the_published_one(tmp_path, stock_spans):
    """Without the hook, the SDK's stock path on our drift_core exports the same spans."""
    backend = MockBackend()
    try:
        report = record(sys.executable, tmp_path, backend, "stock")
        spans = spans_by_name(backend)
    finally:
        backend.close()
    assert report["hooked"] is False
    assert spans == stock_spans


def test_uninstall_returns_to_the_stock_path(tmp_path, stock_spans):
    """Half the spans go through the ring, then uninstall() restores the stock on_end: every span
    still arrives, each with the stock path's content."""
    backend = MockBackend()
    try:
        report = record(sys.executable, tmp_path, backend, "uninstall")
        spans = spans_by_name(backend)
    finally:
        backend.close()
    assert report["hooked"] is True
    assert report["health"]["pushed"] == SPAN_COUNT // 2
    assert spans == stock_spans


HASH_FIELDS = ("inputValueHash", "outputValueHash", "inputSchemaHash", "outputSchemaHash")


def trace_lines(project: Path) -> dict[str, dict]:
    lines = {}
    for path in (project / ".tusk" / "traces").glob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                span = json.loads(line)
                lines[span["name"]] = span
    return lines


def test_file_sink_writes_the_stock_hashes(tmp_path):
    """Without remote export the SDK writes JSON lines under .tusk/traces; the hookup's file sink
    writes the same spans with the same hashes and values there."""
    stock_project, ring_project = tmp_path / "stock", tmp_path / "ring"
    record(published_python(), stock_project, None, "stock")
    report = record(sys.executable, ring_project, None, "install")
    assert report["health"]["exported"] == SPAN_COUNT
    stock, ring = trace_lines(stock_project), trace_lines(ring_project)
    assert len(stock) == SPAN_COUNT and ring.keys() == stock.keys()
    for name, span in ring.items():
        for field in HASH_FIELDS:
            assert span[field] == stock[name][field], (name, field)
        assert span["inputValue"] == stock[name]["inputValue"], name
        assert span["outputValue"] == stock[name]["outputValue"], name


# Fail open (issue 14): each case below leaves the SDK's stock path recording every request,
# with exactly one warning that says why, and no "ring exporter active" line.
from test_stock_identity import REQUESTS, Downstream, read_trace_files, run_app  # noqa: E402

ACTIVE = "ring exporter active for tusk-drift-python-sdk"


@pytest.fixture(scope="module")
def downstream_server():
    server = Downstream()
    yield server
    server.close()


def assert_stock_fallback(project: Path, report: dict, warning: str) -> None:
    assert report["ring"] is False
    assert ACTIVE not in report["stderr"]
    lines = [line for line in report["stderr"].splitlines() if "stock export path stays in use" in line]
    assert len(lines) == 1, report["stderr"]
    assert warning in lines[0], lines[0]
    spans = [line for _, lines_ in read_trace_files(project) for line in lines_ if line]
    assert len(spans) == 2 * REQUESTS, "the stock path recorded every request"


def test_the_startup_line_says_the_hook_is_active(tmp_path, downstream_server):
    report = run_app(tmp_path, downstream_server, ring=True)
    lines = [line for line in report["stderr"].splitlines() if ACTIVE in line]
    assert len(lines) == 1, report["stderr"]
    assert re.search(r"\[TuskDrift\] ring exporter active for tusk-drift-python-sdk 0\.1\.29: sink file \(.*\.tusk/traces\), ring in .*rings, spans taken at TdSpanProcessor\.on_end$", lines[0]), lines[0]
    assert "Warning" not in report["stderr"] and "stays in use" not in report["stderr"]


def test_fail_open_on_an_invalid_env_value(tmp_path, downstream_server):
    report = run_app(tmp_path, downstream_server, ring=False, extra_env={"TUSK_RING_EXPORTER": "fiel"})
    assert_stock_fallback(tmp_path, report, "TUSK_RING_EXPORTER='fiel' is not one of")


def test_fail_open_on_an_sdk_version_the_hook_does_not_know(tmp_path, downstream_server):
    report = run_app(
        tmp_path,
        downstream_server,
        ring=False,
        extra_env={"TUSK_RING_EXPORTER": "1", "DRIFT_TEST_SDK_VERSION": "0.1.99"},
    )
    assert_stock_fallback(tmp_path, report, "supports tusk-drift-python-sdk 0.1.29, not 0.1.99")


def test_fail_open_without_the_native_module(tmp_path, downstream_server):
    """drift_core's Python files without its compiled module, first on the path: the SDK falls
    back to its Python path and one warning says why the ring is not running."""
    import drift_core

    package = tmp_path / "site" / "drift_core"
    package.mkdir(parents=True)
    for source in Path(drift_core.__file__).parent.glob("*.py"):
        shutil.copy(source, package / source.name)
    report = run_app(
        tmp_path / "app",
        downstream_server,
        ring=False,
        extra_env={"TUSK_RING_EXPORTER": "1", "PYTHONPATH": str(tmp_path / "site")},
    )
    assert_stock_fallback(tmp_path / "app", report, "native module of drift_core could not be loaded")
