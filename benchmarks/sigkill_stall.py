"""How long a stage stalls after one of its workers is SIGKILLed (issue 17 item 3).

A steady stream (about 40 records/s over 6 hosts) goes to events.raw; `socpipe normalise run` workers
turn it into events.ecs. At a random moment one worker is SIGKILLed. The stall is the time from the
kill until every host has output on events.ecs again (the hosts of the killed worker's partitions
come back last), measured by a reader that sees each record as it is written.

Scenarios, each `--runs` times (median and max reported), for each consumer-group setting:
- replica: two workers; one is killed and not replaced (its partitions must move to the other);
- restart: one worker; killed and started again at once (a supervisor's restart);
Settings: `before` = kafka-python's defaults (session 45 s, heartbeat 3 s), `after` = socpipe's defaults
(SOCPIPE_KAFKA_SESSION_TIMEOUT_MS / _HEARTBEAT_INTERVAL_MS), `static` = after + a group instance id
(SOCPIPE_KAFKA_GROUP_INSTANCE_ID), restart scenario only.

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 .venv/bin/python benchmarks/sigkill_stall.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kafka.structs import TopicPartition

from ingest.shippers.records import Origin, RawSink
from socpipe.bus import KafkaBus
from socpipe.settings import Settings, load_settings

SETTINGS = {
    "before": {"SOCPIPE_KAFKA_SESSION_TIMEOUT_MS": "45000", "SOCPIPE_KAFKA_HEARTBEAT_INTERVAL_MS": "3000"},
    "after": {},
    "static": {"SOCPIPE_KAFKA_GROUP_INSTANCE_ID": "normalise-0"},
}


class Stream:
    """Writes raw records steadily and watches events.ecs: the time of the last output per partition."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stop = threading.Event()
        self.outputs: list[tuple[float, bytes]] = []  # (monotonic time seen, the event's host)
        self._threads = [threading.Thread(target=self._write), threading.Thread(target=self._watch)]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def close(self) -> None:
        self.stop.set()
        for t in self._threads:
            t.join(30)

    def _write(self) -> None:
        bus = KafkaBus(self.settings)
        sink = RawSink(bus.publisher(linger_ms=0), bus.topics)
        n = 0
        while not self.stop.wait(0.025):
            host = f"host-{n % 6}"
            origin = Origin("acme", "bench", "json", host)
            sink.ship(origin, orjson.dumps({"seq": n, "host": {"name": host}}), datetime.now(UTC))
            sink.flush()
            n += 1
        sink.publisher.close()

    def _watch(self) -> None:
        consumer = KafkaBus(self.settings).reader()
        topic = self.settings.topics.ecs
        while not consumer.partitions_for_topic(topic) and not self.stop.is_set():
            time.sleep(0.2)
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        consumer.seek_to_end(*tps)
        while not self.stop.is_set():
            for records in consumer.poll(timeout_ms=100).values():
                now = time.monotonic()
                self.outputs += [(now, _host(r.value)) for r in records]
        consumer.close()

    def partitions(self) -> set[bytes]:
        """The hosts seen so far: each host's raw records are on one partition, read by one worker."""
        return {key for _, key in self.outputs}

    def resumed_after(self, since: float, partitions: set[bytes]) -> float | None:
        """Seconds from `since` until each host had output again (None: not yet)."""
        firsts: dict[bytes, float] = {}
        for seen, key in self.outputs:
            if seen > since and key not in firsts:
                firsts[key] = seen
        if not partitions or not partitions <= set(firsts):
            return None
        return max(firsts.values()) - since


_HOST = re.compile(rb"host-\d+")


def _host(value: bytes) -> bytes:
    """The stream's host name in an ECS event (events.ecs is keyed by tenant only)."""
    found = _HOST.search(value)
    return found.group(0) if found else b""


def _worker(settings: Settings, extra: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "SOCPIPE_TOPIC_PREFIX": settings.topic_prefix,
        "SOCPIPE_POLL_TIMEOUT_MS": "200",
        **extra,
    }
    script = Path(sys.executable).parent / "socpipe"
    return subprocess.Popen(
        [str(script), "normalise", "run"], env=env, stdout=subprocess.DEVNULL, stderr=log.open("ab")
    )


def _steady(stream: Stream, timeout_s: float = 120) -> set[bytes]:
    """Until every partition the stream uses has had output in the last 2 s (the workers joined)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        partitions = stream.partitions()
        if (
            stream.resumed_after(time.monotonic() - 2, partitions) is not None
            and time.monotonic() > deadline - timeout_s + 10
        ):
            return partitions
        time.sleep(0.5)
    raise RuntimeError("the workers did not reach a steady state in 120 s")


def one_run(base: Settings, scenario: str, setting: str, logs: Path) -> float:
    settings = base.model_copy(update={"topic_prefix": f"stall{uuid.uuid4().hex[:8]}."})
    KafkaBus(settings).ensure_pipeline_topics()
    stream = Stream(settings)
    stream.start()
    extra = SETTINGS[setting]
    workers = [
        _worker(settings, extra, logs / f"{setting}-{scenario}-{i}.log")
        for i in range(2 if scenario == "replica" else 1)
    ]
    try:
        partitions = _steady(stream)
        time.sleep(random.uniform(2, 5))  # a random moment, with the workers settled
        killed = workers.pop(0)
        killed.send_signal(signal.SIGKILL)
        at = time.monotonic()
        killed.wait(10)
        if scenario == "restart":
            workers.append(_worker(settings, extra, logs / f"{setting}-{scenario}-restarted.log"))
        deadline = at + 120
        while (stall := stream.resumed_after(at, partitions)) is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{scenario}/{setting}: no full recovery within 120 s")
            time.sleep(0.2)
        return stall
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            try:
                w.wait(30)
            except subprocess.TimeoutExpired:
                w.kill()
        stream.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--settings", default="before,after,static")
    args = parser.parse_args()
    base = load_settings()
    logs = Path(os.environ.get("TMPDIR", "/tmp")) / f"sigkill-stall-{uuid.uuid4().hex[:6]}"
    logs.mkdir(parents=True)
    print(f"# SIGKILL stall, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
          f"{os.cpu_count()} cores, kafka {base.kafka_bootstrap_servers}, worker logs {logs}")  # fmt: skip
    print("| scenario | setting | runs | stall median s | stall max s |")
    print("| --- | --- | --- | --- | --- |")
    for setting in args.settings.split(","):
        for scenario in ("replica", "restart"):
            if setting == "static" and scenario == "replica":
                continue  # static membership changes nothing when the killed worker is not restarted
            stalls = [one_run(base, scenario, setting, logs) for _ in range(args.runs)]
            print(f"| {scenario} | {setting} | {args.runs} | {statistics.median(stalls):.1f} | "
                  f"{max(stalls):.1f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
