"""The auditd join on real Kafka does not depend on batch boundaries: the same stream normalised in
batches of 1 record (every event straddles batches) and of 500 gives the same event ids and the same
joined command lines, and each run's commit ends past every record (ingest/normalise.py)."""

from __future__ import annotations

from ingest_helpers import events

from ingest.normalise import NormaliseStage
from socpipe.bus import KafkaBus, Outbound
from socpipe.settings import Settings
from socpipe.worker import run_worker
from tests.unit.ingest.test_ingest_parsers_audit_join import LINES, _raws


def _normalise(settings: Settings, batch_size: int) -> dict[str, str | None]:
    """The raw topic normalised in batches of `batch_size`: event id -> command line."""
    bus = KafkaBus(settings)
    consumer = bus.consumer(settings.normalise_group, [settings.topics.raw], max_poll_records=batch_size)
    publisher = bus.publisher()
    try:
        run_worker(
            NormaliseStage(settings.topics), consumer, publisher, settings.topics.dlq,
            poll_timeout_ms=300, idle_polls_before_exit=3, max_records=batch_size,
        )  # fmt: skip
    finally:
        consumer.close()
        publisher.close()
    return {
        envelope.id: envelope.payload.process.command_line if envelope.payload.process else None
        for envelope in events(settings)
    }


def test_batch_size_does_not_change_joined_auditd_events(settings: Settings) -> None:
    bus = KafkaBus(settings)
    bus.ensure_pipeline_topics()
    small = settings.model_copy(update={"topic_prefix": settings.topic_prefix + "b1.",
                                        "normalise_group": settings.normalise_group + "-b1"})  # fmt: skip
    KafkaBus(small).ensure_pipeline_topics()
    values = [raw.model_dump_json().encode() for raw in _raws(LINES)]
    publisher = bus.publisher()
    try:
        for target in (settings, small):  # one key: the stream's records on one partition, in order
            publisher.send_all(Outbound(target.topics.raw, value, b"acme:web1") for value in values)
        publisher.flush()
    finally:
        publisher.close()
    one, many = _normalise(small, 1), _normalise(settings, 500)
    assert one == many
    assert "cp /etc/shadow /tmp/.cache-s" in many.values() and len(many) == 5
