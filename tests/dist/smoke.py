"""Smoke test of an installed drift-core-python artifact (scripts/build-dist.sh runs it in a fresh venv).

Checks, in the venv where the built wheel and `tusk-drift-python-sdk[rust]` from PyPI were installed:
the module is the built one (version, installed location), the SDK's own loader picks it up, the core
functions give the published 0.1.9 results recorded in the goldens, and the ring exporter starts,
exports and shuts down. argv: expected version, path of tests/fixtures/golden/text_functions.jsonl.
"""

from __future__ import annotations

import json
import sys
import sysconfig
from pathlib import Path


def check_module(expected_version: str) -> None:
    import drift_core

    site = Path(sysconfig.get_paths()["platlib"]).resolve()
    location = Path(drift_core.__file__).resolve()
    assert site in location.parents, f"drift_core imported from {location}, not from {site}"
    assert drift_core.__version__ == expected_version, drift_core.__version__


def check_sdk_loads_it() -> None:
    from drift.core import rust_core_binding

    status = rust_core_binding.get_rust_core_startup_status()
    assert status["enabled"] and status["binding_loaded"], status


def check_goldens(golden_path: str) -> int:
    import drift_core

    checked = 0
    for line in open(golden_path, encoding="utf-8"):
        case = json.loads(line)
        fn = case["fn"]
        # Cases given inline (the others name fixture files that are not part of the artifacts).
        if fn not in ("normalize_json", "deterministic_hash", "normalize_and_hash") or "json" not in case["args"]:
            continue
        expect = case["expect"]
        call = getattr(drift_core, fn)
        if "ok" in expect:
            got = call(case["args"]["json"])
            want = tuple(expect["ok"]) if fn == "normalize_and_hash" else expect["ok"]
            assert got == want, (fn, case["args"], got, want)
        else:
            try:
                call(case["args"]["json"])
            except ValueError:
                pass
            else:
                raise AssertionError(f"{fn}({case['args']!r}) did not raise")
        checked += 1
    assert checked > 400, checked
    return checked


def check_ring_exporter() -> None:
    import drift_core

    requests: list[bytes] = []
    exporter = drift_core.RingExporter(sink=requests.append)
    health = exporter.health_snapshot()
    assert health["pushed"] == 0, health
    assert exporter.force_flush(), "flush of an empty exporter failed"
    assert exporter.shutdown(), "shutdown failed"
    assert exporter.health_snapshot()["running"] is False


def main() -> None:
    expected_version, golden_path = sys.argv[1], sys.argv[2]
    check_module(expected_version)
    check_sdk_loads_it()
    checked = check_goldens(golden_path)
    check_ring_exporter()
    print(f"python smoke: drift_core {expected_version} ok, {checked} golden cases, SDK loader ok")


if __name__ == "__main__":
    main()
