"""The HTTP receiver's Kafka gate, offline: a sink that cannot be built yet, one that fails, a probe."""

from __future__ import annotations

import asyncio
import socket

from ingest_fakes import RecordingPublisher
from kafka.errors import KafkaConnectionError

from ingest.shippers.kafka_gate import KafkaGate, bootstrap_addresses
from ingest.shippers.network_sink import NetworkSink
from ingest.shippers.records import RawSink
from schemas.topics import Topics


def _sink() -> NetworkSink:
    return NetworkSink(RawSink(RecordingPublisher(), Topics.with_prefix("")))  # type: ignore[arg-type]


def test_bootstrap_addresses() -> None:
    assert bootstrap_addresses("k1:9092, [::1]:9093,k3") == [("k1", 9092), ("::1", 9093), ("k3", 9092)]


def test_not_ready_until_the_sink_can_be_built_then_ready() -> None:
    """Building the sink fails (Kafka away): not ready, the reason says why; the next try succeeds."""
    attempts: list[int] = []

    def connect() -> NetworkSink:
        attempts.append(1)
        if len(attempts) == 1:
            raise KafkaConnectionError("no broker answered")
        return _sink()

    gate = KafkaGate(connect, retry_s=0.0)
    asyncio.run(gate.step())
    assert not gate.ready and "cannot connect to Kafka: KafkaConnectionError" in gate.reason()
    asyncio.run(gate.step())
    assert gate.ready and len(attempts) == 2


def test_a_failed_sink_is_replaced() -> None:
    """A sink whose producer failed for good: not ready, then a new one is built."""
    built: list[NetworkSink] = []

    def connect() -> NetworkSink:
        built.append(_sink())
        return built[-1]

    gate = KafkaGate(connect, retry_s=0.0)
    asyncio.run(gate.step())
    built[0].failed = RuntimeError("broker gone")
    assert not gate.ready and "broker gone" in gate.reason()
    asyncio.run(gate.step())
    assert gate.ready and gate.sink is built[1]


def test_the_probe_sees_a_broker_port_that_refuses() -> None:
    """Nothing listens at the bootstrap address: not reachable, and no sink is built meanwhile."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gate = KafkaGate(_sink, [("127.0.0.1", port)], probe_timeout_s=0.5)
    asyncio.run(gate.step())
    assert not gate.ready and gate.sink is None and f"127.0.0.1:{port} does not answer" in gate.reason()
