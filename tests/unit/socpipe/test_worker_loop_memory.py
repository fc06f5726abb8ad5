"""The worker loop's contract on the in-memory source and sink: commit only after the outputs are durable,
outages waited out with the batch redone, bugs re-raised with nothing committed."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import elastic_transport
import pytest
from kafka.errors import CommitFailedError, KafkaTimeoutError, RebalanceInProgressError

from socpipe.bus import Inbound, Outbound
from socpipe.metrics import InMemoryMetrics
from socpipe.worker import StageOutput, dead_letter, run_loop
from socpipe.worker_io import MemorySink, MemorySource


def _records(n: int) -> list[Inbound]:
    return [Inbound("in", 0, i, f"v{i}".encode()) for i in range(n)]


class Copy:
    """Copies each record; 'v3' is bad input; fails `failures` times with `error` on its first batch."""

    name = "copy"

    def __init__(self, failures: int = 0, error: Exception | None = None) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0
        self.metrics: object = None

    def use_metrics(self, metrics: object) -> None:
        self.metrics = metrics

    def process(self, batch: Sequence[Inbound]) -> StageOutput:
        self.calls += 1
        if self.failures:
            self.failures -= 1
            assert self.error is not None
            raise self.error
        out = StageOutput()
        for r in batch:
            if r.value == b"v3":
                out.dead_letters.append(dead_letter(r, self.name, ValueError("bad")))
            else:
                out.messages.append(Outbound("out", r.value))
        return out


def _run(stage: Copy, source: MemorySource, sink: MemorySink, **kw: object) -> object:
    return run_loop(
        stage,
        source,
        sink,
        "dlq",
        max_records=4,
        idle_polls_before_exit=1,
        max_backoff_s=0.01,
        **kw,  # type: ignore[arg-type]
    )


def test_commits_follow_durable_outputs() -> None:
    """Every record's output or dead letter is durable, and the committed offset is past the last record."""
    source, sink = MemorySource(_records(10)), MemorySink()
    metrics = InMemoryMetrics()
    stage = Copy()
    _run(stage, source, sink, metrics=metrics)
    assert sorted(m.value or b"" for m in sink.durable if m.topic == "out") == sorted(
        f"v{i}".encode() for i in range(10) if i != 3
    )
    assert [m.topic for m in sink.durable].count("dlq") == 1
    assert source.committed == {("in", 0): 10}
    assert stage.metrics is metrics  # the stage was handed the worker's metrics


def test_failed_flush_is_not_committed_and_the_batch_is_redone() -> None:
    """A Kafka outage at flush time: nothing committed for that batch, then the batch is done again and
    everything arrives once (the unflushed copy was dropped by reset)."""
    source = MemorySource(_records(8))
    sink = MemorySink(fail_flushes=3, flush_error=KafkaTimeoutError("broker away"))
    stats = _run(Copy(), source, sink)
    values = [m.value or b"" for m in sink.durable if m.topic == "out"]
    assert sorted(values) == sorted(f"v{i}".encode() for i in range(8) if i != 3)
    assert len(values) == len(set(values))
    assert source.committed == {("in", 0): 8}
    assert stats.redone == 3  # type: ignore[attr-defined]


def test_failed_commit_redoes_the_batch_without_loss() -> None:
    """A commit lost in an outage: the batch is done again from the last commit; nothing is lost (at least
    once: the outputs of that batch may be written twice, with the same content)."""
    source = MemorySource(_records(8), fail_commits=2, commit_error=KafkaTimeoutError("coordinator away"))
    sink = MemorySink()
    _run(Copy(), source, sink)
    assert {m.value for m in sink.durable if m.topic == "out"} == {
        f"v{i}".encode() for i in range(8) if i != 3
    }
    assert source.committed == {("in", 0): 8}


@pytest.mark.parametrize(
    "error",
    [CommitFailedError("kicked out of the group"), RebalanceInProgressError("a rebalance began")],
    ids=["commit failed", "rebalance in progress"],
)
def test_a_commit_caught_in_a_rebalance_redoes_the_batch(error: Exception) -> None:
    """The group rebalanced between the poll and the commit (a worker joined or left; kafka-python 3 raises
    RebalanceInProgressError when it already knows, CommitFailedError when the broker tells it): the batch
    is done again from the last commit. CI saw a normalise worker die of the first at its first commit."""
    source = MemorySource(_records(8), fail_commits=1, commit_error=error)
    sink = MemorySink()
    stats = _run(Copy(), source, sink)
    assert {m.value for m in sink.durable if m.topic == "out"} == {
        f"v{i}".encode() for i in range(8) if i != 3
    }
    assert source.committed == {("in", 0): 8}
    assert stats.redone == 1  # type: ignore[attr-defined]


def test_elasticsearch_outage_in_the_stage_is_waited_out_with_a_metric() -> None:
    """The stage's own writes fail (Elasticsearch away): the loop waits, redoes the batch, and the gauge
    says the server was down and is up again."""
    source, sink = MemorySource(_records(4)), MemorySink()
    metrics = InMemoryMetrics()
    error = elastic_transport.ConnectionError("connection refused")
    stage = Copy(failures=5, error=error)
    _run(stage, source, sink, metrics=metrics)
    assert stage.calls == 6
    assert source.committed == {("in", 0): 4}
    assert metrics.gauges[("server_available", (("server", "elasticsearch"), ("stage", "copy")))] == 1


def test_a_bug_propagates_and_nothing_is_committed() -> None:
    """Any other exception is a broken program: it propagates and the batch stays uncommitted."""
    source, sink = MemorySource(_records(4)), MemorySink()
    with pytest.raises(ZeroDivisionError):
        _run(Copy(failures=1, error=ZeroDivisionError("bug")), source, sink)
    assert source.committed == {}
    assert sink.durable == []


def test_stop_during_an_outage_ends_the_loop_without_a_commit() -> None:
    """SIGTERM while Kafka is away: the loop ends (no traceback), with the batch left for the next run."""
    source = MemorySource(_records(4))
    sink = MemorySink(fail_flushes=10_000, flush_error=KafkaTimeoutError("broker away"))
    stop = threading.Event()
    timer = threading.Timer(0.3, stop.set)
    timer.start()
    run_loop(Copy(), source, sink, "dlq", max_records=4, stop=stop, max_backoff_s=0.05)
    assert source.committed == {}
