"""Web requests from access-log events, for the web heuristics, and the attack patterns they look for.

A request is an event with an HTTP status and a client: ECS (`http.response.status_code`,
`source.ip`, `url.*`) as the access_log parser writes it, or Sigma's webserver names (`sc-status`,
`c-ip`, `cs-uri-query`) as other web sources may. The patterns are deliberately few and broad, each
one a family an analyst names (SQL injection, path traversal ...): they read the request target
percent-decoded twice and the user agent, and they say which family matched, not which rule.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from detectors.heuristics import fields

STATUS = ("http.response.status_code", "sc-status")
CLIENT = ("source.ip", "c-ip", "source.address")
TARGET = ("url.original", "cs-uri-query", "c-uri")
PATH = ("url.path", "cs-uri-stem")
DECODED = ("url.decoded",)
AGENT = ("user_agent.original", "cs-user-agent", "c-useragent")
VHOST = ("url.domain", "cs-host")

ATTACKS: dict[str, re.Pattern[str]] = {
    "sql_injection": re.compile(
        r"union(?:\s|/\*.*?\*/)+(?:all\s+)?select|'\s*(?:or|and)\s+'?\d+'?\s*=\s*'?\d|\bsleep\s*\(\s*\d"
        r"|benchmark\s*\(|information_schema|\bwaitfor\s+delay\b|select\s+.*\bfrom\b|;\s*drop\s+table"
        r"|'\s*--|extractvalue\s*\(|updatexml\s*\(",
        re.IGNORECASE,
    ),
    "path_traversal": re.compile(
        r"(?:\.\./|\.\.\\){2,}|/etc/(?:passwd|shadow|hosts)|(?:c:|%systemroot%)[/\\]windows[/\\]win\.ini"
        r"|/proc/self/environ|\bboot\.ini\b",
        re.IGNORECASE,
    ),
    "xss": re.compile(
        r"<script|javascript:|onerror\s*=|onload\s*=|<svg[/\s]|<img\s[^>]*src\s*=|alert\s*\(", re.I
    ),
    "command_injection": re.compile(
        r"[;|`]\s*(?:cat|id|uname|wget|curl|nc|bash|sh|whoami|ping)\b|\$\((?:id|whoami|uname)|/bin/(?:ba)?sh\b"
        r"|cmd(?:\.exe)?\s*/c\b|powershell(?:\.exe)?\s+-",
        re.IGNORECASE,
    ),
    "shellshock": re.compile(r"\(\)\s*\{\s*:?\s*;?\s*\}\s*;"),
    "jndi": re.compile(r"\$\{(?:jndi|\$\{lower:j\}|\$\{::-j\})", re.IGNORECASE),
    "file_inclusion": re.compile(
        r"(?:php|file|data|expect|zip|phar)://|=\s*https?://[^&]*\?$", re.IGNORECASE
    ),
    "ssti": re.compile(
        r"\{\{\s*\d+\s*\*\s*\d+\s*\}\}|\$\{\s*\d+\s*\*\s*\d+\s*\}|<%=\s*\d+\s*\*", re.IGNORECASE
    ),
}


@dataclass(frozen=True, slots=True)
class Request:
    client: str
    status: int
    path: str
    target: str
    agent: str | None
    host: str | None  # the web server (host.name), for the entity
    vhost: str | None


def request(event: Mapping[str, Any]) -> Request | None:
    """The web request an event records, or None when it records none (no status or no client)."""
    status = fields.number(event, STATUS)
    client = fields.ip(fields.text(event, CLIENT))
    if status is None or not client:
        return None
    target = fields.text(event, TARGET) or ""
    path = fields.text(event, PATH) or target.split("?", 1)[0]
    return Request(
        client=client,
        status=int(status),
        path=path,
        target=target,
        agent=fields.text(event, AGENT),
        host=fields.host_name(event),
        vhost=fields.text(event, VHOST),
    )


def decoded(event: Mapping[str, Any], req: Request) -> str:
    """The request target percent-decoded twice (the parser's `url.decoded` when present)."""
    value = fields.text(event, DECODED)
    if value is not None:
        return value
    once = unquote(req.target, errors="replace") if "%" in req.target else req.target
    return unquote(once, errors="replace") if "%" in once else once


def attacks(event: Mapping[str, Any], req: Request) -> list[str]:
    """The attack families the request's target or user agent matches (usually none)."""
    target = decoded(event, req).replace("+", " ")
    agent = req.agent or ""
    return [
        name
        for name, pattern in ATTACKS.items()
        if pattern.search(target) or (agent and pattern.search(agent))
    ]
