"""A publisher reset during an outage does not need Kafka: its producer is rebuilt at the next send."""

from __future__ import annotations

from typing import Any

import pytest
from kafka.errors import KafkaTimeoutError

from socpipe.bus import Outbound, Publisher
from socpipe.outage import KAFKA, server_of


class _Closed:
    def close(self, timeout: float = 0) -> None:
        return None


def test_reset_while_kafka_is_away_fails_only_the_next_send() -> None:
    """reset() closes the old producer and returns; building the new one fails in send() with an error
    the worker loop waits out (a responder once died here, in its recovery from a Kafka outage)."""
    built: list[Any] = []

    def away() -> Any:
        built.append(1)
        raise KafkaTimeoutError("Unable to bootstrap")

    publisher = Publisher(_Closed(), factory=away)
    publisher.reset()
    assert built == []
    with pytest.raises(KafkaTimeoutError) as err:
        publisher.send(Outbound("t", b"v"))
    assert server_of(err.value) == KAFKA
    publisher.close()  # nothing to close: no producer was built
