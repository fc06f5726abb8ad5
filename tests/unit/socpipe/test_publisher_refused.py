"""A publisher that survives outages, when Kafka refuses writes for good (issue 17: `ingest syslog`
exited). The refused message alone goes to `on_refused` (a dead letter replaces it); its batch-mates,
failed only because they shared its producer batch, are sent again alone and acknowledged."""

from __future__ import annotations

from typing import Any

from kafka.errors import KafkaTimeoutError, MessageSizeTooLargeError, TopicAuthorizationFailedError
from kafka.future import Future

from socpipe.bus import Outbound, Publisher
from socpipe.outage import KAFKA, server_of


def test_a_permanent_kafka_error_is_not_an_outage_and_does_not_raise_in_the_check() -> None:
    """server_of named an exception kafka-python 3 lacks: any permanent Kafka error raised
    AttributeError there instead of being told apart from an outage."""
    assert server_of(MessageSizeTooLargeError("too large")) is None
    assert server_of(TopicAuthorizationFailedError()) is None
    assert server_of(KafkaTimeoutError("away")) == KAFKA


class _Producer:
    """Acknowledges every send, except: a value containing b"big" is refused whenever it is in the
    flush, and so is every message flushed together with it (one producer batch)."""

    def __init__(self, log: list[list[bytes]]) -> None:
        self.log = log
        self.batch: list[tuple[bytes, Future]] = []

    def send(self, topic: str, value: bytes, key: bytes | None = None, headers: Any = None) -> Any:
        produced = Future()
        self.batch.append((value, produced))
        return produced

    def flush(self, timeout: float | None = None) -> None:
        values = [v for v, _ in self.batch]
        self.log.append(values)
        refuse = any(b"big" in v for v in values)
        for _, produced in self.batch:
            if refuse:
                produced.failure(MessageSizeTooLargeError("The message is too large"))
            else:
                produced.success(None)
        self.batch = []

    def close(self, timeout: float = 0) -> None:
        return None


def test_refused_message_is_replaced_by_its_dead_letter_and_its_batch_mates_are_acknowledged() -> None:
    flushed: list[list[bytes]] = []
    refused: list[tuple[bytes, str]] = []

    def dead_letter(message: Outbound, error: BaseException) -> Outbound | None:
        refused.append((message.value or b"", type(error).__name__))
        return Outbound("dlq", b"letter")

    publisher = Publisher(_Producer(flushed), factory=lambda: _Producer(flushed))
    publisher.survive_outages(on_refused=dead_letter)
    publisher.send_all([Outbound("raw", b"a"), Outbound("raw", b"big"), Outbound("raw", b"c")])
    assert publisher.flush() == 2  # a and c, each alone again
    assert refused == [(b"big", "MessageSizeTooLargeError")]
    assert flushed[1:] == [[b"a"], [b"big"], [b"c"], [b"letter"]]


def test_a_refused_replacement_is_told_and_let_go_not_replaced_again() -> None:
    """The dead letter of a refused message is refused too: the callback hears of it (to log and count
    it) and the flush ends; no replacement of a replacement."""
    flushed: list[list[bytes]] = []
    told: list[bytes] = []

    def dead_letter(message: Outbound, error: BaseException) -> Outbound | None:
        told.append(message.value or b"")
        return Outbound("dlq", b"letter of " + (message.value or b""))

    publisher = Publisher(_Producer(flushed), factory=lambda: _Producer(flushed))
    publisher.survive_outages(on_refused=dead_letter)
    publisher.send(Outbound("raw", b"big"))
    assert publisher.flush() == 0
    assert told == [b"big", b"letter of big"]
