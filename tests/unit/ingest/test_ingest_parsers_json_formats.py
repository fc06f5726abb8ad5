"""The JSON-based parsers: generic `json`, `text`, `zeek`, `suricata` and `cloudtrail`."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from ingest.parsers import ParseError, default_registry
from ingest.parsers.cloudtrail import parse as parse_cloudtrail
from ingest.parsers.cloudtrail import parse_all as parse_cloudtrail_all
from ingest.parsers.generic import parse_json, parse_text
from ingest.parsers.network import parse_suricata, parse_zeek
from schemas.raw import RawRecord

CLOUDTRAIL = {
    "eventVersion": "1.08",
    "userIdentity": {
        "type": "IAMUser",
        "userName": "alice",
        "arn": "arn:aws:iam::1:user/alice",
        "accountId": "1",
    },
    "eventTime": "2024-02-01T10:00:00Z",
    "eventSource": "iam.amazonaws.com",
    "eventName": "CreateAccessKey",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "203.0.113.9",
    "userAgent": "aws-cli/2",
    "requestParameters": {"userName": "bob"},
    "eventID": "e1",
}


def test_generic_json_keeps_nested_keys_dotted(make_raw: Callable[..., RawRecord]) -> None:
    """Nested objects become dotted names; a known time field becomes @timestamp."""
    event = parse_json(make_raw('{"time": "2024-01-01T00:00:00Z", "a": {"b": 1}, "message": "hi"}'))
    assert event.original == {"time": "2024-01-01T00:00:00Z", "a.b": 1, "message": "hi"}
    assert event.message == "hi" and event.timestamp.year == 2024


def test_text_keeps_the_line_as_message(make_raw: Callable[..., RawRecord]) -> None:
    """A plain line is the message, stamped with the receive time."""
    raw = make_raw("something odd happened\r\n", "text")
    event = parse_text(raw)
    assert event.message == "something odd happened" and event.timestamp == raw.received_at


def test_zeek_dns(make_raw: Callable[..., RawRecord]) -> None:
    """A Zeek dns.log record: endpoints and the question; Zeek's names stay in original."""
    record = {
        "_path": "dns", "ts": 1700000000.5, "uid": "C1", "id.orig_h": "10.0.0.2", "id.orig_p": 5353,
        "id.resp_h": "10.0.0.1", "id.resp_p": 53, "proto": "udp", "query": "evil.example", "qtype_name": "A",
    }  # fmt: skip
    event = parse_zeek(make_raw(json.dumps(record), "zeek"))
    assert event.event.dataset == "zeek.dns"
    assert (
        event.dns is not None and event.dns.question is not None and event.dns.question.name == "evil.example"
    )
    assert event.source is not None and event.source.port == 5353
    assert event.original["id.orig_h"] == "10.0.0.2"


def test_suricata_alert(make_raw: Callable[..., RawRecord]) -> None:
    """An EVE alert becomes an ECS alert with rule.* and the endpoints; nested keys dotted."""
    record = {
        "timestamp": "2017-03-07T17:02:03.469126+0000", "event_type": "alert", "src_ip": "1.2.3.4",
        "src_port": 80, "dest_ip": "10.0.0.3", "dest_port": 51000, "proto": "TCP",
        "alert": {"action": "allowed", "signature_id": 2019401, "signature": "ET POLICY curl", "severity": 2},
    }  # fmt: skip
    event = parse_suricata(make_raw(json.dumps(record), "suricata"))
    assert event.event.kind == "alert" and event.rule is not None and event.rule.id == "2019401"
    assert event.network is not None and event.network.transport == "tcp"
    assert event.original["alert.signature"] == "ET POLICY curl"
    assert event.timestamp.isoformat() == "2017-03-07T17:02:03.469126+00:00"


def test_cloudtrail_record_and_document(make_raw: Callable[..., RawRecord]) -> None:
    """One record maps to cloud.*, user.*, source.ip; a Records document yields one event each."""
    event = parse_cloudtrail(make_raw(json.dumps(CLOUDTRAIL), "cloudtrail"))
    assert (
        event.original["userIdentity.type"] == "IAMUser" and event.original["eventName"] == "CreateAccessKey"
    )
    assert event.cloud is not None and event.cloud.region == "us-east-1"
    assert event.user is not None and event.user.name == "alice"
    assert event.source is not None and event.source.ip == "203.0.113.9"
    second = {**CLOUDTRAIL, "eventID": "e2", "sourceIPAddress": "ec2.amazonaws.com"}
    doc = make_raw(json.dumps({"Records": [CLOUDTRAIL, second]}), "cloudtrail")
    events = default_registry().get("cloudtrail").events(doc)
    assert [e.original["eventID"] for e in events] == ["e1", "e2"]
    assert events[1].source is not None and events[1].source.domain == "ec2.amazonaws.com"
    assert len({e.event_id() for e in events}) == 2
    with pytest.raises(ParseError, match=r"Records\[1\]: not a CloudTrail record"):
        parse_cloudtrail_all(make_raw(json.dumps({"Records": [CLOUDTRAIL, {"x": 1}]}), "cloudtrail"))


@pytest.mark.parametrize(
    ("parser", "data", "reason"),
    [
        ("zeek", '{"uid": "x"}', "no 'ts'"),
        ("zeek", '{"ts": "never"}', "not a timestamp"),
        ("suricata", '{"timestamp": "2017-03-07T17:02:03Z"}', "needs 'timestamp' and 'event_type'"),
        ("cloudtrail", '{"eventName": "X"}', "needs 'eventTime'"),
        ("json", '{"a": 1', "not valid JSON"),
        ("json", '{"time": "0001-01-01T00:00:00Z"}', "implausible"),
        ("text", "   ", "empty record"),
    ],
)
def test_malformed_json_records(
    make_raw: Callable[..., RawRecord], parser: str, data: str, reason: str
) -> None:
    """Each JSON format refuses records that lack its defining fields, with the reason."""
    with pytest.raises(ParseError, match=reason):
        default_registry().get(parser).parse(make_raw(data, parser))
