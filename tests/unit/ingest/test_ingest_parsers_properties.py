"""Property tests: on any input, every parser returns events that serialise, or raises ParseError.

Nothing else may escape a parser: an IndexError or a pydantic ValidationError from hostile input would
crash the normalise worker instead of dead-lettering the record.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.parsers import BUILTIN, ParseError, Parser
from schemas.raw import RawRecord

MakeRaw = Callable[..., RawRecord]

SAMPLES = {
    "json": '{"time": "2024-01-01T00:00:00Z", "host": {"name": "h"}, "message": "m"}',
    "text": "plain text line",
    "windows": '{"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "h", '
    '"SystemTime": "2025-10-25T13:44:33.440907Z", "Image": "C:\\\\a.exe", "ProcessId": 4}',
    "syslog": '<165>1 2003-10-11T22:14:15.003Z host app 12 ID47 [id@1 k="v"] message',
    "auditd": 'type=SYSCALL msg=audit(1364481363.243:24287): arch=c000003e syscall=59 comm="cat" pid=1',
    "access_log": '1.2.3.4 - u [10/Oct/2000:13:55:36 -0700] "GET /x?y HTTP/1.0" 200 5 "r" "ua"',
    "web_error": '2016/10/25 14:49:34 [error] 54053#0: *1 open() "/x" failed, client: 1.2.3.4, '
    'request: "GET / HTTP/1.1"',
    "journald": '{"__REALTIME_TIMESTAMP": "1700000000000000", "_HOSTNAME": "h", "SYSLOG_IDENTIFIER": "sshd", '
    '"MESSAGE": "Failed password for root from 1.2.3.4 port 22 ssh2"}',
    "zeek": '{"ts": 1700000000.5, "id.orig_h": "1.2.3.4", "id.orig_p": 1, "query": "x", "_path": "dns"}',
    "suricata": '{"timestamp": "2017-03-07T17:02:03.469126+0000", "event_type": "alert", '
    '"src_ip": "1.2.3.4", "alert": {"signature_id": 1, "signature": "s"}}',
    "cloudtrail": '{"Records": [{"eventTime": "2024-02-01T10:00:00Z", "eventName": "X", '
    '"sourceIPAddress": "1.2.3.4", "userIdentity": {"arn": "a/b"}}]}',
}

# `make_raw` is a pure function, so sharing the fixture across examples is safe.
PROPERTY_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=25,
)
# Objects that use the field names the parsers look for, with values of any type.
FIELD_NAMES = [
    "EventID", "Channel", "Computer", "SystemTime", "UtcTime", "Image", "ProcessId", "ParentProcessId",
    "User", "TargetUserName", "IpPort", "SourcePort", "Event", "System", "EventData", "UserData", "ts",
    "_path", "id.orig_p", "timestamp", "event_type", "alert", "src_port", "eventTime", "eventName",
    "Records", "userIdentity", "sourceIPAddress", "time", "@timestamp", "host", "message", "#text",
    "#attributes", "Provider", "TimeCreated", "Data",
]  # fmt: skip
field_objects = st.recursive(
    st.dictionaries(st.sampled_from(FIELD_NAMES), json_values, max_size=8),
    lambda inner: st.dictionaries(st.sampled_from(FIELD_NAMES), inner | json_values, max_size=5),
    max_leaves=10,
)


def _check(make_raw: MakeRaw, parser: Parser, data: str) -> None:
    try:
        events = parser.events(make_raw(data, parser.name))
    except ParseError as exc:
        assert exc.reason
        return
    for event in events:
        event.model_dump_json(by_alias=True)
        event.event_id()
        event.flat()


@pytest.mark.parametrize("parser", BUILTIN, ids=lambda p: p.name)
@PROPERTY_SETTINGS
@given(data=st.text(max_size=300))
def test_arbitrary_text_gives_events_or_parse_error(make_raw: MakeRaw, parser: Parser, data: str) -> None:
    """Random text, control characters and surrogate-free unicode: an event or a ParseError."""
    _check(make_raw, parser, data)


@pytest.mark.parametrize("parser", BUILTIN, ids=lambda p: p.name)
@PROPERTY_SETTINGS
@given(value=json_values | field_objects)
def test_arbitrary_json_gives_events_or_parse_error(make_raw: MakeRaw, parser: Parser, value: Any) -> None:
    """Any JSON document, including objects with the parser's own field names holding wrong types."""
    _check(make_raw, parser, json.dumps(value))


@pytest.mark.parametrize("parser", BUILTIN, ids=lambda p: p.name)
@PROPERTY_SETTINGS
@given(cut=st.integers(min_value=0, max_value=400), insert=st.text(max_size=8), where=st.integers(0, 400))
def test_truncated_and_mangled_samples_give_events_or_parse_error(
    make_raw: MakeRaw, parser: Parser, cut: int, insert: str, where: int
) -> None:
    """A valid record cut short, or with junk spliced in, still ends in an event or a ParseError."""
    sample = SAMPLES[parser.name]
    _check(make_raw, parser, sample[:cut])
    _check(make_raw, parser, sample[:where] + insert + sample[where:])


@pytest.mark.parametrize("parser", BUILTIN, ids=lambda p: p.name)
def test_every_parser_reads_its_sample(make_raw: MakeRaw, parser: Parser) -> None:
    """The samples above are valid: the mangling test starts from records each parser accepts."""
    assert parser.events(make_raw(SAMPLES[parser.name], parser.name))
