"""The shape every Linux program parser returns: ECS keyword arguments for `make_event`.

Program parsers (sshd, sudo, PAM ...) read one syslog message and say what it means in ECS terms:
`event.category/type/action/outcome`, `user.*`, `source.*`, `group.*`, `related.*`. They follow what
Elastic's system integration (the `system.auth` ingest pipeline) extracts from the same lines, so
that Kibana content and analysts' habits carry over; where that pipeline extracts nothing, the ECS
definitions decide.
"""

from __future__ import annotations

import ipaddress
from typing import Any

Fields = dict[str, Any]


def is_ip(value: str | None) -> bool:
    if not value:
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def source(address: str | None, port: str | None = None) -> dict[str, Any] | None:
    """ECS `source`: `ip` for an address, `domain` for a host name (as Elastic's `convert` falls back)."""
    if not address:
        return None
    out: dict[str, Any] = {"address": address}
    if is_ip(address):
        out["ip"] = address.removeprefix("::ffff:") if address.startswith("::ffff:") else address
    else:
        out["domain"] = address
    if port and port.isdigit():
        out["port"] = int(port)
    return out


def build(
    *,
    category: list[str] | None = None,
    type: list[str] | None = None,
    action: str | None = None,
    outcome: str | None = None,
    reason: str | None = None,
    user: dict[str, Any] | None = None,
    src: dict[str, Any] | None = None,
    group: dict[str, Any] | None = None,
    process: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Fields:
    """ECS fields of one message, with `related.user` and `related.ip` filled as ECS asks."""
    event = {"category": category, "type": type, "action": action, "outcome": outcome, "reason": reason}
    out: Fields = {"event": {k: v for k, v in event.items() if v}}
    related_users: list[str] = []
    if user:
        user = {k: v for k, v in user.items() if v not in (None, "", {})}
        for name in (user.get("name"), *(user.get(k, {}).get("name") for k in ("effective", "target"))):
            if name and name not in related_users:
                related_users.append(name)
        if user:
            out["user"] = user
    related: dict[str, list[str]] = {}
    if related_users:
        related["user"] = related_users
    if src:
        out["source"] = {k: v for k, v in src.items() if k != "address"}
        if "ip" in src:
            related["ip"] = [src["ip"]]
    if related:
        out["related"] = related
    if group:
        out["group"] = {k: v for k, v in group.items() if v}
    if process:
        out["process"] = {k: v for k, v in process.items() if v not in (None, "")}
    if extra:
        out.update(extra)
    return out
