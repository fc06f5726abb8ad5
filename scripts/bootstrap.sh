#!/usr/bin/env bash
# Creates .venv and installs socpipe with its dev extras. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.socpipe-installed
# prefilter.py too: the install compiles it (hatch_build.py), and a copy older than it is not used.
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ detectors/sigma/prefilter.py -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[dev]'
  touch "$stamp"
fi
cat <<MSG
socpipe is installed in $(pwd)/.venv ($(.venv/bin/socpipe --version)).
Run it as .venv/bin/socpipe, or put \`socpipe\` on your PATH for this shell:
  source $(pwd)/.venv/bin/activate
MSG
