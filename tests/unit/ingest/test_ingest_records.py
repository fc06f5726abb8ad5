"""RawSink: what shippers publish is a valid RawRecord, keyed tenant:host; bad bytes are dead letters."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from ingest_fakes import RecordingPublisher
from kafka.partitioner.default import DefaultPartitioner

from ingest.shippers.records import CachedKeyPartitioner, Origin, RawSink, source_timezone
from ingest.shippers.syslog import SyslogListener
from ingest.shippers.tail import TailOptions
from schemas.deadletter import DeadLetter
from schemas.raw import RawRecord
from schemas.topics import Topics

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
ORIGIN = Origin("acme", "file:/var/log/x.log", "syslog", "web1", "/var/log/x.log")


def _sink(**kwargs: int) -> tuple[RawSink, RecordingPublisher]:
    publisher = RecordingPublisher()
    return RawSink(publisher, Topics(), **kwargs), publisher  # type: ignore[arg-type]


def test_shipped_record_is_a_valid_raw_record_keyed_by_tenant_and_host() -> None:
    """The fast orjson encoding validates as RawRecord; tenant comes from the origin, not the data."""
    sink, publisher = _sink()
    assert sink.ship(ORIGIN, b'{"tenant": "evil", "msg": "caf\xc3\xa9"}', NOW, offset=10, line=2)
    (message,) = publisher.sent
    record = RawRecord.model_validate_json(message.value)
    assert (message.topic, message.key) == ("events.raw", b"acme:web1")
    assert record.tenant == "acme" and record.data == '{"tenant": "evil", "msg": "café"}'
    assert (record.offset, record.line, record.host_hint, record.received_at) == (10, 2, "web1", NOW)


def test_non_utf8_and_oversized_records_become_ingest_dead_letters() -> None:
    """Bytes that are not UTF-8, and records over the limit, go to events.dlq with reason and position."""
    sink, publisher = _sink(max_record_bytes=100)
    assert not sink.ship(ORIGIN, b"ok \xff\xfe", NOW, offset=5, line=1)
    assert not sink.ship(ORIGIN, b"y" * 150, NOW, offset=9, line=2)
    letters = [DeadLetter.model_validate_json(m.value) for m in publisher.sent]
    assert all(m.topic == "events.dlq" for m in publisher.sent)
    assert letters[0].error_type == "UnicodeDecodeError" and letters[0].original == b"ok \xff\xfe"
    assert "not UTF-8" in letters[0].reason and letters[0].position.offset == 5
    assert letters[1].error_type == "RecordTooLarge" and "150 bytes exceeds" in letters[1].reason
    assert all(d.stage == "ingest" and d.tenant == "acme" and d.source == ORIGIN.source for d in letters)
    assert sink.stats.dead_letters == 2 and sink.stats.shipped == 0


def test_cached_partitioner_agrees_with_kafka_default() -> None:
    """Memoising the key hash must not move keys: same partition as kafka-python's default."""

    class Cluster:
        def topics(self) -> set[str]:
            return {"t"}

        def partitions_for_topic(self, topic: str) -> set[int]:
            return {0, 1, 2, 3, 4}

        def available_partitions_for_topic(self, topic: str) -> set[int]:
            return {0, 1, 2, 3, 4}

    cached, default = CachedKeyPartitioner(max_keys=3), DefaultPartitioner()
    for key in [b"acme:web%d" % i for i in range(20)] * 2:
        assert cached.partition("t", None, key, None, None, Cluster()) == default.partition(
            "t", None, key, None, None, Cluster()
        )


def test_the_source_time_zone_travels_with_the_record_only_when_set() -> None:
    """A shipper's time zone is stamped on its records; without one the key is absent, so records
    stay byte-for-byte what older normalise workers (extra keys forbidden) accept."""
    sink, publisher = _sink()
    zoned = Origin("acme", "syslog-udp:0.0.0.0:514", "syslog", timezone="Europe/Paris")
    assert sink.ship(zoned, b"<13>Jan 15 10:00:00 h app: x", NOW)
    assert sink.ship(ORIGIN, b"<13>Jan 15 10:00:00 h app: x", NOW)
    with_zone, without = (RawRecord.model_validate_json(m.value) for m in publisher.sent)
    assert with_zone.timezone == "Europe/Paris" and without.timezone is None
    assert b'"timezone"' not in publisher.sent[1].value


@pytest.mark.parametrize(
    ("zone", "parser", "problem"),
    [
        ("Mars/Olympus", "syslog", "unknown time zone 'Mars/Olympus'"),
        ("", "syslog", "unknown time zone ''"),
        ("Europe/Paris", "json", "parser 'json' reads no local times"),
    ],
)
def test_a_bad_source_time_zone_is_refused_when_the_shipper_is_built(
    zone: str, parser: str, problem: str
) -> None:
    """An unknown zone, or a zone for a parser that would ignore it, stops a shipper at start."""
    with pytest.raises(ValueError, match=re.escape(problem)):
        source_timezone(zone, parser)
    with pytest.raises(ValueError, match=re.escape(problem)):
        SyslogListener("udp", "127.0.0.1", 0, tenant="acme", parser=parser, timezone=zone)
    with pytest.raises(ValueError, match=re.escape(problem)):
        TailOptions(tenant="acme", parser=parser, host="h", state_dir=Path("."), timezone=zone)
    assert source_timezone("Europe/Paris", "syslog") == "Europe/Paris"
    assert source_timezone(None, "json") is None
