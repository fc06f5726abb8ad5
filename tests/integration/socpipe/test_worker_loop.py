"""The worker loop against a real Kafka broker: outputs, dead letters, and commit-after-write."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from schemas import DeadLetter
from socpipe.bus import Inbound, KafkaBus, Outbound
from socpipe.settings import Settings
from socpipe.worker import StageOutput, dead_letter, run_worker

pytestmark = pytest.mark.kafka


class Upper:
    """Upper-cases each message; a message starting with 'bad' is bad input; 'boom' is a bug."""

    name = "upper"

    def __init__(self, out_topic: str) -> None:
        self.out_topic = out_topic

    def process(self, batch: Sequence[Inbound]) -> StageOutput:
        out = StageOutput()
        for record in batch:
            if record.value.startswith(b"boom"):
                raise RuntimeError("a bug in the stage")
            if record.value.startswith(b"bad"):
                out.dead_letters.append(dead_letter(record, self.name, ValueError("bad input")))
            else:
                out.messages.append(Outbound(self.out_topic, record.value.upper(), key=record.key))
        return out


def _produce(bus: KafkaBus, topic: str, values: list[bytes]) -> None:
    publisher = bus.publisher()
    publisher.send_all(Outbound(topic, v, key=b"k") for v in values)
    publisher.flush()
    publisher.close()


def _drain(bus: KafkaBus, topic: str, expected: int) -> list[bytes]:
    consumer = bus.consumer(f"reader-{topic}", [topic])
    values: list[bytes] = []
    for _ in range(50):
        for records in consumer.poll(timeout_ms=200).values():
            values += [r.value for r in records]
        if len(values) >= expected:
            break
    consumer.close()
    return values


def _run(bus: KafkaBus, settings: Settings, source: str, out: str) -> None:
    consumer = bus.consumer("upper-group", [source])
    publisher = bus.publisher()
    try:
        run_worker(
            Upper(out),
            consumer,
            publisher,
            settings.topics.dlq,
            poll_timeout_ms=300,
            idle_polls_before_exit=3,
        )
    finally:
        consumer.close()
        publisher.close()


def test_outputs_and_dead_letters_are_written_and_offsets_committed(settings: Settings) -> None:
    """Good records reach the output topic, bad ones the DLQ with the reason; a rerun reads nothing new."""
    bus = KafkaBus(settings)
    source, out = f"{settings.topic_prefix}in", f"{settings.topic_prefix}out"
    bus.ensure_topics([source, out, settings.topics.dlq])
    _produce(bus, source, [b"one", b"bad two", b"three"])
    _run(bus, settings, source, out)
    assert sorted(_drain(bus, out, 2)) == [b"ONE", b"THREE"]
    [dead] = [DeadLetter.model_validate_json(v) for v in _drain(bus, settings.topics.dlq, 1)]
    assert dead.reason == "bad input" and dead.original == b"bad two" and dead.position.topic == source
    _run(bus, settings, source, out)  # committed: nothing is processed twice
    assert sorted(_drain(bus, out, 3)) == [b"ONE", b"THREE"]


def test_a_crash_commits_nothing_and_the_batch_is_processed_again(settings: Settings) -> None:
    """When the stage raises, the offsets stay uncommitted, so the next worker sees the batch again."""
    bus = KafkaBus(settings)
    source, out = f"{settings.topic_prefix}in", f"{settings.topic_prefix}out"
    bus.ensure_topics([source, out, settings.topics.dlq])
    _produce(bus, source, [b"one", b"boom"])
    with pytest.raises(RuntimeError, match="a bug in the stage"):
        _run(bus, settings, source, out)
    consumer = bus.consumer("upper-group", [source])
    seen: list[bytes] = []
    for _ in range(30):
        for records in consumer.poll(timeout_ms=200).values():
            seen += [r.value for r in records]
        if b"boom" in seen:
            break
    consumer.close()
    assert b"boom" in seen  # the failed batch is delivered again
