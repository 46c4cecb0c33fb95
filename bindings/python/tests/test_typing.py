"""The hand-written stubs match the runtime module (mypy.stubtest, as pydantic-core does) and the
pure-Python part type-checks."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import TESTS_DIR

PYPROJECT = TESTS_DIR.parent / "pyproject.toml"


def run_mypy(*args: str) -> subprocess.CompletedProcess:
    pytest.importorskip("mypy", reason="mypy is not installed (scripts/test-python.sh installs it)")
    return subprocess.run(
        [
            sys.executable,
            "-m",
            *args,
            "--mypy-config-file" if args[0] == "mypy.stubtest" else "--config-file",
            str(PYPROJECT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        # Outside the source tree, so that the installed package (with its compiled module) is
        # what gets checked, not bindings/python/python/drift_core.
        cwd=str(TESTS_DIR.parents[2] / "target"),
    )


def test_stubs_match_the_runtime_module():
    result = run_mypy("mypy.stubtest", "drift_core")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_sdk_hookup_type_checks():
    result = run_mypy("mypy", "-p", "drift_core")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
