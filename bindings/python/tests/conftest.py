"""Shared fixtures: the fixture corpus, the published package behind a subprocess, paths."""

from __future__ import annotations

import json
import os
import pickle
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parents[2]
FIXTURES = REPO_ROOT / "tests" / "fixtures"

# Set by scripts/test-python.sh: the interpreter of the venv holding drift-core-python==0.1.9.
PUBLISHED_PYTHON_ENV = "DRIFT_PUBLISHED_PYTHON"
# Set by scripts/test-python.sh so that a missing published venv fails instead of skipping.
REQUIRE_PUBLISHED_ENV = "DRIFT_REQUIRE_PUBLISHED"


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


@pytest.fixture(scope="session")
def span_payloads() -> list[dict[str, Any]]:
    """The 64 realistic payloads (~200 B to ~200 KB) shared by every test suite."""
    return load_jsonl(FIXTURES / "span_payloads.jsonl")


class PublishedError(Exception):
    """An exception raised by the published module, carried back by type name and message."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(f"{type_name}: {message}")
        self.type_name = type_name
        self.message = message


class PublishedModule:
    """Calls the published `drift_core` in its own interpreter (same module name as ours)."""

    def __init__(self, python: str) -> None:
        self._process = subprocess.Popen(
            [python, str(TESTS_DIR / "published_worker.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=str(TESTS_DIR),
        )
        self._lock = threading.Lock()
        self.version = self._call("__version__", (), {})

    def _call(self, name: str, args: tuple, kwargs: dict) -> Any:
        data = pickle.dumps((name, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            assert self._process.stdin is not None and self._process.stdout is not None
            self._process.stdin.write(struct.pack("<I", len(data)) + data)
            self._process.stdin.flush()
            header = self._process.stdout.read(4)
            if len(header) != 4:
                raise RuntimeError("the published drift_core worker exited")
            (length,) = struct.unpack("<I", header)
            reply = pickle.loads(self._process.stdout.read(length))
        if reply[0] == "ok":
            return reply[1]
        raise PublishedError(reply[1], reply[2])

    def text_signatures(self) -> dict[str, str]:
        return self._call("__text_signatures__", (), {})

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self._call(name, args, kwargs)

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        self._process.wait(timeout=10)


@pytest.fixture(scope="session")
def published() -> Any:
    python = os.environ.get(PUBLISHED_PYTHON_ENV) or str(REPO_ROOT / "target" / "py" / "published" / "bin" / "python")
    if not Path(python).exists():
        if os.environ.get(REQUIRE_PUBLISHED_ENV) == "1":
            pytest.fail(f"published drift-core-python venv not found at {python}")
        pytest.skip("published drift-core-python==0.1.9 venv not found (scripts/test-python.sh creates it)")
    module = PublishedModule(python)
    assert module.version == "0.1.9", module.version
    yield module
    module.close()


def outcome(call, *args, **kwargs) -> tuple[str, Any]:
    """("ok", result) or ("err", exception type name, message) for one call of ours."""
    try:
        return ("ok", call(*args, **kwargs))
    except Exception as exc:
        return ("err", type(exc).__name__, str(exc))


def published_outcome(published: Any, _function: str, *args, **kwargs) -> tuple[str, Any]:
    try:
        return ("ok", getattr(published, _function)(*args, **kwargs))
    except PublishedError as exc:
        return ("err", exc.type_name, exc.message)


def python_executable() -> str:
    return sys.executable


# The 29 positional parameters of the published `build_span_proto_bytes_pyobject`, in order.
SPAN_ARGS = [
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "package_name",
    "instrumentation_name",
    "submodule_name",
    "package_type",
    "environment",
    "kind",
    "input_schema",
    "output_schema",
    "input_schema_hash",
    "output_schema_hash",
    "input_value_hash",
    "output_value_hash",
    "status_code",
    "status_message",
    "is_pre_app_start",
    "is_root_span",
    "timestamp_seconds",
    "timestamp_nanos",
    "duration_seconds",
    "duration_nanos",
    "metadata",
    "input_value",
    "output_value",
    "input_value_proto_struct_bytes",
    "output_value_proto_struct_bytes",
]
