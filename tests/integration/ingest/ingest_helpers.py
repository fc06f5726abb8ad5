"""Helpers of the ingest integration tests: read a topic whole (committed records only), run normalise,
run a syslog receiver."""

from __future__ import annotations

import asyncio
import functools
import os
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
    records = read_topic(settings, settings.topics.dlq, at_least=at_least)
    return [DeadLetter.model_validate_json(r.value) for r in records]


def events(settings: Settings, at_least: int = 0) -> list[EventEnvelope]:
    records = read_topic(settings, settings.topics.ecs, at_least=at_least)
    return [EventEnvelope.model_validate_json(r.value) for r in records]


def run_normalise(settings: Settings) -> WorkerStats:
    """The normalise stage in its consumer group, until the raw topic has been idle for a moment."""
    bus = KafkaBus(settings)
    bus.ensure_pipeline_topics()
    consumer = bus.consumer("socpipe-normalise", [settings.topics.raw])
    publisher = bus.publisher()
    try:
        return run_worker(
            NormaliseStage(settings.topics), consumer, publisher, settings.topics.dlq,
            poll_timeout_ms=500, idle_polls_before_exit=4, max_records=2000,
        )  # fmt: skip
    finally:
        consumer.close()
        publisher.close()


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
