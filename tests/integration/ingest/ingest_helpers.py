"""Helpers of the ingest integration tests: read a topic whole (committed records only), run normalise."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from kafka.structs import TopicPartition

from ingest.normalise import EventEnvelope, NormaliseStage
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
