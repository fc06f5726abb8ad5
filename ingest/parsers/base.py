"""What every parser shares: the error it raises, its registry entry, and the helpers that build events.

A parser is a plain function `parse(raw: RawRecord) -> EcsEvent`. Bad input raises `ParseError` with a
reason a person can act on; anything else escaping a parser is a bug in it, and the property tests in
tests/unit/ingest look for exactly that.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from pydantic import ValidationError

from schemas.event import EcsEvent, Host
from schemas.raw import RawRecord


class ParseError(ValueError):
    """The record is not what the parser reads; `reason` says what was wrong, for the dead letter."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


ParseFn = Callable[[RawRecord], EcsEvent]


class Joiner(Protocol):
    """Joins the records of one event that a format writes as several (auditd's SYSCALL, EXECVE ...).

    `add` reads one record (ParseError when it is bad, the buffer unchanged) and returns the events
    it completes, each with the record it starts at (its position); `flush` returns every open one,
    at the end of a file or when the input is idle; `held` lists the records it holds. Records held
    and then refused on their own land in `refused`, for the caller's dead letters.
    """

    refused: list[tuple[RawRecord, ParseError]]

    def add(self, raw: RawRecord) -> list[Joined]: ...

    def flush(self) -> list[Joined]: ...

    def held(self) -> list[RawRecord]:
        """The records read and not yet part of an emitted event (their positions are not done)."""
        ...


Joined = tuple[RawRecord, EcsEvent]  # an event of joined records, and the record it starts at


def _one(parse: ParseFn) -> Callable[[RawRecord], list[EcsEvent]]:
    return lambda raw: [parse(raw)]


@dataclass(frozen=True, slots=True)
class Parser:
    """A registry entry: the name users write in configuration, and the function behind it.

    `parse_all` exists for container formats (a CloudTrail file holds many records in one document);
    for every other parser it is `[parse(raw)]`. `local_times` says that the format has times without
    an offset (RFC 3164 syslog), which the parser reads in `RawRecord.timezone`: shippers refuse a
    time zone for a parser that would ignore it. `joiner` makes the buffer that readers of a sequence
    of records (the normalise stage per batch, `read_log` per file) feed instead of `events`, for a
    format whose events span several records (auditd).
    """

    name: str
    parse: ParseFn
    description: str
    parse_all: Callable[[RawRecord], list[EcsEvent]] | None = None
    local_times: bool = False  # reads times without an offset in the record's `timezone`
    joiner: Callable[[], Joiner] | None = None  # a new buffer joining the records of one event

    def events(self, raw: RawRecord) -> list[EcsEvent]:
        return self.parse_all(raw) if self.parse_all else [self.parse(raw)]


def load_object(raw: RawRecord) -> dict[str, Any]:
    """The record's text as a JSON object, or a ParseError saying why it is not one."""
    text = raw.data.strip()
    if not text:
        raise ParseError("empty record")
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ParseError(f"not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ParseError(f"expected a JSON object, got {type(value).__name__}")
    return value


def flatten(value: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested objects to dotted keys (`userIdentity.type`), the names Sigma rules use for JSON logs."""
    out: dict[str, Any] = {}
    for key, inner in value.items():
        name = f"{prefix}{key}"
        if isinstance(inner, dict) and inner:
            out.update(flatten(inner, f"{name}."))
        else:
            out[name] = inner
    return out


def walk(value: dict[str, Any], *path: str) -> Any:
    """`value[path[0]][path[1]]...`, or None where a step is missing or not an object."""
    current: Any = value
    for step in path:
        if not isinstance(current, dict):
            return None
        current = current.get(step)
    return current


def text(value: Any) -> str | None:
    """A scalar as a string (numbers too); None for null, empty, lists and objects."""
    if value is None or isinstance(value, dict | list) or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_int(value: Any) -> int | None:  # noqa: PLR0911 - one return per accepted shape
    """An int from an int, a decimal string or a 0x-hex string; None when it is none of those."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str):
        candidate = value.strip()
        try:
            if candidate.lower().startswith("0x"):
                return int(candidate, 16)
            if candidate.isascii() and candidate.lstrip("-").isdigit():
                return int(candidate)
        except ValueError:
            return None
    return None


def parse_time(value: Any, *, field: str) -> datetime:
    """A timezone-aware UTC datetime from ISO-8601 text or epoch seconds; naive times are taken as UTC."""
    try:
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, int | float):
            moment = datetime.fromtimestamp(float(value), UTC)
        elif isinstance(value, str):
            candidate = value.strip()
            if candidate.replace(".", "", 1).isdigit():
                moment = datetime.fromtimestamp(float(candidate), UTC)
            else:
                moment = datetime.fromisoformat(candidate)
        else:
            raise TypeError
    except (TypeError, ValueError, OverflowError, OSError):
        raise ParseError(f"{field}: not a timestamp: {str(value)[:80]!r}") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ParseError(f"{field}: timestamp out of range: {str(value)[:80]!r}") from None


def first_time(doc: dict[str, Any], fields: tuple[str, ...], raw: RawRecord) -> datetime:
    """The first of `fields` present in the record as a time; the receive time when none is present."""
    for name in fields:
        value = doc.get(name)
        if value not in (None, ""):
            return parse_time(value, field=name)
    return raw.received_at


@lru_cache(maxsize=256)
def time_zone(name: str) -> ZoneInfo:
    """The IANA time zone `name` (`Europe/Paris`); ValueError naming the value when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name like Europe/Paris or UTC)") from None


def record_zone(raw: RawRecord) -> tzinfo:
    """The zone of a record's offset-less times (`RawRecord.timezone`, UTC when unset)."""
    if raw.timezone is None:
        return UTC
    try:
        return time_zone(raw.timezone)
    except ValueError as exc:
        raise ParseError(f"the record's timezone: {exc}") from None


_IPV4 = re.compile(r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}")


def is_ip(value: str | None) -> bool:
    """An IPv4 or IPv6 address (not a host name); IPv4 by a regular expression, the hot case."""
    if not value:
        return False
    if _IPV4.fullmatch(value):
        return True
    if ":" not in value:
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def within(moment: datetime, received: datetime) -> datetime:
    """Refuse absurd timestamps (year 1, year 9999) that would poison time-based indices.

    1970 is allowed (devices without a clock send it); more than a year after receipt is not.
    """
    if moment < _EPOCH or moment - received > _YEAR_AHEAD:
        raise ParseError(f"timestamp {moment.isoformat()} is implausible (before 1970 or over a year ahead)")
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)


_YEAR_AHEAD = timedelta(days=366)
# `EcsEvent.model_validate` without its Python wrapper: the same compiled validator, once per event.
_VALIDATE = EcsEvent.__pydantic_validator__.validate_python


def make_event(
    raw: RawRecord,
    *,
    timestamp: datetime,
    original: dict[str, Any],
    log_extra: dict[str, Any] | None = None,
    **ecs: Any,
) -> EcsEvent:
    """An EcsEvent with socpipe's provenance (tenant, source, position) taken from the raw record.

    `ecs` holds the ECS fields (event=, host=, process= ...), as models or plain dicts. The host falls
    back to the shipper's host hint, which comes from its configuration or the network peer.
    `log_extra` adds to ECS `log.*` (e.g. `log.syslog`).
    """
    return event_from(raw, timestamp, original, log_extra, ecs)


def event_from(
    raw: RawRecord,
    timestamp: datetime,
    original: dict[str, Any],
    log_extra: dict[str, Any] | None,
    ecs: dict[str, Any],
) -> EcsEvent:
    """`make_event` for a parser that has its ECS fields in a dict already (the hot parsers): `ecs`
    and its `event` dict are taken over and completed, not copied.

    The whole document is validated by one call of EcsEvent's compiled validator: the parsers'
    output is checked at this boundary like any other input. Building the models unvalidated
    (`model_construct`) was measured and rejected: it is Python code and costs about four times
    the compiled validation it would skip (benchmarks/parsers-results.md).
    """
    if ecs.get("host") is None and raw.host_hint:
        ecs["host"] = Host(name=raw.host_hint)
    log: dict[str, Any] = {"file.path": raw.path, "offset": raw.offset, "logger": raw.source}
    if log_extra:
        log.update(log_extra)
    event = ecs.get("event")
    if event is None:
        ecs["event"] = event = {}
    event["ingested"] = raw.received_at
    ecs["@timestamp"] = within(timestamp, raw.received_at)
    ecs["tenant"] = raw.tenant
    ecs["log"] = log
    ecs["ingest"] = {"source": raw.source, "parser": raw.parser, "received_at": raw.received_at}
    ecs["original"] = original
    try:
        # One validation of the whole document: nested dicts are checked by the same call, which
        # costs a third of building each part as its own model first (benchmarks/parsers.py).
        return _VALIDATE(ecs)  # type: ignore[no-any-return]
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ParseError(f"cannot build the ECS event: {where}: {first['msg']}") from None


def compact(**fields: Any) -> dict[str, Any] | None:
    """The non-empty fields as a dict, or None when all are empty (so the ECS object is left out)."""
    kept = {k: v for k, v in fields.items() if v not in (None, "", [], {})}
    return kept or None


def basename(path: str | None) -> str | None:
    """The last component of a Windows or POSIX path."""
    if not path:
        return None
    return path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or None


def key_values(pairs: Iterator[tuple[str, str]]) -> dict[str, str]:
    """Key-value pairs to a dict; a repeated key keeps its first value and later ones get a suffix."""
    out: dict[str, str] = {}
    for key, value in pairs:
        name, n = key, 1
        while name in out:
            n += 1
            name = f"{key}_{n}"
        out[name] = value
    return out
