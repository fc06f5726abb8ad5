"""A file tail's commit or abort that gets no answer ends its session within a deadline (issue 17: after
a Kafka SIGKILL a shipper hung in kafka-python's commit_transaction(), which waits without one)."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from kafka.errors import KafkaTimeoutError
from kafka.producer.transaction_manager import TransactionalRequestResult

from ingest.shippers.checkpoint import end_transaction


def _producer(answered: bool) -> SimpleNamespace:
    result = TransactionalRequestResult()
    if answered:
        result.done()
    manager = SimpleNamespace(begin_commit=lambda: result, begin_abort=lambda: result)
    return SimpleNamespace(_transaction_manager=manager, _sender=SimpleNamespace(wakeup=lambda: None))


def test_an_unanswered_commit_raises_a_timeout_the_tail_treats_as_an_outage() -> None:
    started = time.monotonic()
    with pytest.raises(KafkaTimeoutError, match="commit"):
        end_transaction(_producer(answered=False), commit=True, timeout_s=0.3)
    assert time.monotonic() - started < 5
    with pytest.raises(KafkaTimeoutError, match="abort"):
        end_transaction(_producer(answered=False), commit=False, timeout_s=0.1)


def test_an_answered_commit_returns() -> None:
    end_transaction(_producer(answered=True), commit=True, timeout_s=0.1)
