"""The `windows` parser on Winlogbeat / Elastic Agent events: the flat Windows names, the same ECS, the
same Sigma detections as the flat layout, and a ParseError with a reason for malformed input."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detectors.sigma import Engine, load_rules
from ingest.parsers import ParseError
from ingest.parsers.windows import parse
from schemas.raw import RawRecord
from socpipe.paths import rules_dir

MakeRaw = Callable[..., RawRecord]

# System fields Winlogbeat delivers only rendered as text: the parser leaves them out of `original`.
RENDERED = {"Level", "Task", "Opcode", "Keywords"}
_LEVELS = {0: "information", 1: "critical", 2: "error", 3: "warning", 4: "information", 5: "verbose"}


def _scalar(value: Any, strings: bool) -> Any:
    return str(value) if strings and isinstance(value, int | float) and not isinstance(value, bool) else value


def _system_setters(strings: bool) -> dict[str, Callable[[dict[str, Any], Any], None]]:
    """Flat System name -> how Winlogbeat places it in the document (`doc`, its `winlog`)."""

    def winlog(
        name: str, convert: Callable[[Any], Any] = lambda v: v
    ) -> Callable[[dict[str, Any], Any], None]:
        return lambda doc, value: doc["winlog"].__setitem__(name, convert(value))

    def process(doc: dict[str, Any], key: str, value: Any) -> None:
        doc["winlog"].setdefault("process", {})[key] = value

    def event_id(doc: dict[str, Any], value: Any) -> None:
        doc["winlog"]["event_id"] = _scalar(value, strings)
        doc["event"] = {"code": str(value), "kind": "event"}

    return {
        "EventID": event_id,
        "SystemTime": lambda doc, v: doc.__setitem__("@timestamp", v),
        "Channel": winlog("channel"),
        "Computer": winlog("computer_name"),
        "Provider_Name": winlog("provider_name"),
        "Version": winlog("version"),
        "Provider_Guid": winlog("provider_guid", "{{{}}}".format),
        "ActivityID": winlog("activity_id", "{{{}}}".format),
        "RelatedActivityID": winlog("related_activity_id", "{{{}}}".format),
        "EventRecordID": winlog("record_id", str),
        "ExecutionProcessID": lambda doc, v: process(doc, "pid", v),
        "ExecutionThreadID": lambda doc, v: process(doc, "thread", {"id": v}),
        "UserID": winlog("user", lambda v: {"identifier": v, "type": "User"}),
        "Level": lambda doc, v: doc.__setitem__("log", {"level": _LEVELS.get(v, "information")}),
        "Task": winlog("task", "Task {}".format),
        "Opcode": winlog("opcode", lambda v: "Info"),
        "Keywords": winlog("keywords", lambda v: ["Classic"]),
    }


def to_winlogbeat(flat: dict[str, Any], *, strings: bool = True) -> dict[str, Any]:
    """A flat Windows event as Winlogbeat 8 ships it. `strings`: event data values and the event id as
    strings, as Winlogbeat writes them; otherwise with the flat event's own types."""
    doc: dict[str, Any] = {
        "winlog": {"api": "wineventlog", "event_data": {}},
        "agent": {"type": "winlogbeat", "version": "8.15.0"},
        "ecs": {"version": "8.0.0"},
        "message": "rendered by the Windows event log",
    }
    setters = _system_setters(strings)
    for key, value in flat.items():
        if key in setters:
            setters[key](doc, value)
        else:
            doc["winlog"]["event_data"][key] = _scalar(value, strings)
    if "Computer" in flat:
        doc["host"] = {"name": str(flat["Computer"]).split(".")[0].lower()}
    return doc


def _expected(flat: dict[str, Any], strings: bool) -> dict[str, Any]:
    system = {"EventID", "Version", "EventRecordID", "ExecutionProcessID", "ExecutionThreadID"}
    return {k: v if k in system else _scalar(v, strings) for k, v in flat.items() if k not in RENDERED}


def _corpus_flat(corpus: Path) -> list[dict[str, Any]]:
    events = corpus / "sigma-regression" / "events"
    return [json.loads(line) for f in sorted(events.glob("*.jsonl")) for line in f.open() if line.strip()]


def _shipped_rule_cases() -> list[dict[str, Any]]:
    """The shipped Windows rules' test events (the Linux and web ones are not Windows events)."""
    cases = sorted((rules_dir() / "sigma" / "windows").rglob("*.tests.json"))
    return [case["event"] for f in cases for case in json.loads(f.read_text())]


SECURITY_4625 = {
    "@timestamp": "2025-03-01T10:20:30.456Z",
    "winlog": {
        "channel": "Security",
        "event_id": "4625",
        "computer_name": "dc1.corp.local",
        "provider_name": "Microsoft-Windows-Security-Auditing",
        "provider_guid": "{54849625-5478-4994-a5ba-3e3b0328c30d}",
        "record_id": "881234",
        "process": {"pid": 676, "thread": {"id": 4312}},
        "keywords": ["Audit Failure"],
        "opcode": "Info",
        "task": "Logon",
        "event_data": {
            "TargetUserName": "administrator",
            "TargetDomainName": "CORP",
            "LogonType": "3",
            "IpAddress": "203.0.113.9",
            "IpPort": "51234",
            "WorkstationName": "KALI",
        },
    },
    "event": {"code": "4625", "kind": "event", "outcome": "failure"},
    "host": {"name": "dc1"},
    "log": {"level": "information"},
    "message": "An account failed to log on.",
}


def test_winlogbeat_security_event_maps_to_flat_names_and_ecs(make_raw: MakeRaw) -> None:
    """A Winlogbeat 4625: original has the flat Windows names (EventID an int, braces off the GUID,
    rendered Keywords/Opcode/Task left out) and ECS user, source, host, outcome are set."""
    event = parse(make_raw(json.dumps(SECURITY_4625), "windows"))
    assert event.original == {
        "Provider_Name": "Microsoft-Windows-Security-Auditing",
        "Provider_Guid": "54849625-5478-4994-a5ba-3e3b0328c30d",
        "EventID": 4625,
        "EventRecordID": 881234,
        "Channel": "Security",
        "Computer": "dc1.corp.local",
        "SystemTime": "2025-03-01T10:20:30.456Z",
        "ExecutionProcessID": 676,
        "ExecutionThreadID": 4312,
        **SECURITY_4625["winlog"]["event_data"],  # type: ignore[index]
    }
    assert event.timestamp.isoformat() == "2025-03-01T10:20:30.456000+00:00"
    assert (event.event.code, event.event.action, event.event.outcome) == ("4625", "logon-failed", "failure")
    assert event.event.dataset == "system.security"
    assert event.host is not None and event.host.name == "dc1.corp.local"
    assert event.user is not None and (event.user.name, event.user.domain) == ("administrator", "CORP")
    assert event.source is not None and (event.source.ip, event.source.port) == ("203.0.113.9", 51234)
    assert event.source.domain == "KALI"


def test_user_data_leaves_and_clashes_are_named_as_in_the_flat_layout(make_raw: MakeRaw) -> None:
    """user_data leaves go to the top (xml_name dropped); a name clashing with a System field is
    renamed UserData_<name>, an event_data one EventData_<name>; event.code stands in for event_id."""
    doc = {
        "@timestamp": "2025-03-01T10:20:30Z",
        "winlog": {
            "channel": "Security",
            "computer_name": "dc1",
            "event_data": {"Channel": "inner"},
            "user_data": {"xml_name": "LogFileCleared", "SubjectUserName": "bob", "Computer": "x"},
        },
        "event": {"code": 1102},
    }
    event = parse(make_raw(json.dumps(doc), "windows"))
    assert event.original == {
        "EventID": 1102, "Channel": "Security", "Computer": "dc1", "SystemTime": "2025-03-01T10:20:30Z",
        "EventData_Channel": "inner", "SubjectUserName": "bob", "UserData_Computer": "x",
    }  # fmt: skip
    assert event.event.action == "audit-log-cleared"


def test_winlog_time_created_wins_over_the_shipping_timestamp(make_raw: MakeRaw) -> None:
    """Elastic Agent's winlog.time_created is the event's time; @timestamp is used only without it."""
    doc = {
        "@timestamp": "2025-03-01T10:00:00Z",
        "winlog": {"event_id": 1, "time_created": "2025-03-01T09:00:00Z"},
    }
    assert parse(make_raw(json.dumps(doc), "windows")).timestamp.hour == 9


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        ({"winlog": "Security"}, "winlog is not an object but str"),
        ({"winlog": {"channel": "Security"}}, "without winlog.event_id or event.code"),
        ({"winlog": {"event_id": "logon"}}, "winlog.event_id is not a number: 'logon'"),
        ({"winlog": {}, "event": {"code": "x1"}}, "event.code is not a number"),
        (
            {"winlog": {"event_id": 1, "event_data": ["a", "b"]}},
            "winlog.event_data is not an object but list",
        ),
        ({"winlog": {"event_id": 1, "user_data": "x"}}, "winlog.user_data is not an object but str"),
        ({"winlog": {"event_id": 1, "process": {"pid": "abc"}}}, "winlog.process.pid is not a number"),
        ({"winlog": {"event_id": 1, "record_id": [1]}}, "winlog.record_id is not a number"),
        ({"winlog": {"event_id": 1}, "@timestamp": {"a": 1}}, "@timestamp is not a time but dict"),
        ({"winlog": {"event_id": 1}, "@timestamp": "soon"}, "SystemTime: not a timestamp"),
        (
            {
                "winlog": {
                    "event_id": 1,
                    "user_data": {
                        "a": {
                            "b": {
                                "c": {
                                    "d": {
                                        "e": {
                                            "f": {
                                                "g": {
                                                    "h": {
                                                        "i": {
                                                            "j": {
                                                                "k": {
                                                                    "l": {
                                                                        "m": {
                                                                            "n": {"o": {"p": {"q": {"r": 1}}}}
                                                                        }
                                                                    }
                                                                }
                                                            }
                                                        }
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    },
                }
            },
            "nested deeper than 16",
        ),
    ],
)
def test_malformed_winlogbeat_events_raise_parse_error(
    make_raw: MakeRaw, doc: dict[str, Any], reason: str
) -> None:
    """Wrong types in the winlog object: a ParseError (so a dead letter) whose reason names the field."""
    with pytest.raises(ParseError, match=reason):
        parse(make_raw(json.dumps(doc), "windows"))


@pytest.mark.corpus
@pytest.mark.parametrize("strings", [False, True], ids=["typed", "as-winlogbeat-writes"])
def test_corpus_events_as_winlogbeat_give_the_flat_original_and_the_same_ecs(
    make_raw: MakeRaw, corpus: Path, strings: bool
) -> None:
    """Every sigma-regression flat event, converted to Winlogbeat's shape, parses to the same `original`
    (less the rendered Level/Task/Opcode/Keywords; event data as strings when Winlogbeat wrote them so)
    and to the same ECS fields as the flat event."""
    flats = _corpus_flat(corpus)
    assert len(flats) >= 90
    for flat in flats:
        a = parse(make_raw(json.dumps(flat), "windows"))
        b = parse(make_raw(json.dumps(to_winlogbeat(flat, strings=strings)), "windows"))
        assert b.original == _expected(flat, strings)
        assert b.model_dump(exclude={"ingest", "original"}) == a.model_dump(exclude={"ingest", "original"})


@pytest.mark.corpus
def test_sigma_detections_are_the_same_on_flat_and_winlogbeat_events(make_raw: MakeRaw, corpus: Path) -> None:
    """The shipped rules (rules/sigma) plus the corpus rules of the regression samples fire alike on
    each event in its flat layout and in Winlogbeat's (with Winlogbeat's string values)."""
    manifest = json.loads((corpus / "sigma-regression" / "manifest.json").read_text())["samples"]
    rule_files = sorted({corpus / "sigma" / s["rule_path"] for s in manifest})
    engine = Engine(load_rules([rules_dir() / "sigma", *rule_files]))
    shipped = set(load_rules([rules_dir() / "sigma" / "windows"]).by_id())
    fired: set[str] = set()
    events = _shipped_rule_cases() + _corpus_flat(corpus)
    for flat in events:
        a = parse(make_raw(json.dumps(flat), "windows"))
        b = parse(make_raw(json.dumps(to_winlogbeat(flat)), "windows"))
        hits_a = sorted(m.rule.id for m in engine.match(a.flat(), tenant="acme"))
        hits_b = sorted(m.rule.id for m in engine.match(b.flat(), tenant="acme"))
        assert hits_b == hits_a, flat
        fired.update(hits_a)
    assert shipped <= fired  # every shipped rule fired on its own test events, in both layouts
    assert len(fired - shipped) >= 80  # and nearly all the regression samples' rules


winlog_values = (
    st.none() | st.booleans() | st.integers() | st.text(max_size=12) | st.lists(st.integers(), max_size=2)
)
winlog_objects = st.fixed_dictionaries(
    {},
    optional={
        "channel": winlog_values,
        "event_id": winlog_values | st.sampled_from(["4625", "1", " 7 ", "0x10"]),
        "computer_name": winlog_values,
        "provider_guid": winlog_values,
        "record_id": winlog_values,
        "version": winlog_values,
        "time_created": winlog_values | st.just("2025-01-01T00:00:00Z"),
        "process": st.dictionaries(st.sampled_from(["pid", "thread"]), winlog_values | st.dictionaries(
            st.just("id"), winlog_values)) | winlog_values,
        "user": st.dictionaries(st.sampled_from(["identifier", "name"]), winlog_values) | winlog_values,
        "event_data": st.dictionaries(st.sampled_from(["Image", "ProcessId", "TargetUserName", "IpPort",
                                                       "EventID", "Channel"]), winlog_values) | winlog_values,
        "user_data": st.recursive(st.dictionaries(st.text(max_size=6), winlog_values, max_size=3),
                                  lambda inner: st.dictionaries(st.text(max_size=6), inner, max_size=3),
                                  max_leaves=30) | winlog_values,
    },
)  # fmt: skip
winlogbeat_docs = st.fixed_dictionaries(
    {"winlog": winlog_objects | winlog_values},
    optional={
        "@timestamp": winlog_values | st.just("2025-01-01T00:00:00.123Z"),
        "event": st.dictionaries(st.just("code"), winlog_values) | winlog_values,
        "host": winlog_values,
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=winlogbeat_docs)
def test_arbitrary_winlogbeat_shapes_give_an_event_or_parse_error(
    make_raw: MakeRaw, doc: dict[str, Any]
) -> None:
    """Any Winlogbeat-shaped document with wrong types anywhere: an event that serialises, or a
    ParseError with a reason; never another exception (which would stop the normalise worker)."""
    try:
        event = parse(make_raw(json.dumps(doc), "windows"))
    except ParseError as exc:
        assert exc.reason
        return
    event.model_dump_json(by_alias=True)
    event.event_id()
    assert isinstance(event.original["EventID"], int)
