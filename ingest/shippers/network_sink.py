"""A RawSink on a thread of its own, fed by async receivers through a byte budget.

Receivers `submit` a batch of messages; the batch's bytes are reserved against `max_queued_bytes`
and released only when Kafka has acknowledged the batch. When Kafka is slow the budget runs out:
a TCP reader waits (it stops reading its socket, so the sender slows down), an HTTP request gets
429, a UDP datagram is dropped and counted. Memory stays bounded either way.

Only the sink's thread touches the Kafka producer, so batches from many connections need no lock
around it; each submitter gets a future that resolves to what became of its batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime

from ingest.shippers.records import Origin, RawSink
from ingest.shippers.shipper_metrics import ShipperMetrics
from socpipe.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Message:
    origin: Origin
    data: bytes
    received_at: datetime
    peer: str | None = None
    host: str | None = None
    line: int | None = None
    refusal: tuple[str, str] | None = None  # (reason, error_type): dead-letter instead of shipping


@dataclass(frozen=True, slots=True)
class Outcome:
    shipped: int
    dead_letters: int


_Batch = tuple[list[Message], int, "Future[Outcome]"]


class BudgetExceededError(Exception):
    """The sink holds as many unacknowledged bytes as it may: try again later (HTTP 429)."""


class NetworkSink:
    def __init__(
        self, sink: RawSink, *, max_queued_bytes: int = 64 * 1024 * 1024, flush_interval_s: float = 0.1
    ):
        self.sink = sink
        self.max_queued_bytes = max_queued_bytes
        self.flush_interval_s = flush_interval_s
        self._queued = 0
        self._queued_records = 0
        self._budget = threading.Condition()
        self._queue: queue.SimpleQueue[_Batch | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="ingest-sink", daemon=True)
        self.failed: BaseException | None = None

    # --- submitting -----------------------------------------------------------------------------

    def try_submit(self, messages: list[Message]) -> Future[Outcome]:
        """Queue a batch now, or raise BudgetExceededError when the budget is spent."""
        size = self._size(messages)
        with self._budget:
            if self._queued + size > self.max_queued_bytes and self._queued > 0:
                raise BudgetExceededError(f"{self._queued} bytes await Kafka's acknowledgement")
            self._queued += size
        return self._enqueue(messages, size)

    def submit(self, messages: list[Message], timeout_s: float | None = None) -> Future[Outcome]:
        """Queue a batch, waiting for budget (at most `timeout_s`, then BudgetExceededError)."""
        size = self._size(messages)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._budget:
            while self._queued + size > self.max_queued_bytes and self._queued > 0:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise BudgetExceededError(f"{self._queued} bytes await Kafka's acknowledgement")
                self._budget.wait(remaining)
            self._queued += size
        return self._enqueue(messages, size)

    async def submit_async(self, messages: list[Message], timeout_s: float | None = None) -> Future[Outcome]:
        """`submit` for the event loop: waits in small steps so other connections keep running."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            try:
                return self.try_submit(messages)
            except BudgetExceededError:
                if deadline is not None and time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(0.01)

    async def wait_until_stopped(self, stop: asyncio.Event) -> None:
        """Until `stop` is set; raises if the sink failed meanwhile (a broken producer: an outage is waited
        out and a write Kafka refuses for good is dead-lettered, both in the publisher), so the service
        exits for its supervisor to restart it instead of accepting what it cannot ship."""
        while not stop.is_set():
            if self.failed is not None:
                raise RuntimeError(f"the Kafka sink has stopped: {self.failed}") from self.failed
            self.tick()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)

    def tick(self) -> None:
        """Refresh the pending gauges (fresh within a second, even while a flush waits on Kafka)."""
        if self.metrics.enabled:
            self.metrics.pending(self._queued_records, self._queued)
            self.metrics.export_if_due()

    @property
    def queued_bytes(self) -> int:
        return self._queued

    @property
    def metrics(self) -> ShipperMetrics:
        """The RawSink's: receivers count what they refuse (UDP drops, HTTP 4xx) here."""
        return self.sink.metrics

    def _size(self, messages: list[Message]) -> int:
        return sum(len(m.data) for m in messages) + 200 * len(messages)

    def _enqueue(self, messages: list[Message], size: int) -> Future[Outcome]:
        if not messages:  # nothing to ship (an empty HTTP batch): done at once
            done: Future[Outcome] = Future()
            done.set_result(Outcome(0, 0))
            return done
        with self._budget:
            self._queued_records += len(messages)
        if self.failed is not None:
            self._release(size, len(messages))
            raise RuntimeError(f"the Kafka sink has stopped: {self.failed}")
        future: Future[Outcome] = Future()
        self._queue.put((messages, size, future))
        if self.metrics.enabled:
            self._count_received(messages)
        return future

    def _count_received(self, messages: list[Message]) -> None:
        origin, n = messages[0].origin, 0
        for m in messages:  # a batch comes from one connection or request: one origin, as a rule
            if m.origin is not origin:
                self.metrics.received(origin.source, origin.tenant, n)
                origin, n = m.origin, 0
            n += 1
        self.metrics.received(origin.source, origin.tenant, n)
        self.metrics.pending(self._queued_records, self._queued)
        self.metrics.export_if_due()

    def _release(self, size: int, records: int) -> None:
        with self._budget:
            self._queued -= size
            self._queued_records -= records
            self._budget.notify_all()

    # --- the thread -----------------------------------------------------------------------------

    def start(self) -> NetworkSink:
        self._thread.start()
        return self

    def close(self, timeout_s: float = 30.0) -> None:
        """Ship what was submitted, wait for its acknowledgement, and stop the thread."""
        self._queue.put(None)
        self._thread.join(timeout_s)

    def _run(self) -> None:
        """Take what is queued (waiting for the first batch), ship it, flush, resolve, repeat."""
        stopping = False
        while not stopping:
            items: list[_Batch | None] = [self._queue.get()]
            deadline = time.monotonic() + self.flush_interval_s
            while time.monotonic() < deadline:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stopping = None in items
            waiting = [self._ship(item) for item in items if item is not None]
            if waiting:
                self._flush(waiting)

    def _ship(self, batch: _Batch) -> tuple[int, Future[Outcome], int, int]:
        messages, size, future = batch
        stats = self.sink.stats
        shipped, dead = stats.shipped, stats.dead_letters
        for m in messages:
            if m.refusal is not None:
                self.sink.refuse(
                    m.origin, m.data, m.refusal[0], m.refusal[1], m.received_at, line=m.line, peer=m.peer
                )
            else:
                self.sink.ship(m.origin, m.data, m.received_at, line=m.line, peer=m.peer, host=m.host)
        return size, future, stats.shipped - shipped, stats.dead_letters - dead

    def _flush(self, waiting: list[tuple[int, Future[Outcome], int, int]]) -> None:
        try:
            self.sink.flush()
        except Exception as exc:  # a broken producer: every waiting batch learns it, and we stop
            self.failed = exc
            log.error("kafka sink failed", error=str(exc))
            for size, future, shipped, dead in waiting:
                future.set_exception(exc)
                self._release(size, shipped + dead)
            raise
        for size, future, shipped, dead in waiting:
            future.set_result(Outcome(shipped, dead))
            self._release(size, shipped + dead)
        self.metrics.pending(self._queued_records, self._queued)
        self.metrics.export()
