"""The one worker loop every stage runs in.

Contract: poll a bounded batch -> stage.process(batch) -> publish its outputs and dead letters ->
wait for Kafka's acknowledgements (and the stage's own durable writes, done inside `process`) ->
commit the input offsets, short of any record the stage says it still holds (`StageOutput.held`).
A stage that holds records across batches has `idle()` (called on an empty poll: write out what it
holds, since no more input is coming for now) and `reset()` (called when the loop goes back to the
last commit: forget what it holds, it will be read again). A crash anywhere before the commit means
the batch is processed again, so delivery is at least once and every stage must write idempotently
(deterministic ids).

Bad input is data: a stage turns it into a DeadLetter and the loop goes on. An outage of Kafka or
Elasticsearch is waited out (socpipe.outage): the loop backs off, goes back to the last commit and
does the batch again once the server answers, however long that takes. Any other exception is a
broken program: it propagates, nothing is committed, and the process stops for its supervisor.

The loop reads a Source and writes a Sink (socpipe.worker_io): Kafka in production, in-memory lists
in unit tests. A stage with a `use_metrics(metrics)` method is handed the worker's metrics before
the first batch, so its own events (rule errors, notices) become metrics too.

Metrics, labelled like the log context (stage, topic, partition): per committed batch the records,
outputs per topic, dead letters and the batch's duration; between batches, at most every
`lag_interval_s`, the consumer lag per assigned partition (one broker round trip, not per batch);
`server_available{server}` while an outage is waited out.
"""

from __future__ import annotations

import contextlib
import faulthandler
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypedDict, Unpack

import structlog
from kafka import KafkaConsumer
from kafka.errors import CommitFailedError, RebalanceInProgressError
from pydantic import ValidationError

from schemas.deadletter import DeadLetter, SourcePosition
from socpipe.bus import Inbound, Outbound, Publisher
from socpipe.logging import get_logger
from socpipe.metrics import Metrics, NullMetrics
from socpipe.outage import MAX_WAIT_S, Availability, Backoff, Stopped, server_of, wait_out
from socpipe.worker_io import KafkaSource, PublisherSink, Sink, Source

log = get_logger(__name__)


@dataclass
class StageOutput:
    messages: list[Outbound] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    held: dict[tuple[str, int], int] = field(default_factory=dict)
    """(topic, partition) -> the lowest offset of a record the stage still holds (read but not yet
    written out, e.g. the first records of an auditd event whose last has not come): the commit
    stops there, so a restart reads it again and nothing held is lost."""


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
    redone: int = 0  # batches done again after an outage or a lost partition
    outputs_by_topic: Counter[str] = field(default_factory=Counter)


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM/SIGINT, so the loop finishes its batch and commits before exiting.

    SIGUSR1 prints every thread's stack to stderr and the process goes on: where a worker that stopped
    making progress is waiting, read without a debugger (py-spy is rarely on a production host).
    """
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if sys.__stderr__ is not None:
        with contextlib.suppress(ValueError, OSError):  # stderr without a file descriptor: no dumps
            faulthandler.register(signal.SIGUSR1, file=sys.__stderr__, all_threads=True)
    return stop


class LoopOptions(TypedDict, total=False):
    """The loop's keyword options (defaults in `run_loop`), passed on by `run_worker`."""

    stop: threading.Event | None
    poll_timeout_ms: int
    max_records: int
    idle_polls_before_exit: int | None
    on_batch: Callable[[WorkerStats], None] | None
    max_backoff_s: float


def run_worker(
    stage: Stage,
    consumer: KafkaConsumer,
    publisher: Publisher,
    dlq_topic: str,
    *,
    metrics: Metrics | None = None,
    lag_interval_s: float = 5.0,
    **options: Unpack[LoopOptions],
) -> WorkerStats:
    """Run until `stop` is set (or after `idle_polls_before_exit` empty polls, for demos and tests)."""
    metrics = metrics or NullMetrics()
    source = KafkaSource(consumer, metrics, stage.name, lag_interval_s)
    return run_loop(stage, source, PublisherSink(publisher), dlq_topic, metrics=metrics, **options)


def run_loop(
    stage: Stage,
    source: Source,
    sink: Sink,
    dlq_topic: str,
    *,
    stop: threading.Event | None = None,
    poll_timeout_ms: int = 1000,
    max_records: int = 500,
    idle_polls_before_exit: int | None = None,
    on_batch: Callable[[WorkerStats], None] | None = None,
    metrics: Metrics | None = None,
    max_backoff_s: float = MAX_WAIT_S,
) -> WorkerStats:
    """The loop on any Source and Sink; `run_worker` binds Kafka's."""
    stop = stop or threading.Event()
    metrics = metrics or NullMetrics()
    use_metrics = getattr(stage, "use_metrics", None)
    if callable(use_metrics):
        use_metrics(metrics)
    loop = _Loop(stage, source, sink, dlq_topic, metrics, stop, Backoff(max_s=max_backoff_s))
    idle = 0
    with structlog.contextvars.bound_contextvars(stage=stage.name):
        log.info("worker started", dlq=dlq_topic)
        for counter in ("records_processed", "dead_letters"):  # at 0 from the start, so alerts on rate() work
            metrics.count(counter, 0, stage=stage.name)
        while not stop.is_set():
            polled = loop.step(max_records, poll_timeout_ms)
            if polled:
                idle = 0
                if on_batch and loop.stats.batches:
                    on_batch(loop.stats)
                continue
            # Polls before the group gave this consumer its partitions prove nothing is left.
            idle += 1 if source.ready() else 0
            if idle_polls_before_exit is not None and idle >= idle_polls_before_exit:
                break
        log.info("worker stopped", records=loop.stats.records, dead_letters=loop.stats.dead_letters)
    return loop.stats


@dataclass
class _Loop:
    stage: Stage
    source: Source
    sink: Sink
    dlq_topic: str
    metrics: Metrics
    stop: threading.Event
    backoff: Backoff
    stats: WorkerStats = field(default_factory=WorkerStats)
    consumed: dict[tuple[str, int], Inbound] = field(default_factory=dict)
    """The last record read per partition since the last commit that went to the end: what an idle
    flush commits up to."""

    def __post_init__(self) -> None:
        self.availability = Availability(self.metrics, {"stage": self.stage.name})

    def step(self, max_records: int, poll_timeout_ms: int) -> bool:
        """Poll, and process, write and commit what came (True), or False when nothing came. An outage
        is waited out inside the step (True: try again at once); any other failure propagates."""
        try:
            self.source.report_lag()
            batch = self.source.poll(max_records, poll_timeout_ms)
            if not batch:
                self._idle()
                return False
            self._batch(batch)
            self.availability.all_up()
            self.backoff.reset()
        except Exception as exc:
            if not self._recover(exc):
                raise
        return True

    def _batch(self, batch: list[Inbound]) -> None:
        started = time.perf_counter()
        output = self.stage.process(batch)
        self._send(output)
        self.source.commit(batch, output.held)
        self.consumed.update({(r.topic, r.partition): r for r in batch})
        _account(self.stats, self.metrics, self.stage.name, len(batch), output,
                 seconds=time.perf_counter() - started)  # fmt: skip
        for dead in output.dead_letters:
            log.warning("dead letter", reason=dead.reason, **dead.position.model_dump(exclude_none=True))

    def _idle(self) -> None:
        """No input came: a stage holding records writes them out, and the commit moves past them."""
        idle = getattr(self.stage, "idle", None)
        if not callable(idle) or not self.consumed:
            return
        output: StageOutput = idle()
        if not (output.messages or output.dead_letters):
            return
        self._send(output)
        self.source.commit(list(self.consumed.values()), output.held)
        self.consumed.clear()
        _account(self.stats, self.metrics, self.stage.name, 0, output, seconds=0.0)

    def _send(self, output: StageOutput) -> None:
        """The outputs and dead letters, durable when this returns."""
        self.sink.send_all(output.messages)
        self.sink.send_all(
            [
                Outbound(
                    topic=self.dlq_topic, value=d.model_dump_json().encode(), key=(d.tenant or "").encode()
                )
                for d in output.dead_letters
            ]
        )
        self.sink.flush()

    def _recover(self, exc: Exception) -> bool:
        """After a failed batch: False if `exc` is a bug (the caller re-raises); otherwise wait the outage
        out, drop what was sent, and go back to the last commit so the batch is done again."""
        if isinstance(exc, (CommitFailedError, RebalanceInProgressError)):
            # The group moved, or is moving, our partitions while the batch was processed (a worker joined
            # or left, a long outage, a slow batch): their new owner, or we after rejoining, redo it from
            # the last commit. kafka-python 3 raises RebalanceInProgressError when it knows of the
            # rebalance before it asks the broker.
            log.warning("partitions reassigned before the commit: the batch is redone from the last commit")
        else:
            server = server_of(exc)
            if server is None:
                return False
            self.availability.down(server, exc, "the batch to be written and committed")
        self.sink.reset()
        self.consumed.clear()
        reset = getattr(self.stage, "reset", None)
        if callable(reset):  # what it holds is read again from the last commit
            reset()
        try:
            self.backoff.sleep(self.stop)
            wait_out(self.source.rewind, waiting_for="kafka, to go back to the last commit",
                     availability=self.availability, stop=self.stop)  # fmt: skip
        except Stopped:
            return True
        self.stats.redone += 1
        self.metrics.count("batches_redone", 1, stage=self.stage.name)
        return True


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
