"""First-time events: a new local admin, a new service installed, a log cleared; more so outside usual hours.

Each such event has a value (the group and member, the service name and binary, the host and log);
a value not seen on the tenant within `seen_ttl` fires (after the tenant's first `learning_period`,
which only records); a log cleared is remembered for `log_cleared_ttl` only, so each clearing
counts. Outside the tenant's usual hours the finding is one level higher and says so; with
`only_outside_hours` it fires only then. Usual hours are `usual_hours` when set, else learned:
an hour of the day (in `timezone`) is usual once it holds at least `min_share` of the tenant's
interactive activity (interactive logons, processes started by people), after `min_activity` events.

Reads 4732/4728/4756 (member added to Administrators, Domain/Enterprise/Schema Admins), 7045 and
4697 (service installed), 1102 and 104 (log cleared). The `logon` kind (off unless listed in `kinds`:
on a busy tenant it needs a `learning_period`) is an account's first successful remote logon from an
address: Windows 4624 with LogonType 10 (RDP), or an ECS authentication success with a source address
(sshd `Accepted ...`, auditd USER_LOGIN), read through the logon heuristics' auth.logon.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from detectors.heuristics import auth, fields
from detectors.heuristics.base import Heuristic, HeuristicConfig, duration_text, escalate
from detectors.heuristics.finding import Finding
from detectors.heuristics.registry import register
from detectors.windows import Duration, LruMap
from schemas.common import Severity
from schemas.detection import Entity

Kind = Literal["local_admin", "service", "log_cleared", "logon"]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_KINDS: tuple[Kind, ...] = ("local_admin", "service", "log_cleared")
_WORKDAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ADMIN_GROUP_IDS = frozenset({4732, 4728, 4756})
_ADMIN_NAMES = frozenset({"administrators", "domain admins", "enterprise admins", "schema admins"})
_ACTIVITY_IDS = frozenset({4624, 1, 4688})  # interactive logons and process starts: the usual hours
_ACTIVITY_LOGON_TYPES = frozenset({"2", "10", "11"})
_REMOTE_INTERACTIVE = "10"
_SERVICE_USERS = ("system", "local service", "network service", "$", "dwm-1", "umfd-0", "umfd-1")
_META: dict[str, tuple[str, str, Severity, tuple[str, ...]]] = {
    "local_admin": (
        "New member of an administrators group",
        "socpipe-heuristic-first-time-admin",
        Severity.high,
        ("attack.persistence", "attack.privilege_escalation", "attack.t1098"),
    ),
    "service": (
        "New service installed",
        "socpipe-heuristic-first-time-service",
        Severity.medium,
        ("attack.persistence", "attack.t1543.003"),
    ),
    "log_cleared": (
        "Event log cleared",
        "socpipe-heuristic-log-cleared",
        Severity.high,
        ("attack.defense_evasion", "attack.t1070.001"),
    ),
    "logon": (
        "First logon of an account from a new address",
        "socpipe-heuristic-first-time-logon",
        Severity.medium,
        ("attack.initial_access", "attack.t1078"),
    ),
}


@dataclass(frozen=True, slots=True)
class _Occurrence:
    kind: Kind
    key: str
    what: str
    host: str | None
    user: str | None


class UsualHours(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: int = Field(default=7, ge=0, le=23, description="First usual hour (local time).")
    end: int = Field(default=20, ge=1, le=24, description="End of the usual hours (exclusive).")
    days: list[Day] = Field(default_factory=lambda: list(_WORKDAYS))


class FirstTimeConfig(HeuristicConfig):
    max_keys: int = Field(default=20000, ge=1, le=1_000_000, description="Values remembered per tenant.")
    kinds: list[Kind] = Field(default_factory=lambda: list(_KINDS))
    seen_ttl: Duration = Field(
        default=90 * 86400.0, gt=0, description="A value older than this is new again."
    )
    log_cleared_ttl: Duration = Field(
        default=600.0, gt=0, description="Clearing the same log on the same host fires again after this long."
    )
    learning_period: Duration = Field(
        default=0.0, ge=0, description="From the tenant's first event: record only."
    )
    only_outside_hours: bool = False
    usual_hours: UsualHours | None = Field(
        default=None, description="None: learned from the tenant's activity."
    )
    timezone: str = "UTC"
    min_activity: int = Field(default=200, ge=1, description="Activity events before learned hours count.")
    min_share: float = Field(
        default=0.01, gt=0, lt=1, description="Share of activity that makes an hour usual."
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name like Europe/Paris)") from None
        return value


def occurrence(event: Mapping[str, Any], eid: int | None) -> tuple[Kind, str, str] | None:
    """(kind, remembered value, description) of a first-time candidate, or None."""
    host = fields.host(event) or "?"
    if eid in _ADMIN_GROUP_IDS:
        sid = str(event.get("TargetSid") or "")
        group = fields.text(event, ("TargetUserName", "group.name")) or sid
        if not (
            sid == "S-1-5-32-544" or sid.endswith(("-512", "-518", "-519")) or group.lower() in _ADMIN_NAMES
        ):
            return None
        member = fields.text(event, ("MemberName", "MemberSid", "user.target.name")) or "?"
        scope = host if sid == "S-1-5-32-544" else "domain"
        return (
            "local_admin",
            f"{scope}|{group.lower()}|{member.lower()}",
            f"{member} added to {group} ({scope})",
        )
    if eid in (7045, 4697):
        name = fields.text(event, ("ServiceName",)) or "?"
        path = fields.text(event, ("ImagePath", "ServiceFileName")) or "?"
        return "service", f"{name.lower()}|{path.lower()}", f"service {name} ({path})"
    if (eid == 4624 and str(event.get("LogonType")) == _REMOTE_INTERACTIVE) or (
        eid is None and fields.has(event, "event.category", "authentication")
    ):
        return _logon(event)
    if eid in (1102, 104) and "eventlog" in str(event.get("Provider_Name", "")).lower():
        log = "security" if eid == 1102 else (fields.text(event, ("UserData_Channel",)) or "system")
        return "log_cleared", f"{host}|{log.lower()}", f"{log} log cleared"
    return None


def _logon(event: Mapping[str, Any]) -> tuple[Kind, str, str] | None:
    """A successful logon from a remote address, as (kind, account|address, description)."""
    attempt = auth.logon(event)
    if attempt is None or attempt.failed or not attempt.account or not attempt.source_ip:
        return None
    if attempt.source_ip in fields.LOOPBACK:
        return None
    what = f"{attempt.account} logged on from {attempt.source_ip}"
    return "logon", f"{attempt.account}|{attempt.source_ip}", what


@register
class FirstTime(Heuristic[FirstTimeConfig]):
    name = "first_time"
    config_model = FirstTimeConfig
    rule_id = "socpipe-heuristic-first-time"
    title = "First-time sensitive event"
    event_ids = _ACTIVITY_IDS | _ADMIN_GROUP_IDS | {7045, 4697, 1102, 104}

    def __init__(self, config: FirstTimeConfig) -> None:
        super().__init__(config)
        self.kinds = frozenset(config.kinds)
        self.zone = ZoneInfo(config.timezone)
        self.seen: LruMap[str, float] = LruMap(config.max_keys)
        self.hours = [0] * 24
        self.since = math.inf

    def feed(self, event: Mapping[str, Any], tenant: str, timestamp: datetime) -> list[Finding]:
        eid = fields.event_id(event)
        ts = timestamp.timestamp()
        self.since = min(self.since, ts)
        if eid in _ACTIVITY_IDS:
            self._learn(event, eid, timestamp)
            if eid != 4624 or "logon" not in self.kinds:
                return []
        found = occurrence(event, eid)
        if found is None or found[0] not in self.kinds:
            return []
        kind, value, what = found
        host, user = fields.host_name(event), fields.text(event, ("SubjectUserName", "user.name"))
        if kind == "logon":
            user, address = value.split("|", 1)
            if self.allow.sources(address):
                return []
        allowed = self.allow.hosts(host) or (user and self.allow.users(user))
        if allowed or (kind == "service" and self.allow.services(value.split("|", 1)[0])):
            return []
        key = f"{kind}|{value}"
        last = self.seen.get(key)
        self.seen[key] = ts if last is None else max(last, ts)
        ttl = self.config.log_cleared_ttl if kind == "log_cleared" else self.config.seen_ttl
        if (last is not None and ts - last < ttl) or ts - self.since < self.config.learning_period:
            return []
        return self._fire(_Occurrence(kind, key, what, host, user), tenant, timestamp, last, ttl)

    def _fire(
        self, occ: _Occurrence, tenant: str, timestamp: datetime, last: float | None, ttl: float
    ) -> list[Finding]:
        local = timestamp.astimezone(self.zone)
        usual = self.usual(local)
        if self.config.only_outside_hours and usual is not False:
            return []
        title, rule_id, level, tags = _META[occ.kind]
        if self.config.level is not None:
            level = self.config.level
        hours = f"at {local:%a %H:%M} {self.config.timezone}"
        if usual is False:
            level = escalate(level)
            hours += ", outside the tenant's usual hours" + self._usual_text()
        elif usual is None:
            hours += " (the tenant's usual hours are not learned yet)"
        before = "never seen before" if last is None else f"last seen over {duration_text(ttl)} ago"
        ts = timestamp.timestamp()
        who = f"on host {occ.host or 'unknown'} by {occ.user or 'unknown'}"
        explanation = f"{occ.what} {who} {hours}: {before} on this tenant."
        return [
            self.finding(
                tenant=tenant,
                key=occ.key,
                entity=Entity(host=occ.host, user=occ.user),
                window_start=ts,
                event_time=ts,
                explanation=explanation,
                level=level,
                rule_id=rule_id,
                title=title,
                tags=tags,
                evidence={
                    "kind": occ.kind,
                    "value": occ.key.split("|", 1)[1],
                    "outside_usual_hours": usual is False,
                    "local_time": local.isoformat(),
                    "previously_seen": last,
                    "seen_ttl_seconds": ttl,
                    "activity_events": sum(self.hours),
                },
            )
        ]

    def _learn(self, event: Mapping[str, Any], eid: int | None, timestamp: datetime) -> None:
        if eid == 4624:
            if str(event.get("LogonType")) not in _ACTIVITY_LOGON_TYPES:
                return
        else:
            user = fields.text(event, ("User", "SubjectUserName"))
            if not user or user.lower().endswith(_SERVICE_USERS):
                return
        self.hours[timestamp.astimezone(self.zone).hour] += 1

    def usual(self, local: datetime) -> bool | None:
        """Whether a local time is within the usual hours; None while learned hours lack data."""
        spec = self.config.usual_hours
        if spec is not None:
            return _DAYS[local.weekday()] in spec.days and spec.start <= local.hour < spec.end
        total = sum(self.hours)
        if total < self.config.min_activity:
            return None
        return self.hours[local.hour] >= self.config.min_share * total

    def _usual_text(self) -> str:
        spec = self.config.usual_hours
        if spec is not None:
            return f" ({spec.start:02d}:00-{spec.end:02d}:00, {'/'.join(spec.days)})"
        total = sum(self.hours)
        usual = [h for h in range(24) if self.hours[h] >= self.config.min_share * total]
        return f" (learned from {total} activity events: usual hours {_ranges(usual)})"

    def keys(self) -> int:
        return len(self.seen)

    def snapshot(self) -> dict[str, Any]:
        return {
            "seen": [[k, t] for k, t in self.seen.items()],
            "hours": list(self.hours),
            "since": None if self.since == math.inf else self.since,
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        self.seen = LruMap(self.config.max_keys)
        for key, ts in state.get("seen", []):
            self.seen[key] = float(ts)
        hours = state.get("hours") or [0] * 24
        self.hours = [int(h) for h in hours][:24] + [0] * (24 - len(hours))
        since = state.get("since")
        self.since = math.inf if since is None else float(since)


def _ranges(hours: list[int]) -> str:
    """[7, 8, 9, 13] -> '07-10h, 13-14h'."""
    spans: list[list[int]] = []
    for h in hours:
        if spans and spans[-1][1] == h:
            spans[-1][1] = h + 1
        else:
            spans.append([h, h + 1])
    return ", ".join(f"{a:02d}-{b:02d}h" for a, b in spans) or "none"
