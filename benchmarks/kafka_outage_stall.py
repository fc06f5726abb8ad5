"""How long normalise stalls after a Kafka outage, and why (issue 17: 46.6 s in the faults benchmark).

On a private Kafka and Elasticsearch pair (devtools/private.py; never the shared servers), two
`socpipe ingest file --follow` shippers (exactly-once: transactions on events.raw) ship a steady stream
and `socpipe normalise run` (read_committed) reads it. Kafka is SIGKILLed for `--outage` seconds and
started again. Measured from the moment Kafka answers again:

- stall: until normalise's group commits past where it stood (its output moved again);
- lso: until events.raw's last stable offset moved (no transaction holds read_committed readers);
- shippers: until each shipper logged that Kafka was back.

Settings under test are passed as environment variables to every process (`--env NAME=VALUE`), so the
same script measures before and after, e.g. the transaction timeout or the clients' reconnect backoff:

    .venv/bin/python benchmarks/kafka_outage_stall.py --runs 2 --outage 30
    .venv/bin/python benchmarks/kafka_outage_stall.py --runs 2 --outage 30 \\
        --env SOCPIPE_KAFKA_RECONNECT_BACKOFF_MAX_MS=30000 --env SOCPIPE_KAFKA_TRANSACTION_TIMEOUT_MS=60000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from faults import Proc, events, position, socpipe  # the faults benchmark's helpers
from kafka.structs import TopicPartition

from devtools.private import KAFKA, PrivatePair
from socpipe.bus import KafkaBus
from socpipe.settings import Settings, load_settings

TENANTS = ("red", "blue")


def stable_offsets(settings: Settings) -> tuple[int, int]:
    """(last stable offset, high watermark) of events.raw, summed: they differ while a transaction is open."""
    sums = []
    for isolation in ("read_committed", "read_uncommitted"):
        consumer = KafkaBus(settings).reader(isolation_level=isolation, request_timeout_ms=5000)
        try:
            name = settings.topics.raw
            tps = [TopicPartition(name, p) for p in sorted(consumer.partitions_for_topic(name) or ())]
            sums.append(sum(consumer.end_offsets(tps).values()))
        finally:
            consumer.close()
    return sums[0], sums[1]


def back_logged(log: Path, since_line: int) -> bool:
    for line in log.read_text().splitlines()[since_line:]:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if str(record.get("event", "")).startswith(f"{KAFKA} available again"):
            return True
    return False


def _processes(settings: Settings, run_dir: Path, extra_env: dict[str, str]) -> list[Proc]:
    """The shippers (one per tenant) and normalise, as processes on the run's prefixes (not started)."""
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "ELASTICSEARCH_URL": settings.elasticsearch_url,
        "SOCPIPE_TOPIC_PREFIX": settings.topic_prefix,
        "SOCPIPE_INDEX_PREFIX": settings.index_prefix,
        "SOCPIPE_POLL_TIMEOUT_MS": "300",
        **extra_env,
    }
    procs = []
    for tenant in TENANTS:
        path = run_dir / f"{tenant}.jsonl"
        path.touch()
        command = socpipe("ingest", "file", str(path), "--tenant", tenant, "--parser", "windows", "--follow",
                          "--host", "stall", "--state-dir", str(run_dir / "state"))  # fmt: skip
        procs.append(Proc(f"shipper-{tenant}", command, env, run_dir / f"shipper-{tenant}.log"))
    procs.append(Proc("normalise", socpipe("normalise", "run"), env, run_dir / "normalise.log"))
    return procs


def _write(run_dir: Path, stop: threading.Event) -> None:
    """About 40 lines/s per tenant, until `stop`."""
    lines = {t: events(t, 40_000, 3) for t in TENANTS}
    i = 0
    while not stop.is_set():
        for tenant in TENANTS:
            with (run_dir / f"{tenant}.jsonl").open("a") as handle:
                handle.write("\n".join(lines[tenant][i : i + 8]) + "\n")
        i += 8
        stop.wait(0.2)


def _recovery(settings: Settings, procs: list[Proc], marks: dict[str, int]) -> dict[str, float | None]:
    """From now (Kafka answers again): seconds until normalise commits further, until events.raw's last
    stable offset moves, and until every shipper logged that Kafka is back."""
    back = time.monotonic()
    before, _ = position(settings, "normalise")
    lso_before, _ = stable_offsets(settings)
    result: dict[str, float | None] = {"stall": None, "lso": None}
    shippers: dict[str, float] = {}
    while time.monotonic() - back < 180 and (
        result["stall"] is None or result["lso"] is None or len(shippers) < len(TENANTS)
    ):
        now = round(time.monotonic() - back, 1)
        done, _ = position(settings, "normalise")
        if result["stall"] is None and before >= 0 and done > before:
            result["stall"] = now
        if before < 0:
            before = done
        lso, _ = stable_offsets(settings)
        if result["lso"] is None and lso > lso_before:
            result["lso"] = now
        for proc in procs[: len(TENANTS)]:
            if proc.name not in shippers and back_logged(proc.log, marks[proc.name]):
                shippers[proc.name] = now
        for proc in procs:
            proc.check()
        time.sleep(0.3)
    result["shippers back (max)"] = max(shippers.values()) if shippers else None
    result["died"] = float(sum(p.died for p in procs))
    return result


def one_run(
    pair: PrivatePair, work: Path, outage_s: float, extra_env: dict[str, str]
) -> dict[str, float | None]:
    endpoints = pair.endpoints
    unique = uuid.uuid4().hex[:6]
    settings = load_settings(
        kafka_bootstrap_servers=endpoints.kafka_bootstrap,
        elasticsearch_url=endpoints.elasticsearch_url,
        topic_prefix=f"s{unique}.",
        index_prefix=f"s{unique}-socpipe",
    )
    KafkaBus(settings).ensure_pipeline_topics()
    run_dir = work / unique
    run_dir.mkdir()
    procs = _processes(settings, run_dir, extra_env)
    for proc in procs:
        proc.start()
    stop = threading.Event()
    writer = threading.Thread(target=_write, args=(run_dir, stop), daemon=True)
    writer.start()
    try:
        deadline = time.monotonic() + 120
        while position(settings, "normalise")[0] <= 0:
            assert time.monotonic() < deadline, "normalise never started"
            time.sleep(1)
        time.sleep(10)  # a steady state
        marks = {p.name: len(p.log.read_text().splitlines()) for p in procs}
        pair.stop(KAFKA, kill=True)
        time.sleep(outage_s)
        pair.start()
        return _recovery(settings, procs, marks)
    finally:
        stop.set()
        writer.join(5)
        for proc in procs:
            proc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--outage", type=float, default=30.0, help="Seconds Kafka stays down (SIGKILLed).")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for every socpipe process.")
    args = parser.parse_args()
    extra = dict(item.split("=", 1) for item in args.env)
    work = Path(tempfile.mkdtemp(prefix="socpipe-stall-"))
    pair = PrivatePair(work / "servers")
    rows = []
    try:
        pair.start()
        for n in range(args.runs):
            row = one_run(pair, work, args.outage, extra)
            print(f"run {n + 1}: {row}", flush=True)
            rows.append(row)
    finally:
        pair.close()
    stalls = [r["stall"] for r in rows if r["stall"] is not None]
    print(f"env {extra or '(defaults)'}; outage {args.outage:.0f} s; stall s: {[r['stall'] for r in rows]}, "
          f"median {statistics.median(stalls) if stalls else None}; lso s: {[r['lso'] for r in rows]}; "
          f"shippers back s: {[r['shippers back (max)'] for r in rows]}")  # fmt: skip


if __name__ == "__main__":
    main()
