"""Where the worker loop reads and writes: a Source of batches and a Sink of outputs.

The loop (socpipe/worker.py) knows only these two protocols, so its contract (commit only after the
outputs are durable) has unit tests on the in-memory pair below, the way bytewax tests dataflows with
its testing source and sink. Production binds KafkaSource (a consumer in a group) and PublisherSink.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from kafka import KafkaConsumer
from kafka.structs import OffsetAndMetadata, TopicPartition

from socpipe.bus import Inbound, Outbound, Publisher
from socpipe.consumer_lag import LagReporter
from socpipe.logging import get_logger
from socpipe.metrics import Metrics

log = get_logger(__name__)


class Source(Protocol):
    """Batches of input records, committed once their outputs are durable."""

    def poll(self, max_records: int, timeout_ms: int) -> list[Inbound]:
        """The next records (empty when none came within `timeout_ms`)."""

    def commit(self, batch: Sequence[Inbound], held: Mapping[tuple[str, int], int] | None = None) -> None:
        """Record that `batch` is done: a restart starts after it, or at the `held` offset of its
        partition (a record the stage has read but not written out yet)."""

    def rewind(self) -> None:
        """Go back to the last commit: after a failed batch, the next polls return it again."""

    def report_lag(self) -> None:
        """Measure the backlog into the metrics, if due (a no-op where there is none to measure)."""

    def ready(self) -> bool:
        """Whether an empty poll means no input: a consumer still joining its group has none yet."""


class Sink(Protocol):
    """Where a batch's outputs and dead letters go; durable once `flush` returns."""

    def send_all(self, messages: Sequence[Outbound]) -> None: ...

    def flush(self) -> None:
        """Block until everything sent is durable; raise if any of it is not."""

    def reset(self) -> None:
        """After a failed flush: forget what was sent (the batch will be sent again)."""


def next_offsets(
    batch: Sequence[Inbound], held: Mapping[tuple[str, int], int] | None = None
) -> dict[TopicPartition, OffsetAndMetadata]:
    """Where a restart starts per partition of `batch`: after its last record, or at its `held` one."""
    highest: dict[TopicPartition, int] = {}
    for record in batch:
        tp = TopicPartition(record.topic, record.partition)
        highest[tp] = max(highest.get(tp, -1), record.offset + 1)
    held = held or {}
    return {
        tp: OffsetAndMetadata(min(offset, held.get((tp.topic, tp.partition), offset)), "", -1)
        for tp, offset in highest.items()
    }


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


class KafkaSource:
    """A consumer in its group (manual commits), with the consumer lag measured between batches."""

    def __init__(self, consumer: KafkaConsumer, metrics: Metrics, stage: str, lag_interval_s: float) -> None:
        self.consumer = consumer
        self._lag = LagReporter(consumer, metrics, stage, interval_s=lag_interval_s)

    def poll(self, max_records: int, timeout_ms: int) -> list[Inbound]:
        polled = self.consumer.poll(timeout_ms=timeout_ms, max_records=max_records)
        return [_to_inbound(r) for records in polled.values() for r in records]

    def commit(self, batch: Sequence[Inbound], held: Mapping[tuple[str, int], int] | None = None) -> None:
        self.consumer.commit(next_offsets(batch, held))

    def rewind(self) -> None:
        """Every assigned partition back to its committed offset (or to the reset policy's start)."""
        assigned = list(self.consumer.assignment())
        for tp in assigned:
            committed = self.consumer.committed(tp)
            if committed is None:
                self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, committed)

    def report_lag(self) -> None:
        self._lag.maybe_report()

    def ready(self) -> bool:
        return bool(self.consumer.assignment())


class PublisherSink:
    """The stage's outputs to Kafka through the shared Publisher (acks=all, idempotent)."""

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher

    def send_all(self, messages: Sequence[Outbound]) -> None:
        self.publisher.send_all(messages)

    def flush(self) -> None:
        self.publisher.flush()

    def reset(self) -> None:
        self.publisher.reset()


@dataclass
class MemorySource:
    """Records in a list, offsets committed in a dict: the loop's contract tested without a broker.

    `fail_commits` makes the next so many commits raise `commit_error` (an outage at the worst time)."""

    records: list[Inbound]
    committed: dict[tuple[str, int], int] = field(default_factory=dict)
    position: int = 0
    fail_commits: int = 0
    commit_error: Exception | None = None
    commits: int = 0

    def poll(self, max_records: int, timeout_ms: int) -> list[Inbound]:
        batch = self.records[self.position : self.position + max_records]
        self.position += len(batch)
        return batch

    def commit(self, batch: Sequence[Inbound], held: Mapping[tuple[str, int], int] | None = None) -> None:
        if self.fail_commits:
            self.fail_commits -= 1
            raise self.commit_error or RuntimeError("commit failed")
        for tp, meta in next_offsets(batch, held).items():
            self.committed[(tp.topic, tp.partition)] = meta.offset
        self.commits += 1

    def rewind(self) -> None:
        self.position = next(
            (
                i
                for i, r in enumerate(self.records)
                if r.offset >= self.committed.get((r.topic, r.partition), 0)
            ),
            len(self.records),
        )

    def report_lag(self) -> None:
        return None

    def ready(self) -> bool:
        return True


@dataclass
class MemorySink:
    """Keeps what was flushed; `fail_flushes` makes the next so many flushes raise `flush_error`."""

    durable: list[Outbound] = field(default_factory=list)
    pending: list[Outbound] = field(default_factory=list)
    fail_flushes: int = 0
    flush_error: Exception | None = None

    def send_all(self, messages: Sequence[Outbound]) -> None:
        self.pending.extend(messages)

    def flush(self) -> None:
        if self.fail_flushes:
            self.fail_flushes -= 1
            raise self.flush_error or RuntimeError("flush failed")
        self.durable.extend(self.pending)
        self.pending = []

    def reset(self) -> None:
        self.pending = []
