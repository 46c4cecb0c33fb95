#!/usr/bin/env bash
# Long random-kill test of ring creation (issue 11): producers creating rings in a loop are
# SIGKILLed at fixed-seed random moments, DRIFT_RING_KILLS times (default 1000). After every kill
# each file under a final ring name must be a valid ring of a dead producer (recovered and
# removed) and every temporary file of the dead creator is swept; nothing may be left.
# Prints the RANDOM-KILL line with the figures recorded in docs/design.md.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
export DRIFT_RING_KILLS="${DRIFT_RING_KILLS:-1000}"
start=$(date +%s)
cargo test -p drift-ring --test lifecycle random_sigkill_during_creation -- --nocapture 2>&1 \
  | grep -E 'RANDOM-KILL|test result'
echo "elapsed $(( $(date +%s) - start )) s"
