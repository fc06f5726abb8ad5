"""Web server access logs: common, combined and their nginx / Apache variants, with or without a
virtual host in front (Apache's `vhost_combined` `%v:%p`, or `%v`), and with extra fields after the
user agent (nginx's `"$http_x_forwarded_for"`, request times), which are kept in `original.extra`.

Two views of each request. The original fields use the names of Sigma's `webserver` taxonomy (`c-ip`,
`cs-method`, `cs-uri-query`, `sc-status`, `cs-user-agent` ...), so SigmaHQ's web rules match; as those
rules expect, `cs-uri-query` holds the whole request target (path and query), `cs-uri-stem` the path.
The ECS fields follow Elastic's nginx / Apache integrations: `url.original`, `url.path`, `url.query`,
`url.extension`, `url.domain` (the virtual host), `http.request.method`, `http.version`,
`http.response.status_code`, `http.response.body.bytes`, `user_agent.original`, `source.ip` (or
`source.domain` when the server logged a name). `url.decoded` (not ECS) is the request target
percent-decoded twice, as an attacker's double encoding would be read by the application: what the
web-attack heuristic reads.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from ingest.parsers.base import ParseError, Parser, event_from, is_ip
from schemas.event import EcsEvent
from schemas.raw import RawRecord

_QUOTED = r'"([^"\\]*(?:\\.[^"\\]*)*)"'  # unrolled: one pass, no per-character alternation
_TAIL = _QUOTED + r" (\d{3}|-) (\d+|-)(?: " + _QUOTED + r" " + _QUOTED + r")?(.*)"
# The common shape first (client ident user [time] ...), the variants only when it does not match.
_PLAIN = re.compile(r"()(\S+) (\S+) (\S+) \[([^\]]{1,64})\] " + _TAIL)
_LINE = re.compile(
    r"(?:([^\s,\"]+) )?"  # virtual host
    r"(\"[^\"]*\" \S+|\S+(?:, \S+)+ \S+|\S+(?:, \S+)*) "  # client, or forwarded-for list and client
    r"(\S+) (\S+|\"[^\"]*\") \[([^\]]{1,64})\] " + _QUOTED + r" (\d{3}|-) (\d+|-)"
    r"(?: " + _QUOTED + r" " + _QUOTED + r")?(.*)"
)
_ESCAPES = re.compile(r'\\(["\\])')  # only \" and \\; \xhh stays as the server wrote it
_EXTENSION = re.compile(r"\.([A-Za-z0-9]{1,10})$")


def _unescape(value: str | None) -> str | None:
    if value is None or value == "-":
        return None
    return _ESCAPES.sub(r"\1", value) if "\\" in value else value


def _dash(value: str) -> str | None:
    return None if value in ("-", '"-"', "") else value.strip('"')


_STAMP = re.compile(r"(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})")
_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}  # noqa: SIM905


@lru_cache(maxsize=64)
def _offset(sign: str, hours: str, minutes: str) -> timezone:
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    return timezone(-delta if sign == "-" else delta)


def _time(stamp: str) -> datetime:
    """`10/Oct/2000:13:55:36 -0700`, read by hand: strptime costs more than the rest of the line."""
    m = _STAMP.fullmatch(stamp)
    month = _MONTHS.get(m.group(2)) if m else None
    if m is None or month is None:
        raise ParseError(f"bad time {stamp!r}: expected dd/Mon/yyyy:hh:mm:ss +zzzz")
    day, year, hour, minute, second = int(m[1]), int(m[3]), int(m[4]), int(m[5]), int(m[6])
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=_offset(m[7], m[8], m[9]))
    except ValueError:
        raise ParseError(f"bad time {stamp!r}: expected dd/Mon/yyyy:hh:mm:ss +zzzz") from None


def decode(target: str) -> str:
    """Percent-decoding applied twice (`%252e` -> `%2e` -> `.`), `+` left as is."""
    if "%" not in target:
        return target
    once = unquote(target, errors="replace")
    return unquote(once, errors="replace") if "%" in once else once


def _client(value: str) -> tuple[str, str | None]:
    """The client of a line that starts with an address list (nginx behind proxies logs
    `"$http_x_forwarded_for" $remote_addr` or `a, b, c`): the first public address, else the first
    one, as Filebeat's nginx module does (ECS: the client is the originator, which the list names
    first); and the list itself."""
    if "," not in value and '"' not in value:
        return value, None
    addresses = [a.strip(' "') for a in re.split(r"[,\s]+", value) if a.strip(' "')]
    for address in addresses:
        if is_ip(address) and ipaddress.ip_address(address).is_global:
            return address, ", ".join(addresses)
    return addresses[0], ", ".join(addresses)


def _vhost(value: str | None) -> tuple[str | None, int | None]:
    if not value:
        return None, None
    host, sep, port = value.rpartition(":")
    if sep and port.isdigit() and "]" not in port:
        return host, int(port)
    return value, None


def parse(raw: RawRecord) -> EcsEvent:
    line = raw.data.rstrip("\r\n")
    match = _PLAIN.fullmatch(line) or _LINE.fullmatch(line)
    if not match:
        raise ParseError(
            "not a common/combined access log line: "
            "expected '[vhost] host ident user [time] \"request\" status bytes'"
        )
    vhost, client, ident, user, stamp, request, status, size, referer, agent, rest = match.groups()
    vhost = vhost or None
    moment = _time(stamp)
    client, forwarded = _client(client)
    request = _unescape(request) or ""
    parts = request.split(" ")
    method, target, version = (
        (parts[0], parts[1], parts[2]) if len(parts) == 3 else (None, request or None, None)
    )
    stem, _, query = (target or "").partition("?")
    code = int(status) if status != "-" else None
    length = int(size) if size != "-" else None
    domain, port = _vhost(vhost)
    referer, agent = _unescape(referer), _unescape(agent)
    # Each dict is built once, with only the fields the line has: this runs once per request, and
    # filtering full dicts afterwards (`compact`) cost a fifth of the parse (benchmarks/parsers.py).
    original: dict[str, Any] = {"c-ip": client}
    _put(original, "x-forwarded-for", forwarded)
    _put(original, "cs-ident", _dash(ident))
    user_name = _dash(user)
    _put(original, "cs-username", user_name)
    _put(original, "cs-method", method)
    if target is not None:
        original["c-uri"] = original["cs-uri-query"] = target
    _put(original, "cs-uri-stem", stem or None)
    _put(original, "cs-version", version)
    _put(original, "sc-status", code)
    _put(original, "sc-bytes", length)
    _put(original, "cs-referer", referer)
    _put(original, "cs-user-agent", agent)
    _put(original, "cs-host", domain)
    _put(original, "s-port", port)
    if rest and not rest.isspace():
        original["extra"] = rest.strip()
    source: dict[str, Any] | None = None
    related: dict[str, list[str]] = {}
    if client != "-":
        if is_ip(client):
            source = {"address": client, "ip": client}
            related["ip"] = [client]
        else:
            source = {"address": client, "domain": client}
    if user_name:
        related["user"] = [user_name]
    ecs = {
        "event": {
            "module": "web",
            "dataset": "web.access",
            "kind": "event",
            "category": ["web"],
            "type": ["access"],
            "outcome": None if code is None else ("failure" if code >= 400 else "success"),
        },
        "source": source,
        "user": {"name": user_name} if user_name else None,
        "url": _url(target, stem, query, domain, port),
        "http": _http(method, version, referer, code, length),
        "user_agent": {"original": agent} if agent else None,
        "related": related or None,
    }
    return event_from(raw, moment, original, None, ecs)


def _put(fields: dict[str, Any], name: str, value: Any) -> None:
    if value is not None:
        fields[name] = value


def _url(
    target: str | None, stem: str, query: str, domain: str | None, port: int | None
) -> dict[str, Any] | None:
    """ECS `url` of the request target and virtual host; None when the line has neither."""
    url: dict[str, Any] = {}
    if target:
        url["original"] = target
    if stem:
        url["path"] = stem
    if query:
        url["query"] = query
    extension = _EXTENSION.search(stem.rsplit("/", 1)[-1]) if stem else None
    if extension:
        url["extension"] = extension.group(1).lower()
    if domain:
        url["domain"] = domain
    if port is not None:
        url["port"] = port
    if target:
        url["decoded"] = decode(target)
    return url or None


def _http(
    method: str | None, version: str | None, referer: str | None, code: int | None, length: int | None
) -> dict[str, Any] | None:
    """ECS `http`: version, request method and referrer, response status and body bytes."""
    http: dict[str, Any] = {}
    number = version.removeprefix("HTTP/") if version else None
    if number:
        http["version"] = number
    request: dict[str, Any] = {}
    if method:
        request["method"] = method
    if referer:
        request["referrer"] = referer
    if request:
        http["request"] = request
    response: dict[str, Any] = {}
    if code is not None:
        response["status_code"] = code
    if length is not None:
        response["bytes"] = length
        response["body"] = {"bytes": length}
    if response:
        http["response"] = response
    return http or None


PARSER = Parser(
    name="access_log",
    parse=parse,
    description="web access logs: common, combined, nginx and Apache variants, with or without vhost",
)
