"""Dead letters keep the source's time zone: an ingest letter records RawRecord.timezone, and
`dlq replay` gives it back to the RawRecord it re-drives, so RFC 3164 times parse in their zone."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from ingest_fakes import RecordingPublisher

from ingest.dlq import Letter, replay_message
from ingest.normalise import EventEnvelope, NormaliseStage
from ingest.shippers.records import Origin, RawSink
from schemas.deadletter import DeadLetter
from schemas.raw import RawRecord
from schemas.topics import Topics
from socpipe.bus import Inbound, Outbound

TOPICS = Topics()
RECEIVED = datetime(2026, 7, 15, 8, 0, 30, tzinfo=UTC)
PARIS = Origin("acme", "syslog-udp:0.0.0.0:514", "syslog", "fw1", timezone="Europe/Paris")
LATIN1_LINE = "<13>Jul 15 10:00:00 fw1 app: caf\xe9".encode("latin-1")  # 10:00 in Paris = 08:00Z


def _dead_letter(origin: Origin, data: bytes) -> DeadLetter:
    publisher = RecordingPublisher()
    assert not RawSink(publisher, TOPICS).ship(origin, data, RECEIVED, line=1, peer="10.0.0.1")  # type: ignore[arg-type]
    (message,) = publisher.sent
    assert message.topic == TOPICS.dlq
    return DeadLetter.model_validate_json(_value(message))


def _value(message: Outbound) -> bytes:
    assert message.value is not None
    return message.value


def _normalise(message: Outbound) -> EventEnvelope:
    inbound = Inbound(topic=message.topic, partition=0, offset=0, value=_value(message), key=message.key)
    out = NormaliseStage(TOPICS).process([inbound])
    assert not out.dead_letters, [d.reason for d in out.dead_letters]
    return EventEnvelope.model_validate_json(_value(out.messages[0]))


def test_an_ingest_letter_keeps_the_zone_and_its_replay_parses_in_it() -> None:
    """A latin-1 syslog line from a Paris source: the letter says Europe/Paris, the replayed RawRecord
    carries it, and normalise reads 10:00 as 08:00Z (UTC would have given 10:00Z)."""
    letter = _dead_letter(PARIS, LATIN1_LINE)
    assert letter.timezone == "Europe/Paris" and letter.error_type == "UnicodeDecodeError"
    message = replay_message(Letter(0, 0, letter), TOPICS, parser=None, encoding="latin-1")
    raw = RawRecord.model_validate_json(_value(message))
    assert (raw.timezone, raw.data, raw.received_at) == (
        "Europe/Paris",
        "<13>Jul 15 10:00:00 fw1 app: café",
        RECEIVED,
    )
    event = _normalise(message).payload
    assert event.timestamp == datetime(2026, 7, 15, 8, 0, tzinfo=UTC)


def test_a_letter_without_a_zone_is_written_as_before_and_replays_without_one() -> None:
    """No zone: no `timezone` key in the letter's JSON (readers from before the field still read it),
    and the replayed record has none, so its times stay UTC."""
    letter = _dead_letter(Origin("acme", "stdin", "syslog", "fw1"), LATIN1_LINE)
    assert "timezone" not in orjson.loads(letter.model_dump_json())
    message = replay_message(Letter(0, 0, letter), TOPICS, parser=None, encoding="latin-1")
    assert "timezone" not in orjson.loads(_value(message))
    assert _normalise(message).payload.timestamp == datetime(2026, 7, 15, 10, 0, tzinfo=UTC)


def test_a_normalise_letter_names_the_zone_and_its_replay_keeps_it_under_another_parser() -> None:
    """A record with a zone refused by normalise: the letter shows the zone, and replay under
    `--as-parser syslog` sends the RawRecord back with its zone."""
    raw = RawRecord(
        tenant="acme", source="file:/var/log/fw.log", parser="json", received_at=RECEIVED,
        data="<13>Jul 15 10:00:00 fw1 app: up", timezone="Europe/Paris",
    )  # fmt: skip
    inbound = Inbound(topic=TOPICS.raw, partition=2, offset=7, value=raw.model_dump_json().encode(), key=b"k")
    (letter,) = NormaliseStage(TOPICS).process([inbound]).dead_letters
    assert letter.timezone == "Europe/Paris"
    message = replay_message(Letter(0, 0, letter), TOPICS, parser="syslog", encoding="utf-8")
    assert _normalise(message).payload.timestamp == datetime(2026, 7, 15, 8, 0, tzinfo=UTC)
