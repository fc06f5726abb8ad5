"""Helpers of the ingest integration tests: read a topic whole (committed records only), run normalise,
run a syslog receiver."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kafka.structs import TopicPartition

from ingest.normalise import EventEnvelope, NormaliseStage
from ingest.shippers.network_sink import NetworkSink
from ingest.shippers.records import RawSink, ingest_producer_settings
from ingest.shippers.syslog import ReceiverStats, SyslogListener, serve_syslog
from schemas.deadletter import DeadLetter
from schemas.raw import RawRecord
from socpipe.bus import KafkaBus
from socpipe.settings import Settings
from socpipe.worker import WorkerStats, run_worker


@dataclass(frozen=True)
class Record:
    partition: int
    offset: int
    key: bytes | None
    value: bytes


def read_topic(settings: Settings, topic: str, *, at_least: int = 0, timeout_s: float = 30) -> list[Record]:
    """Every committed record of `topic` (read_committed), waiting until there are `at_least` of them."""
    bus = KafkaBus(settings)
    bus.ensure_topics([topic])
    deadline = time.monotonic() + timeout_s
    while True:
        records = _read_once(bus, topic)
        if len(records) >= at_least or time.monotonic() > deadline:
            return records
        time.sleep(0.3)


def _read_once(bus: KafkaBus, topic: str) -> list[Record]:
    consumer = bus.consumer(None, [topic])  # type: ignore[arg-type]
    try:
        consumer.unsubscribe()
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not tps:  # this consumer's metadata has no partitions for it yet: read_topic asks again
            return []
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        out: list[Record] = []
        deadline = time.monotonic() + 30
        while any(consumer.position(tp) < end[tp] for tp in tps) and time.monotonic() < deadline:
            for tp, batch in consumer.poll(timeout_ms=500).items():
                out += [Record(tp.partition, r.offset, r.key, r.value) for r in batch if r.offset < end[tp]]
        return out
    finally:
        consumer.close()


def raw_records(settings: Settings, at_least: int = 0) -> list[RawRecord]:
    return [
        RawRecord.model_validate_json(r.value)
        for r in read_topic(settings, settings.topics.raw, at_least=at_least)
    ]


def dead_letters(settings: Settings, at_least: int = 0) -> list[DeadLetter]:
    """The dead letters on the topic (not the markers `dlq replay` writes beside them)."""
    records = read_topic(settings, settings.topics.dlq, at_least=at_least)
    return [
        DeadLetter.model_validate_json(r.value) for r in records if not r.value.startswith(b'{"replayed"')
    ]


def events(settings: Settings, at_least: int = 0) -> list[EventEnvelope]:
    records = read_topic(settings, settings.topics.ecs, at_least=at_least)
    return [EventEnvelope.model_validate_json(r.value) for r in records]


def run_normalise(settings: Settings) -> WorkerStats:
    """The normalise stage in its consumer group, until the raw topic has been idle for a moment."""
    bus = KafkaBus(settings)
    bus.ensure_pipeline_topics()
    consumer = bus.consumer(settings.normalise_group, [settings.topics.raw])
    publisher = bus.publisher()
    try:
        return run_worker(
            NormaliseStage(settings.topics), consumer, publisher, settings.topics.dlq,
            poll_timeout_ms=500, idle_polls_before_exit=4, max_records=2000,
        )  # fmt: skip
    finally:
        consumer.close()
        publisher.close()


TRICKLE = 1000  # last lines of a writer with a `hold`: one every 0.1 s until it is set (100 s at most)


def write_json_lines(
    path: Path,
    done: threading.Event,
    lines: int,
    seed: int = 7,
    bursts: tuple[int, int] = (50, 400),
    hold: threading.Event | None = None,
) -> None:
    """Appends `lines` JSON lines (`{"seq": n}`, padded) in bursts of `bursts` lines every 0.1 s, like a
    busy application; sets `done` at the end. With a `hold`, the last TRICKLE lines come one at a time
    until `hold` is set, then in bursts again: a test that kills the shipper while lines are being
    written sets it after its last kill, so that on a loaded machine, where each restart of the shipper
    takes seconds, the stream neither ends before the last kill (a CI simulation once saw the writer
    finish before the third kill) nor stops bringing new lines for a restarted shipper to commit."""
    rng = random.Random(seed)
    with path.open("a", encoding="utf-8") as handle:
        n = 0
        while n < lines:
            burst = min(rng.randint(*bursts), lines - n)
            if hold is not None and lines - n <= TRICKLE and not hold.is_set():
                burst = 1
            handle.write(
                "".join(
                    json.dumps({"seq": n + i, "pad": "x" * rng.randint(10, 200)}) + "\n" for i in range(burst)
                )
            )
            handle.flush()
            n += burst
            time.sleep(0.1)
    done.set()


def kill_repeatedly(
    settings: Settings,
    start: Callable[[], subprocess.Popen[bytes]],
    writing: Callable[[], bool],
    kills: int = 3,
) -> tuple[subprocess.Popen[bytes], list[int]]:
    """Starts a shipper and `kills` times: waits until it committed something new to events.raw (so each
    kill lands on a shipper that is running, however slow its start), lets it run 0.2-1 s more, SIGKILLs
    it and starts another. Returns the running shipper and the records committed at each kill."""
    shipper, counts = start(), [0]
    try:
        for _ in range(kills):
            deadline = time.monotonic() + 60
            while len(read_topic(settings, settings.topics.raw)) <= counts[-1]:
                assert time.monotonic() < deadline, "the shipper made no progress in 60 s"
                time.sleep(0.2)
            time.sleep(random.uniform(0.2, 1.0))
            shipper.send_signal(signal.SIGKILL)
            shipper.wait(10)
            counts.append(len(read_topic(settings, settings.topics.raw)))
            assert writing(), "each kill must land while lines are being written"
            shipper = start()
    except BaseException:
        shipper.kill()
        raise
    return shipper, counts[1:]


def socpipe_command(*args: str) -> list[str]:
    """The `socpipe` console script of this interpreter's environment."""
    script = Path(sys.executable).parent / "socpipe"
    return [str(script), *args]


def socpipe_env(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "SOCPIPE_TOPIC_PREFIX": settings.topic_prefix,
        **extra,
    }


@contextmanager
def syslog_receiver(
    settings: Settings,
    listeners: list[SyslogListener],
    max_bytes: int = 4096,
    sink: NetworkSink | None = None,
) -> Iterator[ReceiverStats]:
    """Runs serve_syslog on its own event loop thread; yields its stats (bound ports) once listening.

    Without `sink`, one on real Kafka is made, started and closed here; a given sink is the caller's
    to start and close (a test may hold it back, as if Kafka were behind)."""
    own = sink is None
    if sink is None:
        bus = KafkaBus(settings)
        bus.ensure_pipeline_topics()
        raw = RawSink(bus.publisher(**ingest_producer_settings()), bus.topics, max_bytes)
        sink = NetworkSink(raw).start()
    stats = ReceiverStats()
    serve = functools.partial(serve_syslog, listeners, sink, max_message_bytes=max_bytes, stats=stats)
    try:
        with serving(lambda stop, ready: serve(stop, started=ready)):
            yield stats
    finally:
        if own:
            sink.close()
            sink.sink.publisher.close()


@contextmanager
def serving(start: Callable[[asyncio.Event, asyncio.Event], Coroutine[Any, Any, Any]]) -> Iterator[None]:
    """Runs `start(stop, ready)` (a receiver's serve coroutine) on an event loop thread of its own,
    from when it sets `ready` (listening) until the block ends (then `stop` is set and it is awaited)."""
    loop, stop, started = asyncio.new_event_loop(), asyncio.Event(), threading.Event()

    async def main() -> None:
        ready = asyncio.Event()
        task = asyncio.create_task(start(stop, ready))
        await ready.wait()
        started.set()
        await task

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),))
    thread.start()
    assert started.wait(10), "the receiver did not start listening"
    try:
        yield
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
