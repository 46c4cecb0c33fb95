#!/usr/bin/env bash
# Long versions of the acknowledged-delivery tests (real processes, a real HTTP server on
# 127.0.0.1). Prints the figures recorded in docs/guarantees.md.
#   bash scripts/long-runs.sh            # 20 sidecar kills, 3 x 20,000 spans; chaos 3 x 20,000;
#                                        # 1,000 in-process producers SIGKILLed at seeded random
#                                        # points (about a fifth inside ring creation)
set -euo pipefail
cd "$(dirname "$0")/.."
export DRIFT_ACK_KILLS="${DRIFT_ACK_KILLS:-20}"
export DRIFT_ACK_COUNT="${DRIFT_ACK_COUNT:-20000}"
export DRIFT_ACK_CHAOS_COUNT="${DRIFT_ACK_CHAOS_COUNT:-20000}"
cargo test -p drift-exporter --release --test acknowledged_delivery -- --nocapture --test-threads 1 2>&1 |
    grep -E "sidecar kills:|chaos:|test result|panicked"
export DRIFT_RECOVERY_KILLS="${DRIFT_RECOVERY_KILLS:-1000}"
cargo test -p drift-exporter --release --test in_process_recovery -- --nocapture --test-threads 1 \
    producers_sigkilled_at_random_points_lose_nothing 2>&1 |
    grep -E "random kills:|test result|panicked"
# A real full disk under the file sink: a 3 MiB tmpfs (needs mount rights; skipped, and said so,
# without them).
full_disk="$(mktemp -d)"
if mount -t tmpfs -o size=3m drift-full-disk "$full_disk" 2>/dev/null; then
    DRIFT_FULL_DISK_DIR="$full_disk" cargo test -p drift-exporter --release --test full_disk -- \
        --nocapture 2>&1 | grep -E "full disk|test result|panicked" || true
    umount "$full_disk"
else
    echo "full disk on tmpfs: not run (no mount rights)"
fi
rmdir "$full_disk"
