#!/usr/bin/env bash
# The Python environment of the cryptofeed comparison (idempotent). cryptofeed ships no wheel
# for this Python: pip builds it, which needs gcc (installed by scripts/setup.sh).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [[ -x "$here/.venv/bin/python" ]] && "$here/.venv/bin/python" -c 'import cryptofeed' 2>/dev/null; then
  exit 0
fi
if ! python3 -m venv "$here/.venv"; then
  echo "bench-setup: python3 cannot make a venv; on Debian: sudo apt-get install python3-venv" >&2
  exit 1
fi
"$here/.venv/bin/pip" install --quiet -r "$here/requirements.txt"
