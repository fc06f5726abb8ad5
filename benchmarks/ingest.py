"""Ingest throughput: events/s from a file to Kafka, against the producer's own ceiling.

For each input (the corpus's 200k flat Windows events, and a generated syslog sample) and each of
`--runs` runs (median reported), on fresh topics:

- ceiling: the same RawRecord messages, encoded before the clock starts, sent through
  KafkaBus.publisher() with the same settings and flushed: what kafka-python itself can do here;
- tail: `FileTail` reading the file one-shot, exactly once (one Kafka transaction per batch with
  its checkpoint), the path `socpipe ingest file` takes;
- tail-alo: the same, at least once (no transactions, local checkpoint only).

events/s is wall-clock; "per core" divides events by this process's CPU seconds (all its threads,
the producer's I/O thread included), so it does not count the broker's own CPU on this shared box.

    .venv/bin/python benchmarks/ingest.py [--runs 3] [--limit 200000]
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson
from kafka import KafkaAdminClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingest.shippers.records import ingest_producer_settings
from ingest.shippers.tail import FileTail, TailOptions
from socpipe.bus import KafkaBus, Outbound
from socpipe.paths import corpus_dir
from socpipe.settings import Settings, load_settings


def windows_file(directory: Path, limit: int) -> Path:
    corpus = corpus_dir()
    if corpus is None:
        raise SystemExit("no corpus: set SOCPIPE_CORPUS or put ../shared/corpus beside the repository")
    out = directory / "otrf.jsonl"
    with gzip.open(corpus / "bench" / "otrf-200k.jsonl.gz", "rb") as src, out.open("wb") as dst:
        for n, line in enumerate(src):
            if n >= limit:
                break
            dst.write(line)
    return out


def syslog_file(directory: Path, limit: int) -> Path:
    """Deterministic mixed RFC 3164 / RFC 5424 lines, like an auth/cron/kernel feed."""
    rng = random.Random(42)
    hosts = [f"web{i:02d}" for i in range(20)]
    users = ["root", "alice", "bob", "deploy", "www-data"]
    out = directory / "syslog.log"
    with out.open("w", encoding="utf-8") as dst:
        for n in range(limit):
            host, user, pid = rng.choice(hosts), rng.choice(users), rng.randint(100, 65000)
            ip = f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
            minute, second = divmod(n // 50 % 3600, 60)
            if n % 3 == 0:
                dst.write(
                    f"<86>1 2026-11-30T08:{minute:02d}:{second:02d}.{n % 1000:03d}Z {host} sshd {pid} - "
                    f'[origin ip="{ip}"] Failed password for {user} from {ip} '
                    f"port {rng.randint(1024, 65535)} ssh2\n"
                )
            elif n % 3 == 1:
                dst.write(
                    f"<85>Nov 30 08:{minute:02d}:{second:02d} {host} sudo[{pid}]: {user} : TTY=pts/0 ; "
                    f"PWD=/home/{user} ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx\n"
                )
            else:
                dst.write(
                    f"<78>Nov 30 08:{minute:02d}:{second:02d} {host} CRON[{pid}]: ({user}) "
                    "CMD (run-parts /etc/cron.hourly)\n"
                )
    return out


def _encoded(path: Path, tenant: str, host: str, parser: str) -> list[Outbound]:
    received = datetime.now(UTC)
    out, offset = [], 0
    key = f"{tenant}:{host}".encode()
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            data = line.rstrip(b"\n")
            value = orjson.dumps({
                "tenant": tenant, "source": f"file:{path}", "parser": parser, "received_at": received,
                "path": str(path), "offset": offset, "line": number, "peer": None, "host_hint": host,
                "data": data.decode(),
            })  # fmt: skip
            out.append(Outbound("", value, key))
            offset += len(line)
    return out


Sample = tuple[int, float, float]  # events, wall seconds, CPU seconds


def _timed(action: Callable[[], int]) -> Sample:
    wall, cpu = time.perf_counter(), time.process_time()
    count = action()
    return count, time.perf_counter() - wall, time.process_time() - cpu


def ceiling(bus: KafkaBus, messages: list[Outbound]) -> int:
    topic = bus.topics.raw
    publisher = bus.publisher(**ingest_producer_settings())
    try:
        publisher.send(Outbound(topic, b"warm-up", b"warm-up"))
        publisher.flush()
        send = publisher.send
        for m in messages:
            send(Outbound(topic, m.value, m.key))
        publisher.flush()
    finally:
        publisher.close()
    return len(messages)


def tail(bus: KafkaBus, path: Path, parser: str, state: Path, *, exactly_once: bool) -> int:
    options = TailOptions(
        tenant="bench", parser=parser, host="bench-host", state_dir=state, exactly_once=exactly_once
    )
    return FileTail(path, options, bus).run().shipped


def measure(
    kind: str, base: Settings, *, path: Path, parser: str, messages: list[Outbound], state: Path
) -> Sample:
    """One timed run of `kind` on fresh topics, which are deleted afterwards."""
    settings = base.model_copy(update={"topic_prefix": f"bench{uuid.uuid4().hex[:8]}."})
    bus = KafkaBus(settings)
    bus.ensure_pipeline_topics()
    try:
        if kind == "ceiling":
            return _timed(lambda: ceiling(bus, messages))
        return _timed(lambda: tail(bus, path, parser, state, exactly_once=kind == "tail"))
    finally:
        shutil.rmtree(state, ignore_errors=True)
        admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers.split(","))
        try:
            admin.delete_topics(
                [t for t in settings.topics.model_dump().values() if t in admin.list_topics()]
            )
        finally:
            admin.close()


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--runs", type=int, default=3)
    args.add_argument("--limit", type=int, default=200_000, help="events per input")
    opts = args.parse_args()
    base = load_settings()
    work = Path(tempfile.mkdtemp(prefix="socpipe-bench-"))
    try:
        inputs = [
            ("windows (otrf-200k, flat)", windows_file(work, opts.limit), "windows"),
            ("syslog (generated)", syslog_file(work, opts.limit), "syslog"),
        ]
        print(
            f"# ingest benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
            f"{os.cpu_count()} cores, Python {platform.python_version()}, "
            f"Kafka at {base.kafka_bootstrap_servers}"
        )
        print(
            f"# {opts.runs} runs each, median; producer: KafkaBus.publisher (acks=all, idempotent) with "
            "ingest_producer_settings() (lz4, 1 MiB batches), the ceiling included"
        )
        print(f"{'input':28} {'path':10} {'events':>8} {'events/s':>10} {'per core':>10} {'vs ceiling':>10}")
        for label, path, parser in inputs:
            messages = _encoded(path, "bench", "bench-host", parser)
            results: dict[str, list[Sample]] = {"ceiling": [], "tail": [], "tail-alo": []}
            for run in range(opts.runs):
                for kind, samples in results.items():
                    samples.append(
                        measure(
                            kind,
                            base,
                            path=path,
                            parser=parser,
                            messages=messages,
                            state=work / f"s{run}{kind}",
                        )
                    )
            top = statistics.median(n / wall for n, wall, _ in results["ceiling"])
            for kind, samples in results.items():
                rate = statistics.median(n / wall for n, wall, _ in samples)
                per_core = statistics.median(n / cpu for n, _, cpu in samples)
                events = samples[0][0]
                print(f"{label:28} {kind:10} {events:>8} {rate:>10.0f} {per_core:>10.0f} {top / rate:>9.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
