"""The `windows` parser: nested and flat Windows event JSON to ECS, original names kept for Sigma."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from ingest.parsers import ParseError
from ingest.parsers.windows import parse
from schemas.raw import RawRecord

SYSMON_1 = {
    "Provider_Name": "Microsoft-Windows-Sysmon",
    "EventID": 1,
    "Channel": "Microsoft-Windows-Sysmon/Operational",
    "Computer": "ws1.corp.local",
    "SystemTime": "2025-10-25T13:44:33.440907Z",
    "UserID": "S-1-5-18",
    "ProcessId": 7112,
    "Image": "C:\\Windows\\System32\\reg.exe",
    "CommandLine": "reg query HKLM",
    "User": "CORP\\alice",
    "ParentProcessId": 6304,
    "ParentImage": "C:\\Windows\\System32\\cmd.exe",
}
NESTED_4624 = {
    "Event": {
        "System": {
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing"}},
            "EventID": 4624,
            "TimeCreated": {"#attributes": {"SystemTime": "2025-01-02T03:04:05.000Z"}},
            "Channel": "Security",
            "Computer": "dc1.corp.local",
            "Security": None,
        },
        "EventData": {
            "TargetUserName": "bob",
            "TargetDomainName": "CORP",
            "TargetUserSid": "S-1-5-21-1",
            "IpAddress": "10.0.0.5",
            "IpPort": "50123",
            "LogonType": 3,
        },
    }
}


def test_flat_sysmon_process_creation_maps_to_ecs(make_raw: Callable[..., RawRecord]) -> None:
    """A flat Sysmon 1 event gets host, process, parent, user and event fields; original stays flat."""
    event = parse(make_raw(json.dumps(SYSMON_1), "windows"))
    assert event.timestamp.isoformat() == "2025-10-25T13:44:33.440907+00:00"
    assert event.host is not None and event.host.name == "ws1.corp.local"
    assert event.process is not None
    assert (event.process.pid, event.process.name, event.process.command_line) == (
        7112,
        "reg.exe",
        "reg query HKLM",
    )
    assert event.process.parent is not None and event.process.parent.name == "cmd.exe"
    assert event.user is not None and (event.user.name, event.user.domain) == ("alice", "CORP")
    assert (event.event.code, event.event.module, event.event.category) == ("1", "sysmon", ["process"])
    assert event.original == SYSMON_1
    flat = event.flat()
    assert flat["Image"] == SYSMON_1["Image"] and flat["process.executable"] == SYSMON_1["Image"]


def test_nested_security_logon_maps_to_ecs(make_raw: Callable[..., RawRecord]) -> None:
    """A nested 4624 is flattened (Provider_Name, SystemTime ...) and mapped: user, source, outcome."""
    event = parse(make_raw(json.dumps(NESTED_4624), "windows"))
    assert event.original["Provider_Name"] == "Microsoft-Windows-Security-Auditing"
    assert event.original["SystemTime"] == "2025-01-02T03:04:05.000Z"
    assert event.original["TargetUserName"] == "bob"
    assert event.user is not None and event.user.name == "bob" and event.user.id == "S-1-5-21-1"
    assert event.source is not None and (event.source.ip, event.source.port) == ("10.0.0.5", 50123)
    assert (event.event.action, event.event.outcome) == ("logged-in", "success")


def test_event_without_time_uses_the_receive_time(make_raw: Callable[..., RawRecord]) -> None:
    """Some corpus events lack SystemTime: the event is kept, stamped with when it was received."""
    record = {k: v for k, v in SYSMON_1.items() if k != "SystemTime"}
    raw = make_raw(json.dumps(record), "windows")
    assert parse(raw).timestamp == raw.received_at


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ('{"Channel": "Security"}', "not a Windows event"),
        ('{"EventID": "four"}', "EventID is not a number"),
        ('{"EventID": 1, "SystemTime": "yesterday"}', "SystemTime: not a timestamp"),
        ('{"EventID": 1, "Computer": "x"', "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ("", "empty record"),
    ],
)
def test_bad_windows_records_raise_parse_error(
    make_raw: Callable[..., RawRecord], data: str, reason: str
) -> None:
    """Malformed or truncated records fail with a ParseError whose reason says what is wrong."""
    with pytest.raises(ParseError, match=reason):
        parse(make_raw(data, "windows"))


@pytest.mark.corpus
def test_corpus_nested_and_flat_layouts_give_the_same_event(
    make_raw: Callable[..., RawRecord], corpus: Path
) -> None:
    """For every sigma-regression sample, the nested (raw/) and flat (events/) layouts parse alike."""
    regression = corpus / "sigma-regression"
    count = 0
    for nested_file in sorted((regression / "raw").glob("*.jsonl")):
        flat_file: Path = regression / "events" / nested_file.name
        for nested, flat in zip(nested_file.open(), flat_file.open(), strict=True):
            a, b = parse(make_raw(nested, "windows")), parse(make_raw(flat, "windows"))
            assert a.original == json.loads(flat)
            assert a.model_dump(exclude={"ingest"}) == b.model_dump(exclude={"ingest"})
            count += 1
    assert count >= 87


def test_attributes_that_are_not_a_mapping_are_ignored_not_a_crash(
    make_raw: Callable[..., RawRecord],
) -> None:
    """`System.EventID.#attributes` as a list (hypothesis found it: AttributeError): ignored."""
    from ingest.parsers import ParseError, default_registry

    record = make_raw('{"System": {"EventID": {"#attributes": [null], "#text": 4624}}}', "windows")
    try:
        default_registry().get("windows").events(record)
    except ParseError as exc:
        assert exc.reason
