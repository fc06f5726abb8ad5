"""Syslog lines, RFC 5424 and RFC 3164 (BSD), told apart by the header.

RFC 3164 timestamps carry neither a year nor a time zone. They are read as wall-clock times in the
source's zone (`RawRecord.timezone`, set by the shipper's `--timezone`; UTC when unset), and their
year is the latest of the receive year (in that zone) plus one, itself and minus one that puts the
time at most two days ahead of the receive time: a December line read in early January belongs to
the year before, a January line read on 31 December (a sender's clock a little ahead) to the next.
A wall-clock time that occurs twice (the hour repeated when DST ends) is the occurrence nearer the
receive time; one that does not occur (the hour skipped when DST starts) is read with the offset
before the change, as from a clock that has not changed yet. An ISO time without an offset in a
BSD-style line is read in the same zone. RFC 5424 times carry their offset and ignore the zone.
Lines from files, which usually lack the `<PRI>`, are read too.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, NamedTuple

from ingest.parsers import linux
from ingest.parsers.base import ParseError, Parser, event_from, parse_time, record_zone
from schemas.event import EcsEvent
from schemas.raw import RawRecord

FACILITIES = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp",
    "ntp", "security", "console", "solaris-cron", "local0", "local1", "local2", "local3", "local4", "local5",
    "local6", "local7",
)  # fmt: skip
SEVERITIES = ("emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug")

_PRI = re.compile(r"<(\d{1,3})>")
_RFC5424 = re.compile(r"(\d{1,2}) (\S+) (\S+) (\S+) (\S+) (\S+)(?: |$)")
_VERSION = re.compile(r"\d{1,2}(?: |$)")
_BSD_STAMP = r"(([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.\d+)?) "
_BSD_TIME = re.compile(_BSD_STAMP)
_TAG_TEXT = r"([^\s:\[\]]{1,128})(?:\[([^\]\s]{0,32})\])?: ?"
_TAG = re.compile(_TAG_TEXT)
# The common BSD line in one match: time, a host without ':' or brackets, one space, the tag. Any
# line it does not match takes the general path below, which reads this shape the same way.
_BSD_LINE = re.compile(_BSD_STAMP + r"([^\s:\[\]]+) " + _TAG_TEXT)
_ISO_TIME = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?) ")
_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}  # noqa: SIM905
_SD_NAME = re.compile(r"[^\s=\]\"]{1,32}")
_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")
_SKEW = timedelta(days=2)  # how far ahead of the receive time a sender's clock may be
_NEAR_YEAR_END = timedelta(days=360)  # a time this far behind might belong to next year: check it


def _nil(value: str) -> str | None:
    return None if value == "-" else value


def _structured_data(text: str) -> tuple[dict[str, dict[str, str]], str]:
    """RFC 5424 STRUCTURED-DATA (`-` or `[id k="v" ...]...`) and the rest of the line after it."""
    if text.startswith("-"):
        return {}, text[1:]
    elements: dict[str, dict[str, str]] = {}
    pos = 0
    while pos < len(text) and text[pos] == "[":
        match = _SD_NAME.match(text, pos + 1)
        if not match:
            raise ParseError(f"structured data: bad SD-ID at column {pos + 1}")
        params: dict[str, str] = {}
        elements[match.group()] = params
        pos = match.end()
        while pos < len(text) and text[pos] == " ":
            name = _SD_NAME.match(text, pos + 1)
            if not name or text[name.end() : name.end() + 2] != '="':
                raise ParseError(f"structured data: bad parameter at column {pos + 1}")
            pos, value = _sd_value(text, name.end() + 2)
            params[name.group()] = value
        if pos >= len(text) or text[pos] != "]":
            raise ParseError("structured data: element not closed with ']'")
        pos += 1
    if pos == 0:
        raise ParseError("structured data: expected '-' or '['")
    return elements, text[pos:]


def _sd_value(text: str, pos: int) -> tuple[int, str]:
    out: list[str] = []
    while pos < len(text):
        char = text[pos]
        if char == "\\" and pos + 1 < len(text) and text[pos + 1] in '"\\]':
            out.append(text[pos + 1])
            pos += 2
        elif char == '"':
            return pos + 1, "".join(out)
        else:
            out.append(char)
            pos += 1
    raise ParseError("structured data: unterminated parameter value")


class _Header(NamedTuple):
    """A parsed syslog header, the same shape for both RFCs (a tuple: built once per line)."""

    timestamp: datetime
    hostname: str | None
    appname: str | None
    procid: str | None
    message: str
    msgid: str | None = None
    version: int | None = None
    structured_data: dict[str, dict[str, str]] | None = None


def _rfc5424(body: str, raw: RawRecord) -> _Header:
    match = _RFC5424.match(body)
    if not match:
        raise ParseError("RFC 5424: header needs VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID")
    version, stamp, host, app, procid, msgid = match.groups()
    sd, rest = _structured_data(body[match.end() :]) if match.end() < len(body) else ({}, "")
    if rest and not rest.startswith(" "):
        raise ParseError("RFC 5424: expected a space after STRUCTURED-DATA")
    return _Header(
        timestamp=raw.received_at if stamp == "-" else parse_time(stamp, field="timestamp"),
        hostname=_nil(host),
        appname=_nil(app),
        procid=_nil(procid),
        message=rest[1:].removeprefix("\ufeff"),
        msgid=_nil(msgid),
        version=int(version),
        structured_data=sd,
    )


def _bsd_time(match: re.Match[str], received: datetime, zone: tzinfo) -> datetime:
    """The time of a `_BSD_TIME` or `_BSD_LINE` match: group 1 its text, groups 2-6 its parts."""
    month = _MONTHS.get(match[2])
    if month is None:
        raise ParseError(f"RFC 3164: unknown month {match[2]!r}")
    day, hour, minute, second = int(match[3]), int(match[4]), int(match[5]), int(match[6])
    year = received.year if zone is UTC and received.tzinfo is UTC else received.astimezone(zone).year
    problem = "no such day"
    # The latest of next year, this year and last year that is at most _SKEW ahead of the receive
    # time. This year is the answer for all but lines near New Year: try it first.
    try:
        if zone is UTC:  # the common case (no --timezone): no DST, no conversion
            moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        else:
            moment = _zoned(datetime(year, month, day, hour, minute, second), zone, received)
    except ValueError as exc:  # Feb 29 outside a leap year, Apr 31 ...
        problem, moment = str(exc), None
    if moment is not None and moment - received <= _SKEW and received - moment < _NEAR_YEAR_END:
        return moment
    for candidate in (year + 1, year, year - 1):
        try:
            wall = datetime(candidate, month, day, hour, minute, second)  # zoned by _zoned below
        except ValueError as exc:
            problem = str(exc)
            continue
        moment = _zoned(wall, zone, received)
        if moment - received <= _SKEW:
            return moment
    raise ParseError(f"RFC 3164: bad date {match[1]!r}: {problem}")


def _zoned(wall: datetime, zone: tzinfo, received: datetime) -> datetime:
    """A naive wall-clock time in `zone` as UTC: an ambiguous one (DST ending) is the occurrence
    nearer `received`; a skipped one (DST starting) takes the offset before the change (fold=0)."""
    if zone is UTC:  # the common case (no --timezone): no DST, no conversion
        return wall.replace(tzinfo=UTC)
    first = wall.replace(tzinfo=zone).astimezone(UTC)
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first == second or first.astimezone(zone).replace(tzinfo=None) != wall:
        return first  # unambiguous, or skipped
    return min((first, second), key=lambda moment: abs(moment - received))


def _local_time(text: str, zone: tzinfo, received: datetime) -> datetime:
    """An ISO time from a BSD-style line: as given when it has an offset, else in the source's zone."""
    moment = parse_time(text, field="timestamp")
    if _OFFSET.search(text):
        return moment
    return _zoned(moment.replace(tzinfo=None), zone, received)


def _rfc3164(body: str, raw: RawRecord) -> _Header:
    line = _BSD_LINE.match(body)
    if line:
        moment = _bsd_time(line, raw.received_at, UTC if raw.timezone is None else record_zone(raw))
        return _Header(moment, line[7], line[8], line[9], body[line.end() :])
    bsd = _BSD_TIME.match(body)
    if bsd:
        moment, rest = _bsd_time(bsd, raw.received_at, record_zone(raw)), body[bsd.end() :]
    else:
        iso = _ISO_TIME.match(body)
        if not iso:
            raise ParseError("not syslog: no RFC 5424 header and no 'Mmm dd hh:mm:ss' or ISO timestamp")
        moment, rest = _local_time(iso.group(1), record_zone(raw), raw.received_at), body[iso.end() :]
    host: str | None = None
    tag = _TAG.match(rest)
    if not tag:
        head, _, after = rest.partition(" ")
        host, tag = head or None, _TAG.match(after)
        rest = after
    if tag:
        return _Header(moment, host, tag.group(1), tag.group(2), rest[tag.end() :])
    return _Header(moment, host, None, None, rest)


def _header_fields(header: _Header, priority: int | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """`original` (the header's fields under their syslog names, in the line's order) and ECS
    `log.syslog` of a parsed header; the priority and structured data go to both."""
    original: dict[str, Any] = {}
    syslog: dict[str, Any] = {}
    version, host, app, procid, msgid = (
        header.version,
        header.hostname,
        header.appname,
        header.procid,
        header.msgid,
    )
    if version is not None:
        original["version"] = version
    if host is not None:
        original["hostname"] = host
    if app is not None:
        original["appname"] = syslog["appname"] = app
    if procid is not None:
        original["procid"] = syslog["procid"] = procid
    if msgid is not None:
        original["msgid"] = syslog["msgid"] = msgid
    original["message"] = header.message
    if priority is not None:
        facility, severity = divmod(priority, 8)
        original["priority"] = priority
        original["facility"] = FACILITIES[facility]
        original["severity"] = SEVERITIES[severity]
        syslog = {
            "priority": priority,
            "facility": {"code": facility, "name": FACILITIES[facility]},
            "severity": {"code": severity, "name": SEVERITIES[severity]},
            **syslog,
        }
    sd = header.structured_data
    if sd:
        for sd_id, params in sd.items():
            for name, value in params.items():
                original[f"structured_data.{sd_id}.{name}"] = value
    if host is not None:
        syslog["hostname"] = host
    if version is not None:
        syslog["version"] = str(version)
    if sd:
        syslog["structured_data"] = sd
    return original, syslog


def parse(raw: RawRecord) -> EcsEvent:
    line = raw.data.rstrip("\r\n")
    if not line or line.isspace():
        raise ParseError("empty record")
    pri_match = _PRI.match(line) if line[0] == "<" else None
    priority: int | None = None
    body = line
    if pri_match:
        priority = int(pri_match.group(1))
        if priority > 191:
            raise ParseError(f"syslog PRI {priority} is out of range (0-191)")
        body = line[pri_match.end() :]
    header = _rfc5424(body, raw) if pri_match and _VERSION.match(body) else _rfc3164(body, raw)
    appname, hostname, message = header.appname, header.hostname, header.message
    original, syslog = _header_fields(header, priority)
    process: dict[str, Any] | None = None
    if appname:
        procid = header.procid
        pid = int(procid) if procid and procid.isdigit() and procid.isascii() else None
        process = {"name": appname, "pid": pid}
    ecs = linux.enrich(appname, message)
    event: dict[str, Any] = {"module": "syslog", "dataset": "syslog"}
    if ecs is None:
        ecs = {}
    else:
        event.update(ecs.pop("event", ()))
        if "process" in ecs:
            process = {**(process or {}), **ecs.pop("process")}
        if "original" in ecs:
            original.update(ecs.pop("original"))
        if hostname and ecs:
            ecs.setdefault("related", {})["hosts"] = [hostname]
    ecs["message"] = message
    ecs["host"] = {"name": hostname, "hostname": hostname} if hostname else None
    ecs["process"] = process
    ecs["event"] = event
    return event_from(raw, header.timestamp, original, {"syslog": syslog}, ecs)


PARSER = Parser(
    name="syslog",
    parse=parse,
    description="syslog lines, RFC 5424 or RFC 3164 (detected per line)",
    local_times=True,
)
