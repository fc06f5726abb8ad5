"""A worker's first rebalance hands out every partition of a topic created a moment before, and is its
only one.

A group leader that assigns before its client has the topic's metadata assigns nothing (kafka-python's
range assignor logs "No partition metadata"); the group then starts only after a metadata refresh and a
second rebalance, and a batch caught in that rebalance failed its commit (a CI simulation saw normalise
die of it). KafkaBus.consumer learns the topics' partitions after subscribing
(socpipe.bus._learn_partitions)."""

from __future__ import annotations

import time

import pytest
from kafka import ConsumerRebalanceListener
from kafka.structs import TopicPartition

from socpipe.bus import KafkaBus
from socpipe.settings import Settings

pytestmark = pytest.mark.kafka


class Assignments(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self) -> None:
        self.given: list[set[TopicPartition]] = []

    def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        pass

    def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self.given.append(set(assigned))


@pytest.mark.parametrize("attempt", range(3))
def test_the_first_assignment_of_a_just_created_topic_has_every_partition(
    settings: Settings, attempt: int
) -> None:
    bus = KafkaBus(settings)
    topic = f"{settings.topic_prefix}fresh-{attempt}"
    bus.ensure_topics([topic])  # and at once a worker's consumer, as `socpipe <stage> run` does
    consumer = bus.consumer(f"{settings.topic_prefix}first-assignment", [topic])
    listener = Assignments()
    consumer.subscribe([topic], listener=listener)
    try:
        deadline = time.monotonic() + 60
        while not listener.given and time.monotonic() < deadline:
            consumer.poll(timeout_ms=200)
        settle = time.monotonic() + 3  # a second rebalance came about half a second after the first
        while time.monotonic() < settle:
            consumer.poll(timeout_ms=200)
        every = {TopicPartition(topic, p) for p in range(settings.topic_partitions)}
        assert listener.given == [every]
    finally:
        consumer.close()
