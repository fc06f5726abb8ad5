"""The shape every Linux program parser returns: ECS keyword arguments for `make_event`.

Program parsers (sshd, sudo, PAM ...) read one syslog message and say what it means in ECS terms:
`event.category/type/action/outcome`, `user.*`, `source.*`, `group.*`, `related.*`. They follow what
Elastic's system integration (the `system.auth` ingest pipeline) extracts from the same lines, so
that Kibana content and analysts' habits carry over; where that pipeline extracts nothing, the ECS
definitions decide.
"""

from __future__ import annotations

from typing import Any

from ingest.parsers.base import is_ip

Fields = dict[str, Any]


def source(address: str | None, port: str | None = None) -> dict[str, Any] | None:
    """ECS `source`: `ip` for an address, `domain` for a host name (as Elastic's `convert` falls back)."""
    if not address:
        return None
    out: dict[str, Any] = {"address": address}
    if is_ip(address):
        out["ip"] = address[7:] if address.startswith("::ffff:") else address
    else:
        out["domain"] = address
    if port:
        out["port"] = int(port)
    return out


def _named(part: Any) -> str | None:
    return part.get("name") if isinstance(part, dict) else None


def build(  # noqa: PLR0912 - one branch per optional field: the hot path of every Linux line
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
    """ECS fields of one message, with `related.user` and `related.ip` filled as ECS asks.

    Written as plain branches rather than comprehensions: it runs once per parsed line, and this
    shape halves its cost (benchmarks/parsers.py)."""
    event: dict[str, Any] = {}
    if category:
        event["category"] = category
    if type:
        event["type"] = type
    if action:
        event["action"] = action
    if outcome:
        event["outcome"] = outcome
    if reason:
        event["reason"] = reason
    out: Fields = {"event": event}
    related: dict[str, list[str]] = {}
    if user:
        kept = {k: v for k, v in user.items() if v}
        if kept:
            out["user"] = kept
            name = kept.get("name")
            effective, target = kept.get("effective"), kept.get("target")
            if effective is None and target is None:  # the common case: one name
                if name:
                    related["user"] = [name]
            else:
                names = [n for n in (name, _named(effective), _named(target)) if n]
                if names:
                    related["user"] = list(dict.fromkeys(names))
    if src:
        ip = src.get("ip")
        if ip:
            out["source"] = {"ip": ip, "port": src.get("port")}
            related["ip"] = [ip]
        else:
            out["source"] = {"domain": src.get("domain")}
    if related:
        out["related"] = related
    if group:
        kept_group = {k: v for k, v in group.items() if v}
        if kept_group:
            out["group"] = kept_group
    if process:
        out["process"] = {k: v for k, v in process.items() if v is not None and v != ""}
    if extra:
        out.update(extra)
    return out
