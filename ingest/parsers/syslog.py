"""Syslog lines, RFC 5424 and RFC 3164 (BSD), told apart by the header.

RFC 3164 timestamps carry no year: it is taken from the receive time, and a date more than two days
ahead of it is put in the year before (a December line read in January). Lines from files, which
usually lack the `<PRI>`, are read too.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from ingest.parsers.base import ParseError, Parser, make_event, parse_time
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
_BSD_TIME = re.compile(r"([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.\d+)? ")
_ISO_TIME = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?) ")
_TAG = re.compile(r"([^\s:\[\]]{1,128})(?:\[([^\]\s]{0,32})\])?: ?")
_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}  # noqa: SIM905
_SD_NAME = re.compile(r"[^\s=\]\"]{1,32}")


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


def _rfc5424(body: str, raw: RawRecord) -> dict[str, Any]:
    match = _RFC5424.match(body)
    if not match:
        raise ParseError("RFC 5424: header needs VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID")
    version, stamp, host, app, procid, msgid = match.groups()
    sd, rest = _structured_data(body[match.end() :]) if match.end() < len(body) else ({}, "")
    if rest and not rest.startswith(" "):
        raise ParseError("RFC 5424: expected a space after STRUCTURED-DATA")
    message = rest[1:].removeprefix("\ufeff")
    return {
        "version": int(version),
        "timestamp": raw.received_at if stamp == "-" else parse_time(stamp, field="timestamp"),
        "hostname": _nil(host),
        "appname": _nil(app),
        "procid": _nil(procid),
        "msgid": _nil(msgid),
        "structured_data": sd,
        "message": message,
    }


def _bsd_time(match: re.Match[str], received: datetime) -> datetime:
    month = _MONTHS.get(match.group(1))
    if month is None:
        raise ParseError(f"RFC 3164: unknown month {match.group(1)!r}")
    day, hour, minute, second = (int(g) for g in match.groups()[1:])
    try:
        moment = datetime(received.year, month, day, hour, minute, second, tzinfo=UTC)
        if moment - received > timedelta(days=2):
            moment = moment.replace(year=received.year - 1)
    except ValueError as exc:
        raise ParseError(f"RFC 3164: bad date: {exc}") from None
    return moment


def _rfc3164(body: str, raw: RawRecord) -> dict[str, Any]:
    bsd = _BSD_TIME.match(body)
    if bsd:
        moment, rest = _bsd_time(bsd, raw.received_at), body[bsd.end() :]
    else:
        iso = _ISO_TIME.match(body)
        if not iso:
            raise ParseError("not syslog: no RFC 5424 header and no 'Mmm dd hh:mm:ss' or ISO timestamp")
        moment, rest = parse_time(iso.group(1), field="timestamp"), body[iso.end() :]
    host: str | None = None
    tag = _TAG.match(rest)
    if not tag:
        head, _, after = rest.partition(" ")
        host, tag = head or None, _TAG.match(after)
        rest = after
    if tag:
        app, procid, message = tag.group(1), tag.group(2), rest[tag.end() :]
    else:
        app, procid, message = None, None, rest
    return {
        "timestamp": moment,
        "hostname": host,
        "appname": app,
        "procid": procid,
        "msgid": None,
        "structured_data": {},
        "message": message,
    }


def parse(raw: RawRecord) -> EcsEvent:
    line = raw.data.rstrip("\r\n")
    if not line.strip():
        raise ParseError("empty record")
    pri_match = _PRI.match(line)
    priority: int | None = None
    body = line
    if pri_match:
        priority = int(pri_match.group(1))
        if priority > 191:
            raise ParseError(f"syslog PRI {priority} is out of range (0-191)")
        body = line[pri_match.end() :]
    fields = _rfc5424(body, raw) if pri_match and _VERSION.match(body) else _rfc3164(body, raw)
    facility = severity = None
    if priority is not None:
        facility, severity = divmod(priority, 8)
    sd = fields.pop("structured_data")
    moment = fields.pop("timestamp")
    original: dict[str, Any] = {k: v for k, v in fields.items() if v is not None}
    if priority is not None:
        original.update(
            priority=priority, facility=FACILITIES[facility or 0], severity=SEVERITIES[severity or 0]
        )
    for sd_id, params in sd.items():
        for name, value in params.items():
            original[f"structured_data.{sd_id}.{name}"] = value
    syslog: dict[str, Any] = {
        "priority": priority,
        "appname": fields.get("appname"),
        "procid": fields.get("procid"),
        "msgid": fields.get("msgid"),
        "hostname": fields.get("hostname"),
        "version": str(fields["version"]) if "version" in fields else None,
        "structured_data": sd or None,
    }
    if priority is not None:
        syslog["facility"] = {"code": facility, "name": FACILITIES[facility or 0]}
        syslog["severity"] = {"code": severity, "name": SEVERITIES[severity or 0]}
    pid = fields.get("procid")
    return make_event(
        raw,
        timestamp=moment,
        original=original,
        log_extra={"syslog": {k: v for k, v in syslog.items() if v is not None}},
        message=fields["message"],
        host={"name": fields["hostname"], "hostname": fields["hostname"]} if fields.get("hostname") else None,
        process={
            "name": fields["appname"],
            "pid": int(pid) if pid and pid.isdigit() and pid.isascii() else None,
        }
        if fields.get("appname")
        else None,
        event={"module": "syslog", "dataset": "syslog"},
    )


PARSER = Parser(
    name="syslog", parse=parse, description="syslog lines, RFC 5424 or RFC 3164 (detected per line)"
)
