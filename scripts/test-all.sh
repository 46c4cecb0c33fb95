#!/usr/bin/env bash
# The one entry point for every check (README's test command; .ci/run calls it):
# formatting, lints, Rust tests, Python tests, Node tests. Each suite installs what it needs itself
# (venvs under target/py, npm packages under bindings/node/node_modules).
# Prints a final "N passed, M failed" line and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
failures=()
log_dir=target/test-logs
mkdir -p "$log_dir"

# A check that is one pass/fail unit (fmt, clippy, a suite that could not even start).
check() {
  local name=$1
  shift
  echo "==> $name"
  if "$@" >"$log_dir/$name.log" 2>&1; then
    passed=$((passed + 1))
    echo "    ok"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "    FAILED (last lines of $log_dir/$name.log):"
    tail -n 40 "$log_dir/$name.log" | sed 's/^/    | /'
  fi
}

# A suite whose own runner reports per-test counts; $2 is a function that extracts "P F" from its log.
suite() {
  local name=$1 counter=$2
  shift 2
  echo "==> $name"
  local status=0
  "$@" >"$log_dir/$name.log" 2>&1 || status=$?
  read -r p f < <("$counter" "$log_dir/$name.log")
  p=${p:-0}
  f=${f:-0}
  if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
    # The runner failed without reporting a failed test (build error, crash): count the suite as one failure.
    f=1
  fi
  if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
    f=1 # a suite that ran no test is a failure, not a pass
    echo "    ran no test"
  fi
  passed=$((passed + p))
  failed=$((failed + f))
  echo "    $p passed, $f failed"
  if [ "$f" -ne 0 ]; then
    failures+=("$name")
    tail -n 60 "$log_dir/$name.log" | sed 's/^/    | /'
  fi
}

count_cargo() { # sums every "test result: ... N passed; M failed" line
  awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) } }
       END { print p + 0, f + 0 }' "$1"
}
count_pytest() { # the last pytest summary line: "== 12 passed, 1 failed in 3.2s =="
  local line
  line=$(grep -E '[0-9]+ (passed|failed)' "$1" | tail -n 1)
  local p f
  p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+')
  f=$(( $(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+' || echo 0) + $(grep -oE '[0-9]+ error' <<<"$line" | grep -oE '[0-9]+' || echo 0) ))
  echo "${p:-0} ${f:-0}"
}
count_node() { # node --test TAP summary: "# pass N" / "# fail M"
  awk '/^# pass / { p += $3 } /^# fail / { f += $3 } END { print p + 0, f + 0 }' "$1"
}

# The checkout as the tests found it: a run must leave it so (compared at the end).
tree_before=$(git status --porcelain 2>&1)

start=$(date +%s)
check cargo-fmt cargo fmt --all --check
check cargo-clippy cargo clippy --workspace --all-targets --locked -- -D warnings
suite cargo-test count_cargo cargo test --workspace --locked
suite python count_pytest bash scripts/test-python.sh
suite node count_node bash scripts/test-node.sh

# The end-to-end benchmark's short version: a Flask service under gunicorn recorded by the published
# SDK in every export mode; passes when every span arrives exactly once with the stock path's hashes
# (its timings are printed, never judged). Reuses the Python suite's venvs and the debug sidecar.
e2e_short() {
  cargo build --locked -q -p drift-exporter --bin drift-exporter &&
    E2E_PYTHON_OURS="$PWD/target/py/test/bin/python" E2E_PYTHON_PUBLISHED="$PWD/target/py/published/bin/python" \
      E2E_SIDECAR="$PWD/target/debug/drift-exporter" bash benches/e2e/run.sh --short
}
check e2e-short e2e_short

# The release artifacts, built from this checkout and smoke-tested in a fresh venv and a fresh npm
# project with the SDKs from the registries (scripts/build-dist.sh).
check build-dist bash scripts/build-dist.sh

# Nothing tracked may be rewritten and nothing untracked left behind by a test run. With
# DRIFT_REQUIRE_CLEAN_TREE=1 (.ci/run) the tree must be clean, not only unchanged.
clean_tree() {
  local after
  after=$(git status --porcelain 2>&1) || { echo "git status failed: $after"; return 1; }
  if [ "${DRIFT_REQUIRE_CLEAN_TREE:-0}" = "1" ] && [ -n "$after" ]; then
    echo "the checkout is not clean after the tests (git status --porcelain):"
    echo "$after"
    return 1
  fi
  if [ "$after" != "$tree_before" ]; then
    echo "the tests changed the checkout; git status --porcelain before:"
    echo "$tree_before"
    echo "after:"
    echo "$after"
    return 1
  fi
}
check clean-checkout clean_tree

echo
echo "took $(($(date +%s) - start)) s; logs in $log_dir"
if [ "${#failures[@]}" -ne 0 ]; then
  echo "failed: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
