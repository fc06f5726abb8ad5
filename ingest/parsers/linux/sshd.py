"""OpenSSH server messages: logins accepted and failed, invalid users, disconnects, dropped connections.

As Elastic's system integration: `Accepted`/`Failed`/`Invalid` lines are `event.action: ssh_login`
with category authentication (plus session when accepted), `system.auth.ssh.event` and `.method`
keep sshd's words. Disconnects are `ssh_disconnect` (session end after a login, network end before
one, `[preauth]`); `Did not receive identification string` is `ssh_dropped` (a port scan or a
banner grab). An `Invalid user` line announces the connection, not an attempt: the logon
heuristics count the `Failed ...` lines that follow it, so they skip `system.auth.ssh.event: Invalid`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ingest.parsers.linux.ecs import Fields, build, source

_ADDR = r"(?P<ip>[0-9A-Fa-f:.]+|\S+?)"
_PORT = r"(?: port (?P<port>\d+))?"
_LOGIN = re.compile(
    r"(?P<event>Accepted|Failed) (?P<method>\S+) for (?P<invalid>invalid user )?(?P<user>.*?) from "
    + _ADDR + _PORT + r"(?: ssh2)?(?:: (?P<signature>.+))?$"
)  # fmt: skip
_INVALID = re.compile(r"[Ii]nvalid user (?P<user>.*?) from " + _ADDR + _PORT + r"\s*(?:\[preauth\])?$")
_DISCONNECT = re.compile(
    r"(?:Disconnected from|Connection closed by|Received disconnect from|Connection reset by) "
    r"(?:(?P<kind>authenticating|invalid) user (?P<user>\S+) |user (?P<session_user>\S+) )?"
    r"(?P<ip>\S+?)(?: port (?P<port>\d+))?(?::\s?\d+: (?P<reason>.*?))?(?P<preauth> \[preauth\])?$"
)
_DROPPED = re.compile(r"Did not receive identification string from " + _ADDR + _PORT)
_NOT_ALLOWED = re.compile(
    r"User (?P<user>\S+) from " + _ADDR + r" not allowed because (?P<reason>.+)$"
)  # fmt: skip
_PAM_ERROR = re.compile(
    r"error: PAM: (?P<reason>.+?) for (?:illegal user )?(?P<user>\S+) from " + _ADDR + r"$"
)  # fmt: skip
_MAX_AUTH = re.compile(
    r"(?:error: )?maximum authentication attempts exceeded for (?:invalid user )?(?P<user>\S+) from "
    + _ADDR + _PORT
)  # fmt: skip
_BREAK_IN = re.compile(r"reverse mapping checking getaddrinfo for \S+ \[(?P<ip>[^\]]+)\] failed")
_CONNECTION = re.compile(r"Connection from " + _ADDR + r" port (?P<port>\d+)")


def _login(m: re.Match[str]) -> Fields:
    accepted = m["event"] == "Accepted"
    return build(
        category=["authentication", "session"] if accepted else ["authentication"],
        type=["info", "start"] if accepted else ["info"],
        action="ssh_login",
        outcome="success" if accepted else "failure",
        user={"name": m["user"]},
        src=source(m["ip"], m["port"]),
        extra={"system": {"auth": {"ssh": _ssh(m["event"], m["method"], m["signature"])}}},
    )


def _ssh(
    event: str, method: str | None = None, signature: str | None = None, **more: object
) -> dict[str, object]:
    out: dict[str, object] = {"event": event}
    if method is not None:
        out["method"] = method
    if signature is not None:
        out["signature"] = signature
    if more:
        out.update(more)
    return out


def _invalid(m: re.Match[str]) -> Fields:
    return build(
        category=["authentication"],
        type=["info"],
        action="ssh_login",
        outcome="failure",
        user={"name": m["user"]},
        src=source(m["ip"], m["port"]),
        extra={"system": {"auth": {"ssh": _ssh("Invalid")}}},
    )


def _disconnect(m: re.Match[str]) -> Fields:
    preauth = bool(m["preauth"]) or m["kind"] in ("authenticating", "invalid")
    return build(
        category=["network"] if preauth else ["session", "network"],
        type=["connection", "end"] if preauth else ["end"],
        action="ssh_disconnect",
        reason=m["reason"],
        user={"name": m["user"] or m["session_user"]},
        src=source(m["ip"], m["port"]),
        extra={"system": {"auth": {"ssh": _ssh("Disconnect", preauth=preauth)}}},
    )


def _dropped(m: re.Match[str]) -> Fields:
    return build(
        category=["network"],
        type=["connection", "denied"],
        action="ssh_dropped",
        src=source(m["ip"], m["port"]),
        extra={"system": {"auth": {"ssh": {"dropped_ip": m["ip"]}}}},
    )


def _not_allowed(m: re.Match[str]) -> Fields:
    return build(
        category=["authentication"],
        type=["info", "denied"],
        action="ssh_login",
        outcome="failure",
        reason=m["reason"],
        user={"name": m["user"]},
        src=source(m["ip"]),
        extra={"system": {"auth": {"ssh": _ssh("Denied")}}},
    )


def _pam_error(m: re.Match[str]) -> Fields:
    return build(
        category=["authentication"],
        type=["info"],
        action="ssh_pam_error",
        reason=m["reason"],
        user={"name": m["user"]},
        src=source(m["ip"]),
    )


def _max_auth(m: re.Match[str]) -> Fields:
    # a summary of the attempts already logged one by one: no outcome, so it is not counted twice
    return build(
        category=["authentication"],
        type=["info"],
        action="ssh_max_auth_attempts",
        user={"name": m["user"]},
        src=source(m["ip"], m["port"]),
    )


def _break_in(m: re.Match[str]) -> Fields:
    return build(
        category=["network"], type=["info"], action="ssh_reverse_mapping_failed", src=source(m["ip"])
    )


def _connection(m: re.Match[str]) -> Fields:
    return build(
        category=["network"],
        type=["connection", "start"],
        action="ssh_connection",
        src=source(m["ip"], m["port"]),
    )


Shape = tuple[Callable[[str], "re.Match[str] | None"], Callable[["re.Match[str]"], Fields]]
# Matched anywhere in the message, after the anchored shapes of its first word (the order of old).
_ANYWHERE: tuple[Shape, ...] = ((_MAX_AUTH.search, _max_auth), (_BREAK_IN.search, _break_in))
_BY_WORD: dict[str, tuple[Shape, ...]] = {
    "Accepted": ((_LOGIN.match, _login), *_ANYWHERE),
    "Failed": ((_LOGIN.match, _login), *_ANYWHERE),
    "Invalid": ((_INVALID.match, _invalid), *_ANYWHERE),
    "invalid": ((_INVALID.match, _invalid), *_ANYWHERE),
    "Disconnected": ((_DISCONNECT.match, _disconnect), *_ANYWHERE),
    "Received": ((_DISCONNECT.match, _disconnect), *_ANYWHERE),
    "Connection": ((_DISCONNECT.match, _disconnect), *_ANYWHERE, (_CONNECTION.match, _connection)),
    "Did": ((_DROPPED.match, _dropped), *_ANYWHERE),
    "User": ((_NOT_ALLOWED.match, _not_allowed), *_ANYWHERE),
    "error:": ((_PAM_ERROR.match, _pam_error), *_ANYWHERE),
}


def parse(message: str) -> Fields | None:
    """ECS fields of one sshd message; None for messages of no security meaning (startup, keys).

    The message's first word picks the shapes it can have (`_BY_WORD`, precompiled), so a line costs
    one regular expression instead of a try of each shape in turn; any other first word can only be
    one of the shapes found anywhere in the line (`_ANYWHERE`). The order is that of the shapes' list
    when each was tried in turn, so the result is the same."""
    for find, handle in _BY_WORD.get(message.partition(" ")[0], _ANYWHERE):
        if m := find(message):
            return handle(m)
    return None
