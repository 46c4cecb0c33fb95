#!/usr/bin/env bash
# Node binding: installs the npm dev dependencies (the napi CLI, the published addon under the
# alias `published-core` for parity, the published SDK), builds the addon in release mode and
# runs the `node --test` suites. Needs only node/npm and cargo. The TAP summary lines
# (`# pass N`, `# fail M`) are what scripts/test-all.sh reads.
#
# Usage: scripts/test-node.sh [extra node --test arguments]
# Env:   DRIFT_NODE_SKIP_BUILD=1 reuses an addon built earlier (for quick reruns).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root/bindings/node"

if [ ! -d node_modules/@napi-rs/cli ] || [ ! -d node_modules/published-core ] \
  || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # Only `npm ci`: it installs exactly the committed lock and never rewrites it (a test run must
  # leave the checkout as it found it). The lock lists every platform's optional packages; after
  # changing package.json, regenerate it with `npm install --package-lock-only` from no lock.
  npm ci --no-audit --no-fund --loglevel=error
fi

if [ "${DRIFT_NODE_SKIP_BUILD:-0}" != "1" ]; then
  npx napi build --platform --release
fi

# One file at a time: the suites start exporter threads and child processes, and the machine
# has few cores; each file still runs its own tests in order.
exec node --test --test-concurrency=1 --test-reporter=tap "$@" test/*.test.js
