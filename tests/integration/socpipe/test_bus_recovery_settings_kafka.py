"""The Kafka clients' recovery settings reach every client (issue 17: normalise stalled about 30 s
after Kafka came back, the kafka-python default reconnect backoff of up to 30 s; and a transaction a
dead shipper left open held read_committed readers up to the default transaction timeout of 60 s).
benchmarks/kafka_outage_stall.py measures the stall itself."""

from __future__ import annotations

import pytest

from socpipe.bus import KafkaBus
from socpipe.settings import Settings

pytestmark = pytest.mark.kafka


def test_producers_and_consumers_reconnect_quickly_and_bound_open_transactions(settings: Settings) -> None:
    tuned = settings.model_copy(
        update={"kafka_reconnect_backoff_max_ms": 1500, "kafka_transaction_timeout_ms": 12_000}
    )
    bus = KafkaBus(tuned)
    publisher = bus.publisher()
    consumer = bus.consumer("recovery-settings", [tuned.topics.raw])
    reader = bus.reader()
    try:
        assert publisher.producer.config["reconnect_backoff_max_ms"] == 1500
        assert publisher.producer.config["transaction_timeout_ms"] == 12_000
        assert consumer.config["reconnect_backoff_max_ms"] == 1500
        assert reader.config["reconnect_backoff_max_ms"] == 1500
    finally:
        publisher.close()
        consumer.close()
        reader.close()


def test_the_defaults_are_seconds_not_kafka_pythons_half_minute() -> None:
    defaults = Settings()
    assert defaults.kafka_reconnect_backoff_max_ms == 2_000
    assert defaults.kafka_transaction_timeout_ms == 30_000
