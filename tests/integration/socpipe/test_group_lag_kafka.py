"""group_lag: a consumer group's lag read from outside the group, on a real broker.

The one helper the rebalance test and the benchmarks' probes wait on; checked here against offsets the
test commits itself, on a plain topic and on one written in transactions (a commit marker per partition).
"""

from __future__ import annotations

import uuid

import pytest
from kafka import KafkaConsumer
from kafka.structs import OffsetAndMetadata, TopicPartition

from socpipe.bus import KafkaBus, Outbound
from socpipe.consumer_lag import group_lag
from socpipe.settings import Settings

pytestmark = pytest.mark.kafka


def _commit(bus: KafkaBus, group: str, offsets: dict[TopicPartition, int]) -> None:
    consumer = bus.reader(group_id=group)
    try:
        consumer.commit({tp: OffsetAndMetadata(o, "", -1) for tp, o in offsets.items()})
    finally:
        consumer.close()


def _ends(reader: KafkaConsumer, topic: str) -> dict[TopicPartition, int]:
    return dict(reader.end_offsets([TopicPartition(topic, p) for p in reader.partitions_for_topic(topic)]))


def test_lag_is_what_the_group_has_not_committed(settings: Settings) -> None:
    """Nothing committed: every record is lag; after committing half of each partition, that half is done;
    a topic that does not exist yet is None. On a transactional topic read to its end, the commit marker
    closing each written partition is lag only when not told the topic is transactional."""
    bus = KafkaBus(settings)
    plain, txn = f"{settings.topic_prefix}plain", f"{settings.topic_prefix}txn"
    bus.ensure_topics([plain, txn])
    publisher = bus.publisher()
    publisher.send_all(Outbound(plain, b"x", key=str(i).encode()) for i in range(9))
    publisher.flush()
    publisher.close()
    transactional = bus.publisher(transactional_id=f"t-{uuid.uuid4().hex[:8]}")
    transactional.producer.init_transactions()
    transactional.producer.begin_transaction()
    transactional.send_all(Outbound(txn, b"x", key=str(i).encode()) for i in range(5))
    transactional.producer.commit_transaction()
    transactional.close()

    group = f"{settings.topic_prefix}lag-group"
    admin, reader = bus.admin(), bus.reader()
    try:
        assert group_lag(admin, reader, group, f"{settings.topic_prefix}missing") is None
        before = group_lag(admin, reader, group, plain)
        halves = {tp: end // 2 for tp, end in _ends(reader, plain).items()}
        written = {tp: end for tp, end in _ends(reader, txn).items() if end}
        _commit(bus, group, halves | {tp: end - 1 for tp, end in written.items()})
        after = group_lag(admin, reader, group, plain)
        caught_up = group_lag(admin, reader, group, txn, transactional=True)
        counted_raw = group_lag(admin, reader, group, txn)
    finally:
        admin.close()
        reader.close()
    done = sum(halves.values())
    assert before is not None and (before.lag, before.done, before.end) == (9, 0, 9)
    assert after is not None and (after.lag, after.done, after.end) == (9 - done, done, 9) and done > 0
    assert caught_up is not None and caught_up.lag == 0 and caught_up.end == 5 + len(written)
    assert counted_raw is not None and counted_raw.lag == len(written)
