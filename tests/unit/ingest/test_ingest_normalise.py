"""The normalise stage without a broker: RawRecords in, event envelopes or dead letters out."""

from __future__ import annotations

import json

from ingest.normalise import EventEnvelope, NormaliseStage
from schemas.deadletter import DeadLetter
from schemas.raw import RawRecord
from schemas.topics import Topics
from socpipe.bus import Inbound

TOPICS = Topics.with_prefix("t.")


def _inbound(value: bytes, offset: int = 0) -> Inbound:
    return Inbound(topic=TOPICS.raw, partition=1, offset=offset, value=value, key=b"acme:h")


def _raw(data: str, parser: str = "windows") -> bytes:
    return RawRecord(
        tenant="acme", source="file:/logs/a.jsonl", parser=parser, received_at="2026-11-30T08:00:00Z",
        path="/logs/a.jsonl", offset=120, line=3, host_hint="shipper1", data=data,
    ).model_dump_json().encode()  # fmt: skip


def test_parsed_event_goes_to_ecs_in_an_envelope_keyed_by_tenant_and_host() -> None:
    """A good record becomes Envelope(kind=event, id=event_id()) on events.ecs, keyed by tenant and host
    (lower-cased): one host's events stay in order, one tenant's spread over every detector."""
    record = {"EventID": 1, "Channel": "Security", "Computer": "dc1", "SystemTime": "2026-11-30T07:00:00Z"}
    out = NormaliseStage(TOPICS).process([_inbound(_raw(json.dumps(record)))])
    assert not out.dead_letters and len(out.messages) == 1
    message = out.messages[0]
    assert (message.topic, message.key) == (TOPICS.ecs, b"acme|dc1")
    envelope = EventEnvelope.model_validate_json(message.value)
    assert envelope.kind == "event" and envelope.tenant == "acme"
    assert envelope.id == envelope.payload.event_id()
    assert envelope.payload.original == record
    assert b'"@timestamp"' in message.value


def test_same_record_twice_gives_the_same_event_id() -> None:
    """Replays and at-least-once redeliveries write the same id, so downstream writes are idempotent."""
    value = _raw('{"EventID": 4624, "Computer": "dc1", "SystemTime": "2026-11-30T07:00:00Z"}')
    stage = NormaliseStage(TOPICS)
    first, second = stage.process([_inbound(value)]), stage.process([_inbound(value, offset=9)])
    assert EventEnvelope.model_validate_json(first.messages[0].value).id == (
        EventEnvelope.model_validate_json(second.messages[0].value).id
    )


def test_parse_failure_is_dead_lettered_with_reason_parser_tenant_and_positions() -> None:
    """A record its parser refuses: reason, parser, tenant, Kafka and file positions, original bytes."""
    value = _raw('{"EventID": 1, "Computer": "dc1"', parser="windows")
    out = NormaliseStage(TOPICS).process([_inbound(value, offset=41)])
    assert not out.messages
    (letter,) = out.dead_letters
    assert isinstance(letter, DeadLetter)
    assert letter.stage == "normalise" and letter.parser == "windows" and letter.tenant == "acme"
    assert "not valid JSON" in letter.reason and letter.error_type == "ParseError"
    assert (letter.position.topic, letter.position.partition, letter.position.offset) == (TOPICS.raw, 1, 41)
    assert (letter.position.path, letter.position.line) == ("/logs/a.jsonl", 3)
    assert letter.original == value and letter.replay_topic == TOPICS.raw


def test_unknown_parser_and_non_raw_messages_are_dead_lettered() -> None:
    """A record naming no registered parser, and a message that is not a RawRecord, are both kept."""
    stage = NormaliseStage(TOPICS)
    out = stage.process([_inbound(_raw("x", parser="evtx")), _inbound(b"\xff not json")])
    reasons = [d.reason for d in out.dead_letters]
    assert "unknown parser 'evtx'" in reasons[0]
    assert reasons[1].startswith("invalid message")
    assert out.dead_letters[1].original == b"\xff not json"


def test_cloudtrail_document_yields_one_event_per_record() -> None:
    """Container formats (CloudTrail's Records) fan out into several events from one raw record."""
    record = {"eventTime": "2026-11-30T07:00:00Z", "eventName": "A", "eventSource": "s3.amazonaws.com"}
    doc = {"Records": [record, {**record, "eventName": "B"}]}
    out = NormaliseStage(TOPICS).process([_inbound(_raw(json.dumps(doc), parser="cloudtrail"))])
    names = [EventEnvelope.model_validate_json(m.value).payload.original["eventName"] for m in out.messages]
    assert names == ["A", "B"]
