"""Consumer lag per assigned partition, measured at most every `interval_s` so the hot path stays cheap.

Lag is the partition's end offset (the last stable offset for socpipe's read_committed consumers)
minus the consumer's position (the next offset it returns). The worker commits after every batch, so
between batches the position is the committed offset and this is the group lag an operator would read
with `kafka-consumer-groups.sh --describe`, split by the member that holds each partition.

Measuring costs one ListOffsets round trip; positions are local. A failed measurement is logged and
skipped: metrics must never stop a worker that can still process.

`group_lag` is the same figure read from outside the group (its committed offsets, through the admin
API), for whoever watches a group without being in it: tests waiting for a pipeline to drain, and the
benchmarks' probes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Protocol

from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata, TopicPartition

from socpipe.logging import get_logger
from socpipe.metrics import Metrics

log = get_logger(__name__)

LAG = "consumer_lag"


class LagSource(Protocol):
    """The part of KafkaConsumer the measurement reads."""

    def assignment(self) -> Collection[TopicPartition]: ...

    def end_offsets(
        self, partitions: list[TopicPartition], timeout_ms: int | None = None
    ) -> Mapping[TopicPartition, int]: ...

    def position(self, partition: TopicPartition, timeout_ms: int | None = None) -> int | None: ...


class LagReporter:
    """Sets the `consumer_lag` gauge per assigned partition; forgets partitions handed to another worker."""

    def __init__(
        self,
        consumer: LagSource,
        metrics: Metrics,
        stage: str,
        *,
        interval_s: float = 5.0,
        timeout_ms: int = 5_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._consumer = consumer
        self._metrics = metrics
        self._stage = stage
        self._interval_s = interval_s
        self._timeout_ms = timeout_ms
        self._clock = clock
        self._due = float("-inf")
        self._reported: set[TopicPartition] = set()

    def maybe_report(self) -> None:
        """Measure if `interval_s` has passed since the last measurement; otherwise one clock read.

        Before the group assigns partitions there is nothing to measure, and the interval is not spent.
        """
        now = self._clock()
        if now >= self._due and (self._reported or self._consumer.assignment()):
            self._due = now + self._interval_s
            self.report()

    def report(self) -> dict[TopicPartition, int]:
        """Measure now and set the gauges; returns the lag per partition (empty if it could not measure)."""
        assigned = set(self._consumer.assignment())
        for gone in self._reported - assigned:
            self._metrics.unset(LAG, **self._labels(gone))
        self._reported &= assigned
        if not assigned:
            return {}
        try:
            ends = self._consumer.end_offsets(sorted(assigned), timeout_ms=self._timeout_ms)
            positions = {tp: self._consumer.position(tp, timeout_ms=self._timeout_ms) for tp in assigned}
        except KafkaError as exc:
            log.warning("consumer lag not measured", error=str(exc) or type(exc).__name__)
            return {}
        lags = {
            tp: max(ends[tp] - position, 0)
            for tp, position in positions.items()
            if position is not None and ends.get(tp) is not None
        }
        for tp, lag in lags.items():
            self._metrics.gauge(LAG, lag, **self._labels(tp))
        self._reported |= set(lags)
        return lags

    def _labels(self, tp: TopicPartition) -> dict[str, str]:
        return {"stage": self._stage, "topic": tp.topic, "partition": str(tp.partition)}


class GroupOffsets(Protocol):
    """The part of KafkaAdminClient `group_lag` reads."""

    def list_group_offsets(
        self, group_specs: dict[str, list[TopicPartition]]
    ) -> Mapping[str, Mapping[TopicPartition, OffsetAndMetadata]]: ...


class TopicOffsets(Protocol):
    """The part of a KafkaConsumer (outside any group) `group_lag` reads."""

    def partitions_for_topic(self, topic: str) -> set[int] | None: ...

    def beginning_offsets(self, partitions: list[TopicPartition]) -> Mapping[TopicPartition, int]: ...

    def end_offsets(self, partitions: list[TopicPartition]) -> Mapping[TopicPartition, int]: ...


@dataclass(frozen=True)
class GroupLag:
    lag: int  # records of the topic the group has not committed, summed over partitions
    done: int  # the group's committed offsets, summed (a partition never committed: its first offset)
    end: int  # the topic's end offsets, summed: how far the group could get
    partitions: int


def group_lag(
    admin: GroupOffsets, offsets: TopicOffsets, group: str, topic: str, *, transactional: bool = False
) -> GroupLag | None:
    """A consumer group's lag on a topic from its committed offsets; None while the topic has no
    partitions yet.

    On a topic written in transactions (the file shipper's events.raw) each partition ends with a commit
    marker, an offset no consumer commits past: with `transactional`, one offset per written partition
    is not lag.
    """
    partitions = offsets.partitions_for_topic(topic)
    if not partitions:
        return None
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    ends = offsets.end_offsets(tps)
    starts = offsets.beginning_offsets(tps)
    committed = admin.list_group_offsets({group: tps}).get(group, {})
    lag = done = 0
    for tp in tps:
        meta = committed.get(tp)
        position = meta.offset if meta is not None and meta.offset >= 0 else starts[tp]
        behind = max(0, ends[tp] - position)
        lag += max(0, behind - 1) if transactional and ends[tp] else behind
        done += position
    return GroupLag(lag=lag, done=done, end=sum(ends.values()), partitions=len(tps))
