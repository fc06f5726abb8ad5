"""NetworkSink's byte budget: receivers wait or are refused while Kafka has not acknowledged enough."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from ingest_fakes import RecordingPublisher

from ingest.shippers.network_sink import BudgetExceededError, Message, NetworkSink, Outcome
from ingest.shippers.records import Origin, RawSink
from schemas.topics import Topics

ORIGIN = Origin("acme", "syslog-tcp:0.0.0.0:514", "syslog")


def _batch(size: int) -> list[Message]:
    return [Message(ORIGIN, b"x" * size, datetime.now(UTC), peer="10.0.0.1", host="10.0.0.1")]


def test_budget_refuses_then_waits_then_releases_on_acknowledgement() -> None:
    """Over budget, try_submit raises and submit_async waits; once the sink drains (acks), it proceeds."""
    publisher = RecordingPublisher()
    sink = NetworkSink(RawSink(publisher, Topics()), max_queued_bytes=10_000)  # type: ignore[arg-type]
    first = sink.try_submit(_batch(9_000))
    with pytest.raises(BudgetExceededError):
        sink.try_submit(_batch(2_000))

    async def scenario() -> Outcome:
        waiting = asyncio.create_task(sink.submit_async(_batch(2_000), timeout_s=5))
        await asyncio.sleep(0.2)
        assert not waiting.done(), "a TCP reader waits (and stops reading) while the budget is spent"
        sink.start()  # Kafka catches up: the first batch is acknowledged and its bytes released
        return await asyncio.wrap_future(await waiting)

    assert asyncio.run(scenario()) == Outcome(shipped=1, dead_letters=0)
    assert first.result(5) == Outcome(shipped=1, dead_letters=0)
    sink.close()
    assert sink.queued_bytes == 0 and len(publisher.sent) == 2
    assert all(m.key == b"acme:10.0.0.1" for m in publisher.sent)


def test_refusals_are_dead_lettered_by_the_sink_thread() -> None:
    """A message the receiver already judged bad (oversized frame) is written as a dead letter."""
    publisher = RecordingPublisher()
    sink = NetworkSink(RawSink(publisher, Topics()), max_queued_bytes=10_000).start()  # type: ignore[arg-type]
    bad = Message(ORIGIN, b"head", datetime.now(UTC), peer="10.0.0.1", refusal=("too long", "RecordTooLarge"))
    assert sink.try_submit([bad]).result(5) == Outcome(shipped=0, dead_letters=1)
    sink.close()
    assert publisher.sent[0].topic == "events.dlq"
