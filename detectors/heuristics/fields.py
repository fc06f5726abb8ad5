"""Reading the values heuristics need from a flat event: Windows/Sysmon names first, then ECS names.

A flat event (EcsEvent.flat(), or a line of the corpus) holds the source's own names (`EventID`,
`TargetUserName`, `Image` ...) and ECS dotted names (`user.name`, `source.ip` ...). Empty values
and the Windows placeholder `-` count as absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from schemas.event import HOST_NAME_FIELDS

_ABSENT = (None, "", "-")

HOST = HOST_NAME_FIELDS  # the one list (schemas/event.py)
EVENT_ID = ("EventID", "winlog.event_id", "event.code")


def first(event: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    """The first present value among `names` (None when none is)."""
    for name in names:
        value = event.get(name)
        if value not in _ABSENT:
            return value
    return None


def text(event: Mapping[str, Any], names: tuple[str, ...]) -> str | None:
    value = first(event, names)
    if value is None:
        return None
    if isinstance(value, list):
        return str(value[0]) if value else None
    return str(value)


def event_id(event: Mapping[str, Any]) -> int | None:
    """The Windows event id as an int (EventID, or ECS event.code), None when absent or not a number."""
    value = event.get("EventID")
    if type(value) is int:
        return value
    value = first(event, EVENT_ID)
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def host(event: Mapping[str, Any]) -> str | None:
    """The host as a state key: lower-cased, because Windows names are case-insensitive."""
    value = text(event, HOST)
    return value.lower() if value else None


def host_name(event: Mapping[str, Any]) -> str | None:
    """The host as the event spells it, for the detection's entity: the analyst sees what the log says,
    and the responder titles the incident the same whichever detection (Sigma or heuristic) opens it."""
    return text(event, HOST)


def number(event: Mapping[str, Any], names: tuple[str, ...]) -> float | None:
    value = first(event, names)
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def has(event: Mapping[str, Any], name: str, wanted: str) -> bool:
    """Whether an ECS keyword field (a string or a list of them, like event.category) holds `wanted`."""
    value = event.get(name)
    if isinstance(value, list):
        return wanted in value
    return value == wanted


def ip(value: str | None) -> str | None:
    """An address without the IPv4-mapped prefix (`::ffff:10.0.0.5` -> `10.0.0.5`); None for `-`."""
    if value in _ABSENT or value is None:
        return None
    value = value.strip()
    return value[7:] if value.startswith("::ffff:") else value


LOOPBACK = frozenset({"::1", "127.0.0.1", "localhost"})


def basename(path: str) -> str:
    """`C:\\Windows\\System32\\cmd.exe` -> `cmd.exe`, lower-cased (paths vary per user, names do not)."""
    return path.replace("/", "\\").rsplit("\\", 1)[-1].strip().lower()


_TIME_FIELDS = ("@timestamp", "SystemTime", "TimeCreated", "UtcTime", "timestamp", "ts")


def event_time(event: Mapping[str, Any]) -> datetime | None:
    """The event's own time, for callers that hold a flat event only (`socpipe scan`, benchmarks).

    Tries @timestamp, SystemTime, TimeCreated, UtcTime, timestamp, ts (epoch seconds); naive times
    are taken as UTC. None when no field parses.
    """
    for name in _TIME_FIELDS:
        value = event.get(name)
        if value in _ABSENT:
            continue
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(float(value), UTC)
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            continue
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None
