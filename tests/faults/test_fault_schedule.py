"""The short fault schedule of benchmarks/faults.py: the whole pipeline through SIGKILLs of every kind of
process and Kafka and Elasticsearch outages, against a clean run of the same input (on the fault tests'
private pair, which the benchmark stops and starts itself). Nothing lost, nothing stored twice, every chain
verifies, no process died by itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from devtools.private import PrivatePair

pytestmark = [pytest.mark.kafka, pytest.mark.elasticsearch, pytest.mark.faults]

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "faults.py"


@pytest.mark.timeout(900)
def test_short_fault_schedule_loses_and_duplicates_nothing(pair: PrivatePair) -> None:
    """On the session's pair (`--servers`): a pair of its own cost another half minute of JVM start-up."""
    done = subprocess.run(
        [sys.executable, str(BENCHMARK), "--schedule", "short", "--servers", str(pair.settings.state_path)],
        capture_output=True, text=True, timeout=880, check=False,
    )  # fmt: skip
    pair.start()  # both up for the next test, whatever happened (a no-op when the benchmark ended well)
    print(done.stdout)
    assert done.returncode == 0 and "RESULT: PASS" in done.stdout, done.stdout + done.stderr[-3000:]
