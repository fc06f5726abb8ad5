"""Consumer lag per assigned partition, measured at most every `interval_s` so the hot path stays cheap.

Lag is the partition's end offset (the last stable offset for socpipe's read_committed consumers)
minus the consumer's position (the next offset it returns). The worker commits after every batch, so
between batches the position is the committed offset and this is the group lag an operator would read
with `kafka-consumer-groups.sh --describe`, split by the member that holds each partition.

Measuring costs one ListOffsets round trip; positions are local. A failed measurement is logged and
skipped: metrics must never stop a worker that can still process.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from typing import Protocol

from kafka.errors import KafkaError
from kafka.structs import TopicPartition

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
