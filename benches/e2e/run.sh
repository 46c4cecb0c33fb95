#!/usr/bin/env bash
# End-to-end benchmark (benches/e2e/e2e.py): a Flask service under gunicorn recorded by the published
# tusk-drift-python-sdk (modes: SDK off, stock path on the published core, stock path on ours, ring
# in-process, ring + sidecar) and a node:http service in 2 cluster workers recorded by the published
# @use-tusk/drift-node-sdk (off, stock, ring in-process, ring + sidecar), reporting latency,
# throughput and CPU per request, and checking that every span arrives exactly once with the stock
# path's hashes.
#
# Usage: bash benches/e2e/run.sh            full run: 2 KB, 20 KB and base64 bodies, 3,000 requests each
#        bash benches/e2e/run.sh --short    CI: 2 KB bodies, 150 requests (checks only; figures meaningless)
# Installs what it needs under target/e2e (venvs from PyPI, our wheel built with maturin, the sidecar
# built with cargo). Env: E2E_PYTHON_OURS / E2E_PYTHON_PUBLISHED (reuse venvs that already hold the
# cores and the SDK: scripts/test-all.sh passes the test venvs), E2E_SIDECAR (a built drift-exporter).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
E2E="$ROOT/target/e2e"
PY="${PYTHON:-python3}"
LOG="$E2E/setup.log"
SDK_SPEC="tusk-drift-python-sdk==0.1.29"
SERVICE_DEPS=("flask>=3.1.2,<4" "gunicorn>=23,<26" "requests>=2.31,<3")
mkdir -p "$E2E"
: >"$LOG"

step() { printf '[e2e] %s\n' "$*" >&2; }
run_logged() {
    if ! "$@" >>"$LOG" 2>&1; then
        echo "[e2e] command failed: $*" >&2
        tail -n 40 "$LOG" >&2
        exit 1
    fi
}

args=()
if [[ "${1:-}" == "--short" ]]; then
    args=(--bodies 2k --requests 150 --warmup 20 --connections 4)
    shift
fi

ours="${E2E_PYTHON_OURS:-}"
if [[ -z "$ours" ]]; then
    ours="$E2E/ours/bin/python"
    [[ -x "$ours" ]] || run_logged "$PY" -m venv "$E2E/ours"
    run_logged "$ours" -m pip install --quiet "maturin>=1.9,<2" "$SDK_SPEC" "${SERVICE_DEPS[@]}"
    step "building our wheel (maturin --release)"
    rm -rf "$E2E/wheels"
    run_logged "$E2E/ours/bin/maturin" build --release --manifest-path "$ROOT/bindings/python/Cargo.toml" \
        --interpreter "$ours" --out "$E2E/wheels"
    run_logged "$ours" -m pip install --quiet --force-reinstall --no-deps "$E2E"/wheels/*.whl
else
    run_logged "$ours" -m pip install --quiet "${SERVICE_DEPS[@]}"
fi

published="${E2E_PYTHON_PUBLISHED:-}"
if [[ -z "$published" ]]; then
    published="$E2E/published/bin/python"
    [[ -x "$published" ]] || run_logged "$PY" -m venv "$E2E/published"
    run_logged "$published" -m pip install --quiet "drift-core-python==0.1.9" "$SDK_SPEC"
fi
run_logged "$published" -m pip install --quiet "${SERVICE_DEPS[@]}"

# Node: our package built in place (as scripts/test-node.sh does) and the SDK from its dev dependencies.
node_dir="$ROOT/bindings/node"
if [ ! -d "$node_dir/node_modules/@use-tusk/drift-node-sdk" ] || [ "$node_dir/package-lock.json" -nt "$node_dir/node_modules/.package-lock.json" ]; then
    (cd "$node_dir" && run_logged npm ci --no-audit --no-fund --loglevel=error)
fi
if [ ! -f "$node_dir/index.linux-x64-gnu.node" ]; then
    step "building the Node addon (napi build --release)"
    (cd "$node_dir" && run_logged npx napi build --platform --release)
fi

sidecar="${E2E_SIDECAR:-}"
if [[ -z "$sidecar" ]]; then
    step "building the sidecar (cargo build --release)"
    run_logged cargo build --release --locked -p drift-exporter --bin drift-exporter --manifest-path "$ROOT/Cargo.toml"
    sidecar="$ROOT/target/release/drift-exporter"
fi

step "running (${args[*]:-full})"
exec "$ours" "$ROOT/benches/e2e/e2e.py" --python-ours "$ours" --python-published "$published" \
    --node-sdk "$node_dir/node_modules/@use-tusk/drift-node-sdk" --node-addon-dir "$node_dir" \
    --sidecar "$sidecar" --json-out "$E2E/results.json" "${args[@]}" "$@"
