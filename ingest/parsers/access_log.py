"""Web server access logs in the common and combined formats (Apache, nginx).

The original fields use the names of Sigma's `webserver` taxonomy (`c-ip`, `cs-method`, `cs-uri-query`,
`sc-status`, `cs-user-agent` ...), so SigmaHQ's web rules match. As those rules expect, `cs-uri-query`
holds the whole request target (path and query); `cs-uri-stem` holds the path alone.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from ingest.parsers.base import ParseError, Parser, compact, make_event, to_int
from schemas.event import EcsEvent
from schemas.raw import RawRecord

_QUOTED = r'"((?:[^"\\]|\\.)*)"'
_LINE = re.compile(
    r"(\S+) (\S+) (\S+|\"[^\"]*\") \[([^\]]{1,64})\] " + _QUOTED + r" (\d{3}|-) (\d+|-)"
    r"(?: " + _QUOTED + r" " + _QUOTED + r")?(.*)"
)
_ESCAPES = re.compile(r'\\(["\\])')  # only \" and \\; \xhh stays as the server wrote it


def _unescape(value: str | None) -> str | None:
    if value is None or value == "-":
        return None
    return _ESCAPES.sub(r"\1", value)


def _dash(value: str) -> str | None:
    return None if value in ("-", '"-"', "") else value.strip('"')


def parse(raw: RawRecord) -> EcsEvent:
    match = _LINE.fullmatch(raw.data.rstrip("\r\n"))
    if not match:
        raise ParseError(
            "not a common/combined access log line: "
            "expected 'host ident user [time] \"request\" status bytes'"
        )
    client, ident, user, stamp, request, status, size, referer, agent, rest = match.groups()
    try:
        moment = datetime.strptime(stamp, "%d/%b/%Y:%H:%M:%S %z")
    except ValueError:
        raise ParseError(f"bad time {stamp!r}: expected dd/Mon/yyyy:hh:mm:ss +zzzz") from None
    request = _unescape(request) or ""
    parts = request.split(" ")
    method, target, version = (
        (parts[0], parts[1], parts[2]) if len(parts) == 3 else (None, request or None, None)
    )
    stem, _, query = (target or "").partition("?")
    original: dict[str, Any] = {
        "c-ip": client,
        "cs-ident": _dash(ident),
        "cs-username": _dash(user),
        "cs-method": method,
        "c-uri": target,
        "cs-uri-query": target,
        "cs-uri-stem": stem or None,
        "cs-version": version,
        "sc-status": to_int(status),
        "sc-bytes": to_int(size),
        "cs-referer": _unescape(referer),
        "cs-user-agent": _unescape(agent),
    }
    if rest.strip():
        original["extra"] = rest.strip()
    original = {k: v for k, v in original.items() if v is not None}
    code = to_int(status)
    return make_event(
        raw,
        timestamp=moment,
        original=original,
        event={
            "module": "web",
            "dataset": "web.access",
            "category": ["web"],
            "type": ["access"],
            "outcome": None if code is None else ("failure" if code >= 400 else "success"),
        },
        source={"ip": client} if client != "-" else None,
        user={"name": original["cs-username"]} if "cs-username" in original else None,
        url=compact(original=target, path=stem or None, query=query or None),
        http=compact(
            version=version.removeprefix("HTTP/") if version else None,
            request=compact(method=method, referrer=original.get("cs-referer")),
            response=compact(status_code=code, bytes=to_int(size)),
        ),
        user_agent={"original": original["cs-user-agent"]} if "cs-user-agent" in original else None,
    )


PARSER = Parser(name="access_log", parse=parse, description="web access logs, common and combined formats")
