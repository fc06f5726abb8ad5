"""Waiting out an outage of Kafka or Elasticsearch: one helper for every long-running process.

A process that depends on a server never exits because the server is away: it waits, with bounded and
jittered backoff (tenacity), for as long as the outage lasts, then does the interrupted step again
(the worker loop redoes its batch from the last commit; a file tail resumes from its checkpoint).
That is safe because every write is idempotent.

What is an outage is decided here once (`server_of`): connection errors and timeouts of either
client, retriable Kafka errors, Elasticsearch 429 and 5xx answers (a red cluster just restarted).
Anything else is a broken program or bad input and propagates.

The operator sees one log line per change of state (down, then up again: never one per retry) and a
gauge `server_available{server=...}` (1 up, 0 down) per server a process uses.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from kafka import errors as kafka_errors
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_never, wait_random_exponential

from socpipe.logging import get_logger
from socpipe.metrics import Metrics, NullMetrics

log = get_logger(__name__)

T = TypeVar("T")

KAFKA = "kafka"
ELASTICSEARCH = "elasticsearch"

#: The longest wait between two attempts while a server is away: an attempt costs one connection, and
#: after the server is back, work resumes within this (a SOC's detection latency), half of it on average.
MAX_WAIT_S = 10.0


#: Kafka errors that mean "away" although not marked retriable. kafka-python 3 has no NoBrokersAvailable
#: (2.x had): naming it unguarded raised AttributeError on every permanent Kafka error, which is how a
#: refused write ended `ingest syslog`.
_KAFKA_AWAY: tuple[type[BaseException], ...] = tuple(
    t for t in (getattr(kafka_errors, "NoBrokersAvailable", None), kafka_errors.KafkaTimeoutError) if t
)


class Stopped(Exception):  # noqa: N818 - not an error: the process was asked to stop while it waited
    """The stop event was set while waiting for a server: the caller ends without its step done."""


def server_of(exc: BaseException) -> str | None:
    """The server whose outage `exc` shows (KAFKA or ELASTICSEARCH), or None for any other failure."""
    if isinstance(exc, kafka_errors.KafkaError):  # socpipe.bus.DeliveryError too: retriable when transient
        retriable = getattr(exc, "retriable", False) or isinstance(exc, _KAFKA_AWAY)
        return KAFKA if retriable else None
    # Elasticsearch's client is imported only by processes that use it (its import is slow): an error
    # of a module never imported cannot be this exception.
    transport = sys.modules.get("elastic_transport")
    if transport is not None:
        if isinstance(exc, transport.ConnectionError | transport.ConnectionTimeout):
            return ELASTICSEARCH
        if isinstance(exc, transport.ApiError):
            status = exc.meta.status if exc.meta is not None else 0
            return ELASTICSEARCH if status == 429 or status >= 500 else None
    bulk_errors = getattr(exc, "errors", None)  # elasticsearch.helpers.BulkIndexError
    if type(exc).__name__ == "BulkIndexError" and isinstance(bulk_errors, list) and bulk_errors:
        statuses = [_bulk_status(item) for item in bulk_errors]
        return ELASTICSEARCH if all(s == 429 or s >= 500 for s in statuses) else None
    return None


def _bulk_status(item: object) -> int:
    """The HTTP status of one failed bulk item ({"index": {"status": 503, ...}})."""
    if isinstance(item, dict):
        for result in item.values():
            if isinstance(result, dict) and isinstance(result.get("status"), int):
                return int(result["status"])
    return 0


@dataclass
class Availability:
    """Which servers a process sees up: logs each change once and keeps the gauge current."""

    metrics: Metrics = field(default_factory=NullMetrics)
    labels: dict[str, str] = field(default_factory=dict)
    _down: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def down(self, server: str, error: BaseException, waiting_for: str) -> None:
        with self._lock:
            if server in self._down:
                return
            self._down[server] = time.monotonic()
        log.warning(f"{server} unavailable: waiting", waiting_for=waiting_for, error=_short(error))
        self.metrics.gauge("server_available", 0, server=server, **self.labels)

    def up(self, server: str) -> None:
        with self._lock:
            since = self._down.pop(server, None)
        self.metrics.gauge("server_available", 1, server=server, **self.labels)
        if since is not None:
            log.info(f"{server} available again: resuming", down_s=round(time.monotonic() - since, 1))

    def all_up(self) -> None:
        for server in list(self._down):
            self.up(server)

    def is_down(self, server: str) -> bool:
        return server in self._down


def _short(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) <= 300 else text[:300] + "..."


class Backoff:
    """Capped exponential backoff with full jitter for loops that retry on their own (the worker loop):
    the n-th consecutive wait is uniform in [0, min(max_s, first_s * 2**n)]."""

    def __init__(self, first_s: float = 0.5, max_s: float = MAX_WAIT_S) -> None:
        self._wait = wait_random_exponential(multiplier=first_s, max=max_s)
        self._attempt = 0

    def reset(self) -> None:
        self._attempt = 0

    def sleep(self, stop: threading.Event) -> None:
        """Wait the next step (raise Stopped if `stop` is set meanwhile)."""
        self._attempt += 1
        state = RetryCallState(retry_object=Retrying(), fn=None, args=(), kwargs={})
        state.attempt_number = self._attempt
        if stop.wait(self._wait(state)):
            raise Stopped("stopped while backing off")


def wait_out(
    call: Callable[[], T],
    *,
    waiting_for: str,
    availability: Availability | None = None,
    stop: threading.Event | None = None,
    max_wait_s: float = MAX_WAIT_S,
    first_wait_s: float = 0.5,
    on_retry: Callable[[BaseException], None] | None = None,
) -> T:
    """`call()`, repeated through any outage of its servers until it succeeds.

    Waits grow exponentially from `first_wait_s`, jittered, capped at `max_wait_s`; `stop` cuts a wait
    short and raises Stopped. `on_retry(exc)` runs before each wait (reset a client, seek back).
    Failures that are not outages (`server_of` is None) propagate at once.
    """
    availability = availability or Availability()
    stop = stop or threading.Event()
    used: set[str] = set()

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        assert exc is not None
        server = server_of(exc) or "server"
        used.add(server)
        availability.down(server, exc, waiting_for)
        if on_retry is not None:
            on_retry(exc)

    def sleep(seconds: float) -> None:
        if stop.wait(seconds):
            raise Stopped(f"stopped while waiting for {waiting_for}")

    retrying = Retrying(
        retry=retry_if_exception(lambda exc: server_of(exc) is not None),
        wait=wait_random_exponential(multiplier=first_wait_s, max=max_wait_s),
        stop=stop_never,
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    result = retrying(call)
    for server in used:
        availability.up(server)
    return result
