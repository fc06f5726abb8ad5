"""Generic records: `json` (a JSON object, nested keys dotted) and `text` (a plain line as the message)."""

from __future__ import annotations

from ingest.parsers.base import ParseError, Parser, first_time, flatten, load_object, make_event, text
from schemas.event import EcsEvent
from schemas.raw import RawRecord

_TIME_FIELDS = ("@timestamp", "timestamp", "time", "ts", "eventTime", "date")


def parse_json(raw: RawRecord) -> EcsEvent:
    original = flatten(load_object(raw))
    host = text(original.get("host.name")) or text(original.get("hostname")) or text(original.get("host"))
    return make_event(
        raw,
        timestamp=first_time(original, _TIME_FIELDS, raw),
        original=original,
        message=text(original.get("message")) or text(original.get("msg")),
        host={"name": host} if host else None,
        event={"module": "json"},
    )


def parse_text(raw: RawRecord) -> EcsEvent:
    line = raw.data.rstrip("\r\n")
    if not line.strip():
        raise ParseError("empty record")
    return make_event(
        raw, timestamp=raw.received_at, original={"message": line}, message=line, event={"module": "text"}
    )


JSON = Parser(name="json", parse=parse_json, description="any JSON object; nested keys become dotted names")
TEXT = Parser(name="text", parse=parse_text, description="a plain text line, kept whole as the message")
