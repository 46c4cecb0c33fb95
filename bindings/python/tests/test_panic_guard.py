"""A panic in the native code reaches Python as ValueError (never PanicException, which the
SDK's `except Exception` would not catch). `_test_panic` is a hidden test-only trigger."""

from __future__ import annotations

import pytest

import drift_core
from drift_core import drift_core as native


def test_panic_trigger_raises_value_error() -> None:
    # Only on the native module, not re-exported by the package.
    assert "_test_panic" not in getattr(drift_core, "__all__", [])
    assert not hasattr(drift_core, "_test_panic")
    for _ in range(3):
        with pytest.raises(ValueError, match="internal error in _test_panic"):
            native._test_panic()
    # The module keeps working after a caught panic.
    assert drift_core.normalize_json('{"b":1,"a":2}') == '{"a":2,"b":1}'
