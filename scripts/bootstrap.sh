#!/usr/bin/env bash
# Creates .venv and installs socpipe with its dev extras. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.socpipe-installed
# The install also compiles the Sigma engine's prefilter.py and matchers.py (hatch_build.py) when a C
# compiler is there: install again when one of them changed since, or when a compiled copy is missing
# or stale (a compiler added since, a failed build).
native_ok() {
  .venv/bin/python -c 'import sys; from detectors.sigma.native import MATCHERS, PREFILTER, compiled
sys.exit(not all(compiled(m) for m in (PREFILTER, MATCHERS)))' >/dev/null 2>&1
}
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ detectors/sigma/prefilter.py -nt "$stamp" ] ||
  [ detectors/sigma/matchers.py -nt "$stamp" ] ||
  { [ -z "${SOCPIPE_NO_NATIVE:-}" ] && command -v "${CC:-cc}" >/dev/null && ! native_ok; }; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[dev]'
  touch "$stamp"
fi
cat <<MSG
socpipe is installed in $(pwd)/.venv ($(.venv/bin/socpipe --version)).
Run it as .venv/bin/socpipe, or put \`socpipe\` on your PATH for this shell:
  source $(pwd)/.venv/bin/activate
MSG
