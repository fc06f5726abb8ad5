"""How long a SIGKILLed file shipper's open transaction holds read_committed readers (normalise) up.

A file tail ships in transactions committed every second. Killed and not restarted (a restarted one
aborts it at once with `init_transactions`), its open transaction stays until the broker's transaction
timeout (the producer's `transaction.timeout.ms`, SOCPIPE_KAFKA_TRANSACTION_TIMEOUT_MS; kafka-python's
default was 60 s) plus up to the broker's abort check interval (10 s by default). Meanwhile the last
stable offset of its partitions stands still: every record after it, any shipper's, waits.

Runs on the Kafka at KAFKA_BOOTSTRAP_SERVERS with topics of its own (it stops no server):

    .venv/bin/python benchmarks/orphan_transaction.py --runs 2
    .venv/bin/python benchmarks/orphan_transaction.py --runs 2 \\
        --env SOCPIPE_KAFKA_TRANSACTION_TIMEOUT_MS=60000
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from faults import Proc, events, socpipe  # the faults benchmark's helpers
from kafka_outage_stall import stable_offsets

from socpipe.bus import KafkaBus
from socpipe.settings import load_settings


def one_run(work: Path, extra_env: dict[str, str]) -> float | None:
    """Seconds from the SIGKILL until events.raw has no open transaction (None: not within 150 s)."""
    unique = uuid.uuid4().hex[:6]
    settings = load_settings(topic_prefix=f"o{unique}.")
    KafkaBus(settings).ensure_pipeline_topics()
    env = {**os.environ, "SOCPIPE_TOPIC_PREFIX": settings.topic_prefix, **extra_env}
    path = work / f"{unique}.jsonl"
    path.touch()
    shipper = Proc("shipper", socpipe("ingest", "file", str(path), "--tenant", "red", "--parser", "windows",
                                      "--follow", "--host", "orphan", "--state-dir", str(work / unique)),
                   env, work / f"{unique}.log")  # fmt: skip
    shipper.start()
    stop = threading.Event()

    def write() -> None:  # about 100 lines/s: a transaction is always open
        lines = events("red", 40_000, 5)
        i = 0
        while not stop.is_set():
            with path.open("a") as handle:
                handle.write("\n".join(lines[i : i + 10]) + "\n")
            i += 10
            stop.wait(0.1)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        deadline = time.monotonic() + 60
        while stable_offsets(settings)[1] < 200:
            assert time.monotonic() < deadline, "the shipper never shipped"
            time.sleep(0.5)
        time.sleep(3)
        assert shipper.process is not None
        shipper.process.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        shipper.process.wait(10)
        stop.set()
        while time.monotonic() - killed < 150:
            lso, high = stable_offsets(settings)
            if lso == high:
                return round(time.monotonic() - killed, 1)
            time.sleep(0.5)
        return None
    finally:
        stop.set()
        writer.join(5)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the shipper.")
    args = parser.parse_args()
    extra = dict(item.split("=", 1) for item in args.env)
    work = Path(tempfile.mkdtemp(prefix="socpipe-orphan-"))
    held = [one_run(work, extra) for _ in range(args.runs)]
    done = [h for h in held if h is not None]
    print(f"env {extra or '(defaults)'}: readers held up s {held}, "
          f"median {statistics.median(done) if done else None}")  # fmt: skip


if __name__ == "__main__":
    main()
