#!/usr/bin/env bash
# Regenerates tests/fixtures/golden/*.jsonl from the published drift-core-python 0.1.9, installed
# from PyPI into a throw-away venv. Needs python3 (>= 3.9) and network access to PyPI.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$(mktemp -d)"
trap 'rm -rf "$venv"' EXIT
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet "drift-core-python==0.1.9"
"$venv/bin/python" "$here/regenerate.py"
