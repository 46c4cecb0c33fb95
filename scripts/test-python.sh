#!/usr/bin/env bash
# Builds the Python binding (bindings/python) and runs its pytest suite.
#
# Needs only python3 (>= 3.9, with venv) and cargo. Creates two venvs under target/py/:
#   test/       our wheel + pytest, gunicorn, flask and the published Tusk Drift SDK (its stock path
#               then runs on our drift_core, which is what users get with our wheel installed);
#   published/  drift-core-python==0.1.9 from PyPI + the same SDK: the parity tests talk to it
#               through a subprocess because both packages install the module `drift_core`.
# The last line printed is pytest's summary ("N passed ..."), which scripts/test-all.sh parses.
#
# Environment: PYTHON (interpreter to use, default python3), PYTEST_ARGS (extra pytest args),
# DRIFT_PY_SKIP_BUILD=1 (reuse the installed wheel).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
VENVS="$ROOT/target/py"
TEST_VENV="$VENVS/test"
PUB_VENV="$VENVS/published"
WHEELS="$VENVS/wheels"
LOG="$VENVS/setup.log"
SDK_SPEC="tusk-drift-python-sdk==0.1.29"
PUBLISHED_SPEC="drift-core-python==0.1.9"

mkdir -p "$VENVS"
: > "$LOG"

step() { printf '[test-python] %s\n' "$*" >&2; }
run_logged() {
    if ! "$@" >>"$LOG" 2>&1; then
        echo "[test-python] command failed: $*" >&2
        tail -n 40 "$LOG" >&2
        exit 1
    fi
}

make_venv() {
    local dir="$1"
    if [[ ! -x "$dir/bin/python" ]]; then
        step "creating venv $dir"
        run_logged "$PY" -m venv "$dir"
        run_logged "$dir/bin/python" -m pip install --upgrade --quiet pip
    fi
}

make_venv "$TEST_VENV"
make_venv "$PUB_VENV"

step "installing test tools and the SDK into target/py/test"
run_logged "$TEST_VENV/bin/python" -m pip install --quiet \
    "maturin>=1.9,<2" "pytest>=8,<10" "gunicorn>=23,<26" "mypy>=1.18,<3" "flask>=3,<4" "$SDK_SPEC"

step "installing $PUBLISHED_SPEC and the SDK into target/py/published"
run_logged "$PUB_VENV/bin/python" -m pip install --quiet "$PUBLISHED_SPEC" "$SDK_SPEC"

if [[ "${DRIFT_PY_SKIP_BUILD:-0}" != "1" ]]; then
    step "building the drift_core wheel (maturin build --release)"
    rm -rf "$WHEELS"
    run_logged "$TEST_VENV/bin/maturin" build --release \
        --manifest-path "$ROOT/bindings/python/Cargo.toml" \
        --interpreter "$TEST_VENV/bin/python" --out "$WHEELS"
    # The SDK's `[rust]` extra is not installed, so nothing pulls the published wheel in here.
    run_logged "$TEST_VENV/bin/python" -m pip install --quiet --force-reinstall --no-deps "$WHEELS"/*.whl
fi

step "running pytest"
cd "$ROOT"
export DRIFT_PUBLISHED_PYTHON="$PUB_VENV/bin/python"
export DRIFT_REQUIRE_PUBLISHED=1
export DRIFT_TEST_PYTHON="$TEST_VENV/bin/python"
# shellcheck disable=SC2086
exec "$TEST_VENV/bin/python" -m pytest -q -p no:cacheprovider ${PYTEST_ARGS:-} bindings/python/tests
