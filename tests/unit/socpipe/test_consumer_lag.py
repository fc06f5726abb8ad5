"""LagReporter: when it measures (throttled, not before assignment), what it reports, what it forgets.

The consumer here is a stand-in with KafkaConsumer's three methods, so the timing and rebalance cases
run exactly; the real broker's numbers are checked in tests/integration/socpipe/test_worker_metrics.py.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from kafka.errors import KafkaTimeoutError
from kafka.structs import TopicPartition
from structlog.testing import capture_logs

from socpipe.consumer_lag import LagReporter
from socpipe.metrics import InMemoryMetrics

P0, P1 = TopicPartition("events.raw", 0), TopicPartition("events.raw", 1)


class Consumer:
    def __init__(self) -> None:
        self.assigned: set[TopicPartition] = set()
        self.ends: dict[TopicPartition, int] = {}
        self.positions: dict[TopicPartition, int | None] = {}
        self.end_offset_calls = 0
        self.fail: Exception | None = None

    def assignment(self) -> Collection[TopicPartition]:
        return set(self.assigned)

    def end_offsets(
        self, partitions: list[TopicPartition], timeout_ms: int | None = None
    ) -> Mapping[TopicPartition, int]:
        self.end_offset_calls += 1
        if self.fail:
            raise self.fail
        return {tp: self.ends[tp] for tp in partitions}

    def position(self, partition: TopicPartition, timeout_ms: int | None = None) -> int | None:
        return self.positions[partition]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _lag(metrics: InMemoryMetrics) -> dict[str, float]:
    return {
        dict(labels)["partition"]: value
        for (name, labels), value in metrics.gauges.items()
        if name == "consumer_lag"
    }


def test_lag_is_end_offset_minus_position_per_partition_labelled_like_the_logs() -> None:
    """Each assigned partition gets a gauge labelled stage, topic, partition; no position yet: skipped."""
    consumer, metrics = Consumer(), InMemoryMetrics()
    consumer.assigned = {P0, P1}
    consumer.ends = {P0: 10, P1: 4}
    consumer.positions = {P0: 7, P1: None}
    assert LagReporter(consumer, metrics, "upper").report() == {P0: 3}
    assert metrics.gauges == {
        ("consumer_lag", (("partition", "0"), ("stage", "upper"), ("topic", "events.raw"))): 3
    }


def test_measures_at_most_once_per_interval() -> None:
    """Between measurements a call costs a clock read; the broker is asked again only after interval_s."""
    consumer, metrics, clock = Consumer(), InMemoryMetrics(), Clock()
    consumer.assigned, consumer.ends, consumer.positions = {P0}, {P0: 5}, {P0: 5}
    reporter = LagReporter(consumer, metrics, "upper", interval_s=5.0, clock=clock)
    reporter.maybe_report()
    clock.now += 4.9
    reporter.maybe_report()
    assert consumer.end_offset_calls == 1
    clock.now += 0.1
    reporter.maybe_report()
    assert consumer.end_offset_calls == 2


def test_before_assignment_the_interval_is_not_spent() -> None:
    """The first polls join the group: lag is measured as soon as partitions arrive, not interval_s later."""
    consumer, metrics, clock = Consumer(), InMemoryMetrics(), Clock()
    reporter = LagReporter(consumer, metrics, "upper", interval_s=60.0, clock=clock)
    reporter.maybe_report()
    assert consumer.end_offset_calls == 0
    consumer.assigned, consumer.ends, consumer.positions = {P0}, {P0: 9}, {P0: 2}
    reporter.maybe_report()
    assert _lag(metrics) == {"0": 7}


def test_partitions_moved_to_another_worker_are_forgotten() -> None:
    """After a rebalance the gauge of a revoked partition goes, so a sum over workers counts it once."""
    consumer, metrics = Consumer(), InMemoryMetrics()
    consumer.assigned, consumer.ends, consumer.positions = {P0, P1}, {P0: 3, P1: 8}, {P0: 1, P1: 2}
    reporter = LagReporter(consumer, metrics, "upper")
    reporter.report()
    assert _lag(metrics) == {"0": 2, "1": 6}
    consumer.assigned = {P1}
    reporter.report()
    assert _lag(metrics) == {"1": 6}
    consumer.assigned = set()
    reporter.maybe_report()  # losing every partition (more workers than partitions) still clears them
    assert _lag(metrics) == {}


def test_a_broker_error_is_logged_and_the_worker_goes_on() -> None:
    """Metrics never stop a worker: a timed-out measurement is skipped with a warning; old values stay."""
    consumer, metrics = Consumer(), InMemoryMetrics()
    consumer.assigned, consumer.ends, consumer.positions = {P0}, {P0: 3}, {P0: 1}
    reporter = LagReporter(consumer, metrics, "upper")
    reporter.report()
    consumer.fail = KafkaTimeoutError("no answer")
    with capture_logs() as logs:
        assert reporter.report() == {}
    assert _lag(metrics) == {"0": 2}
    assert [(e["event"], e["log_level"]) for e in logs] == [("consumer lag not measured", "warning")]
    assert "no answer" in logs[0]["error"]
