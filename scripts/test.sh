#!/usr/bin/env bash
# The test command: installs socpipe, starts local Kafka and Elasticsearch unless
# KAFKA_BOOTSTRAP_SERVERS / ELASTICSEARCH_URL point elsewhere, runs pytest, stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
# The triage page's browser test drives Debian's headless Chromium through its matching chromedriver.
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    echo "scripts/test.sh: the browser test needs Debian's chromium and chromium-driver: apt-get install chromium chromium-driver (as root)" >&2
  fi
fi
started=0
if [ -z "${KAFKA_BOOTSTRAP_SERVERS:-}" ] || [ -z "${ELASTICSEARCH_URL:-}" ]; then
  if ! .venv/bin/socpipe dev status >/dev/null 2>&1; then
    .venv/bin/socpipe dev up
    started=1
  fi
fi
cleanup() { if [ "$started" = 1 ]; then .venv/bin/socpipe dev down || true; fi; }
trap cleanup EXIT
# With no arguments: the suite on two xdist workers (most tests wait on Kafka and Elasticsearch rather
# than compute), then, one at a time, the tests that start servers or processes of their own (marked
# own_processes in tests/conftest.py), whose deadlines starve beside other tests on a 2-core machine.
# With arguments: pytest with them, as given. SOCPIPE_TEST_WORKERS=0: no xdist workers.
if [ "$#" -gt 0 ]; then
  .venv/bin/python -m pytest "$@"
else
  status=0
  .venv/bin/python -m pytest -n "${SOCPIPE_TEST_WORKERS:-2}" -m "not own_processes" || status=$?
  .venv/bin/python -m pytest -m own_processes || status=$?
  exit "$status"
fi
