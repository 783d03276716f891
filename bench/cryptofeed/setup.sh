#!/usr/bin/env bash
# The Python environment of the cryptofeed comparison (idempotent). cryptofeed ships no wheel
# for this Python: pip builds it, which needs gcc (installed by scripts/setup.sh).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [[ -x "$here/.venv/bin/python" ]] && "$here/.venv/bin/python" -c 'import cryptofeed' 2>/dev/null; then
  exit 0
fi
python3 -m venv "$here/.venv"
"$here/.venv/bin/pip" install --quiet -r "$here/requirements.txt"
