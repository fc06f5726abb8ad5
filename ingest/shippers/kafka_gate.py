"""Whether a receiver can take a batch now: Kafka reachable and its sink working; answered in a moment.

An HTTP client whose request hangs for 40 s while Kafka is away learns nothing and holds a connection;
one that gets 503 with Retry-After at once backs off and retries. So the receiver asks the gate before it
queues a batch, and /healthz reports it.

- The sink (producer, topics) is built in the background, retried until Kafka answers: the receiver
  listens from the start, answering 503 until then, instead of failing to start.
- A probe opens a TCP connection to the bootstrap servers every `probe_interval_s`: a stopped broker is
  seen within about a second, without waiting for a produce request to time out. It sends nothing: a
  broker's TLS listener may log each probe as a connection closed before its handshake.
- A sink whose producer failed for good is closed and built again, so a long outage ends in recovery,
  not in an exit.

Readiness is advisory in one direction: a batch queued just before an outage may still be acknowledged
after its client was told 503 (the client's retry then duplicates it: at least once, as everywhere).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from ingest.shippers.network_sink import NetworkSink
from socpipe.logging import get_logger

log = get_logger(__name__)


def bootstrap_addresses(servers: str) -> list[tuple[str, int]]:
    """`host:port,host:port` as pairs (the port defaults to Kafka's 9092)."""
    out = []
    for server in servers.split(","):
        host, _, port = server.strip().rpartition(":")
        out.append((host.strip("[]") or server.strip(), int(port) if port.isdigit() else 9092))
    return out


class KafkaGate:
    """The receiver's sink once it exists, and whether Kafka looks ready to take a batch now."""

    def __init__(
        self,
        connect: Callable[[], NetworkSink],
        brokers: list[tuple[str, int]] | None = None,
        *,
        probe_interval_s: float = 1.0,
        probe_timeout_s: float = 1.0,
        retry_s: float = 2.0,
    ) -> None:
        self._connect = connect
        self.brokers = brokers or []
        self.probe_interval_s, self.probe_timeout_s, self.retry_s = probe_interval_s, probe_timeout_s, retry_s
        self.sink: NetworkSink | None = None
        self.reachable = not self.brokers  # without brokers to probe, the sink alone decides
        self.problem = "connecting to Kafka"
        self._next_connect = 0.0
        self._owns_sink = True

    @classmethod
    def of(cls, sink: NetworkSink, brokers: list[tuple[str, int]] | None = None) -> KafkaGate:
        """A gate around a sink built (and to be closed) by the caller: tests, embedding."""
        gate = cls(lambda: sink, brokers)
        gate.sink, gate._owns_sink = sink, False
        return gate

    @property
    def ready(self) -> bool:
        return self.sink is not None and self.sink.failed is None and self.reachable

    def reason(self) -> str:
        if self.sink is not None and self.sink.failed is not None:
            return f"the Kafka producer failed ({self.sink.failed}); reconnecting"
        if not self.reachable:
            where = ",".join(f"{h}:{p}" for h, p in self.brokers)
            return f"Kafka at {where} does not answer"
        return self.problem

    async def run(self, stop: asyncio.Event) -> None:
        """Probe and (re)connect until `stop` is set; closes the sink at the end."""
        try:
            while not stop.is_set():
                await self.step()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.probe_interval_s)
        finally:
            if self.sink is not None and self._owns_sink:
                await asyncio.to_thread(self.sink.close)

    async def step(self) -> None:
        """One round: probe the brokers, replace a failed sink, build a missing one (when it is time)."""
        was_ready = self.ready
        if self.brokers:
            self.reachable = await self._probe()
        if self.sink is not None and self.sink.failed is not None:
            failed, self.sink = self.sink, None
            await asyncio.to_thread(_close_quietly, failed)
        if self.sink is None and self.reachable and time.monotonic() >= self._next_connect:
            try:
                self.sink = await asyncio.to_thread(self._connect)
            except Exception as exc:  # any failure to reach Kafka: say it, try again later
                self.problem = f"cannot connect to Kafka: {type(exc).__name__}: {exc}"
                self._next_connect = time.monotonic() + self.retry_s
        elif self.sink is not None:
            self.sink.tick()
        if self.ready != was_ready:
            (log.info if self.ready else log.warning)(
                "kafka ready: accepting batches" if self.ready else "kafka not ready: answering 503",
                reason=None if self.ready else self.reason(),
            )

    async def _probe(self) -> bool:
        for host, port in self.brokers:
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), self.probe_timeout_s)
            except (OSError, TimeoutError):
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return True
        return False


def _close_quietly(sink: NetworkSink) -> None:
    """A failed sink's thread has ended; its producer may still hold connections."""
    with contextlib.suppress(Exception):
        sink.sink.publisher.close()
