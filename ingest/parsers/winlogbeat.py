"""Winlogbeat / Elastic Agent Windows events to the flat Windows layout that Sigma rules are written for.

Winlogbeat (and Elastic Agent's winlog input) ships an event as
`{"@timestamp": ..., "winlog": {"channel", "event_id", "computer_name", "provider_name", "record_id",
"event_data", "user_data", ...}, "event": {"code": ...}, "host": ..., "message": ...}`. This module
turns it into the same flat dict as the EVTX layouts give (see ../shared/corpus/README.md):

- `winlog.channel`, `computer_name`, `provider_name` -> `Channel`, `Computer`, `Provider_Name`;
- `winlog.event_id` (a string or a number; else `event.code`) -> `EventID`, an int;
- `winlog.provider_guid`, `activity_id`, `related_activity_id` -> `Provider_Guid`, `ActivityID`,
  `RelatedActivityID`, without Winlogbeat's braces;
- `winlog.record_id`, `version`, `process.pid`, `process.thread.id` -> `EventRecordID`, `Version`,
  `ExecutionProcessID`, `ExecutionThreadID`, ints;
- `winlog.user.identifier` -> `UserID`; `winlog.time_created`, else `@timestamp` -> `SystemTime`;
- `winlog.event_data.<Name>` -> `<Name>` (`EventData_<Name>` where it clashes with a System name);
- leaves of `winlog.user_data` other than `xml_name` -> `<Leaf>` (`UserData_<Leaf>` on a clash).

What Winlogbeat does not carry as the EVTX had it is left out rather than guessed: `Level`, `Task`,
`Opcode` and `Keywords` arrive rendered as text (`information`, `Logon`, `Info`, `Audit Failure`),
which rules comparing the numbers would silently miss; event data values arrive as strings (`"7112"`
where evtx_dump gives 7112), and Winlogbeat's `paramN` names for unnamed `<Data>` stay as they are.
The envelope's other fields (`message`, `host`, `agent`, ...) are Winlogbeat's, not the event's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ingest.parsers.base import ParseError, text, to_int


def is_winlogbeat(record: Mapping[str, Any]) -> bool:
    """Winlogbeat's shape: a `winlog` key at the top and none of the EVTX layouts' keys."""
    return "winlog" in record and not ({"Event", "System", "EventID"} & record.keys())


def _guid(value: Any) -> str | None:
    guid = text(value)
    return guid.strip("{}") if guid else None


def _number(winlog: Mapping[str, Any], name: str, value: Any) -> int | None:
    if value is None:
        return None
    number = to_int(value)
    if number is None:
        raise ParseError(f"winlog.{name} is not a number: {str(value)[:40]!r}")
    return number


def _section(winlog: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = winlog.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ParseError(f"winlog.{name} is not an object but {type(value).__name__}")
    return value


def _event_id(record: Mapping[str, Any], winlog: Mapping[str, Any]) -> int:
    value = winlog.get("event_id")
    where = "winlog.event_id"
    if value is None:
        event = record.get("event")
        value = event.get("code") if isinstance(event, Mapping) else None
        where = "event.code"
    if value is None:
        raise ParseError("Winlogbeat event without winlog.event_id or event.code")
    event_id = to_int(value)
    if event_id is None:
        raise ParseError(f"{where} is not a number: {str(value)[:40]!r}")
    return event_id


def _system(record: Mapping[str, Any], winlog: Mapping[str, Any]) -> dict[str, Any]:
    process = _section(winlog, "process")
    thread = process.get("thread")
    user = _section(winlog, "user")
    timestamp = winlog.get("time_created", record.get("@timestamp"))
    if timestamp is not None and not isinstance(timestamp, str | int | float):
        raise ParseError(f"@timestamp is not a time but {type(timestamp).__name__}")
    system: dict[str, Any] = {
        "Provider_Name": text(winlog.get("provider_name")),
        "Provider_Guid": _guid(winlog.get("provider_guid")),
        "EventID": _event_id(record, winlog),
        "Version": _number(winlog, "version", winlog.get("version")),
        "EventRecordID": _number(winlog, "record_id", winlog.get("record_id")),
        "ActivityID": _guid(winlog.get("activity_id")),
        "RelatedActivityID": _guid(winlog.get("related_activity_id")),
        "Channel": text(winlog.get("channel")),
        "Computer": text(winlog.get("computer_name")),
        "SystemTime": timestamp,
        "ExecutionProcessID": _number(winlog, "process.pid", process.get("pid")),
        "ExecutionThreadID": _number(
            winlog, "process.thread.id", thread.get("id") if isinstance(thread, Mapping) else thread
        ),
        "UserID": text(user.get("identifier")),
    }
    return {k: v for k, v in system.items() if v is not None}


_MAX_DEPTH = 16


def _leaves(node: Mapping[str, Any], out: dict[str, Any], depth: int = 0) -> None:
    if depth > _MAX_DEPTH:
        raise ParseError(f"winlog.user_data is nested deeper than {_MAX_DEPTH} levels")
    for key, value in node.items():
        if key == "xml_name":  # Winlogbeat's name of the UserData element, not a field of the event
            continue
        if isinstance(value, Mapping):
            _leaves(value, out, depth + 1)
        else:
            out[key] = value


def flatten_winlogbeat(record: Mapping[str, Any]) -> dict[str, Any]:
    """One Winlogbeat event as the flat Windows layout (module docstring); ParseError says what is wrong."""
    winlog = record["winlog"]
    if not isinstance(winlog, Mapping):
        raise ParseError(f"winlog is not an object but {type(winlog).__name__}")
    flat = _system(record, winlog)
    system_keys = set(flat)
    event_data = dict(_section(winlog, "event_data"))
    user_data: dict[str, Any] = {}
    _leaves(_section(winlog, "user_data"), user_data)
    for section, part in (("EventData", event_data), ("UserData", user_data)):
        for key, value in part.items():
            flat[f"{section}_{key}" if key in system_keys else key] = value
    return flat
