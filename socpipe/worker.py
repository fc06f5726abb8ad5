"""The one worker loop every stage runs in.

Contract: poll a bounded batch -> stage.process(batch) -> publish its outputs and dead letters ->
wait for Kafka's acknowledgements (and the stage's own durable writes, done inside `process`) ->
commit the input offsets. A crash anywhere before the commit means the batch is processed again,
so delivery is at least once and every stage must write idempotently (deterministic ids).

Bad input is data: a stage turns it into a DeadLetter and the loop goes on. A broken program is
an exception: it propagates, nothing is committed, and the process stops for its supervisor to restart.

Metrics, labelled like the log context (stage, topic, partition): per committed batch the records,
outputs per topic, dead letters and the batch's duration; between batches, at most every
`lag_interval_s`, the consumer lag per assigned partition (one broker round trip, not per batch).
"""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import structlog
from kafka import KafkaConsumer
from kafka.structs import OffsetAndMetadata, TopicPartition
from pydantic import ValidationError

from schemas.deadletter import DeadLetter, SourcePosition
from socpipe.bus import Inbound, Outbound, Publisher
from socpipe.consumer_lag import LagReporter
from socpipe.logging import get_logger
from socpipe.metrics import Metrics, NullMetrics

log = get_logger(__name__)


@dataclass
class StageOutput:
    messages: list[Outbound] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)


class Stage(Protocol):
    """A pipeline stage: a plain object, testable without a bus."""

    name: str

    def process(self, batch: Sequence[Inbound]) -> StageOutput: ...


@dataclass
class WorkerStats:
    batches: int = 0
    records: int = 0
    outputs: int = 0
    dead_letters: int = 0
    outputs_by_topic: Counter[str] = field(default_factory=Counter)


def _to_inbound(record: object) -> Inbound:
    return Inbound(
        topic=record.topic,  # type: ignore[attr-defined]
        partition=record.partition,  # type: ignore[attr-defined]
        offset=record.offset,  # type: ignore[attr-defined]
        value=record.value,  # type: ignore[attr-defined]
        key=record.key,  # type: ignore[attr-defined]
        headers=tuple(record.headers or ()),  # type: ignore[attr-defined]
        timestamp_ms=record.timestamp,  # type: ignore[attr-defined]
    )


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM/SIGINT, so the loop finishes its batch and commits before exiting."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def run_worker(
    stage: Stage,
    consumer: KafkaConsumer,
    publisher: Publisher,
    dlq_topic: str,
    *,
    stop: threading.Event | None = None,
    poll_timeout_ms: int = 1000,
    max_records: int = 500,
    idle_polls_before_exit: int | None = None,
    on_batch: Callable[[WorkerStats], None] | None = None,
    metrics: Metrics | None = None,
    lag_interval_s: float = 5.0,
) -> WorkerStats:
    """Run until `stop` is set (or after `idle_polls_before_exit` empty polls, for demos and tests)."""
    stop = stop or threading.Event()
    metrics = metrics or NullMetrics()
    lag = LagReporter(consumer, metrics, stage.name, interval_s=lag_interval_s)
    stats = WorkerStats()
    idle = 0
    with structlog.contextvars.bound_contextvars(stage=stage.name):
        log.info("worker started", dlq=dlq_topic)
        for counter in ("records_processed", "dead_letters"):  # at 0 from the start, so alerts on rate() work
            metrics.count(counter, 0, stage=stage.name)
        while not stop.is_set():
            lag.maybe_report()
            polled = consumer.poll(timeout_ms=poll_timeout_ms, max_records=max_records)
            batch = [_to_inbound(r) for records in polled.values() for r in records]
            if not batch:
                # Polls before the group gave this consumer its partitions prove nothing is left.
                idle += 1 if consumer.assignment() else 0
                if idle_polls_before_exit is not None and idle >= idle_polls_before_exit:
                    break
                continue
            idle = 0
            started = time.perf_counter()
            output = stage.process(batch)
            publisher.send_all(output.messages)
            publisher.send_all(
                Outbound(topic=dlq_topic, value=d.model_dump_json().encode(), key=(d.tenant or "").encode())
                for d in output.dead_letters
            )
            publisher.flush()
            consumer.commit(_next_offsets(batch))
            _account(stats, metrics, stage.name, len(batch), output, seconds=time.perf_counter() - started)
            for dead in output.dead_letters:
                log.warning("dead letter", reason=dead.reason, **dead.position.model_dump(exclude_none=True))
            if on_batch:
                on_batch(stats)
        log.info("worker stopped", records=stats.records, dead_letters=stats.dead_letters)
    return stats


def _account(
    stats: WorkerStats, metrics: Metrics, stage: str, records: int, output: StageOutput, *, seconds: float
) -> None:
    """A committed batch in the caller's stats and the operator's metrics (labels as in the log context)."""
    stats.batches += 1
    stats.records += records
    stats.outputs += len(output.messages)
    stats.dead_letters += len(output.dead_letters)
    metrics.count("records_processed", records, stage=stage)
    metrics.count("dead_letters", len(output.dead_letters), stage=stage)
    for topic, sent in Counter(m.topic for m in output.messages).items():
        stats.outputs_by_topic[topic] += sent
        metrics.count("outputs", sent, stage=stage, topic=topic)
    metrics.observe("batch_duration_seconds", seconds, stage=stage)


def _next_offsets(batch: Sequence[Inbound]) -> dict[TopicPartition, OffsetAndMetadata]:
    highest: dict[TopicPartition, int] = {}
    for record in batch:
        tp = TopicPartition(record.topic, record.partition)
        highest[tp] = max(highest.get(tp, -1), record.offset)
    return {tp: OffsetAndMetadata(offset + 1, "", -1) for tp, offset in highest.items()}


def dead_letter(record: Inbound, stage: str, exc: Exception, *, tenant: str | None = None) -> DeadLetter:
    """A consumed record that a stage cannot process, kept with the reason and its Kafka position."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(root)"
        reason = f"invalid message: {where}: {first['msg']} ({exc.error_count()} errors)"
    else:
        reason = str(exc) or type(exc).__name__
    return DeadLetter(
        reason=reason,
        stage=stage,
        tenant=tenant,
        error_type=type(exc).__name__,
        position=SourcePosition(topic=record.topic, partition=record.partition, offset=record.offset),
        original=record.value,
        replay_topic=record.topic,
    )
