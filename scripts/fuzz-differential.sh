#!/usr/bin/env bash
# Long random passes of the differential fuzzers: our bindings against the published
# drift-core-python 0.1.9 and @use-tusk/drift-core-node 0.1.8, every published function, on
# generated inputs (bindings/python/tests/fuzz_differential.py, bindings/node/test/fuzz-differential.js).
# CI runs short fixed-seed passes of the same fuzzers (test_fuzz_differential.py,
# fuzz-differential.test.js); this script is for the long runs whose figures go in docs/testing.md.
#
# Needs the venvs and node_modules that scripts/test-python.sh and scripts/test-node.sh set up,
# with our wheel installed and the addon built (run those first, or once with their *_SKIP_BUILD=0).
#
# Environment:
#   FUZZ_SEED          seed (default: random); printed, so a failing pass can be replayed
#   FUZZ_COMPARISONS   call pairs per binding (default 1000000)
#   FUZZ_BINDINGS      "python node" (default both)
# Exit status: non-zero when any disagreement is found (each is printed; make it a golden in
# tests/golden/regenerate.py, FUZZ_FOUND).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SEED="${FUZZ_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}"
COMPARISONS="${FUZZ_COMPARISONS:-1000000}"
BINDINGS="${FUZZ_BINDINGS:-python node}"
echo "[fuzz-differential] seed $SEED, $COMPARISONS comparisons per binding ($BINDINGS)"

status=0
for binding in $BINDINGS; do
  case "$binding" in
    python)
      (cd "$ROOT/bindings/python/tests" && \
        DRIFT_PUBLISHED_PYTHON="$ROOT/target/py/published/bin/python" \
        "$ROOT/target/py/test/bin/python" fuzz_differential.py --seed "$SEED" --comparisons "$COMPARISONS") || status=1
      ;;
    node)
      (cd "$ROOT/bindings/node" && node test/fuzz-differential.js --seed "$SEED" --comparisons "$COMPARISONS") || status=1
      ;;
    *) echo "unknown binding $binding" >&2; exit 2 ;;
  esac
done
exit "$status"
