"""A monthly report's figures, computed from incidents, their clocks and notices: pure, no Elasticsearch.

Definitions the report states, so a client can recompute them:
- an incident belongs to the month when socpipe opened it within the month (the tenant's timezone);
- time to notify / acknowledge / resolve: the counted time of each clock that stopped (business hours
  only for a business-hours service; time the client held the incident left out), its mean and its
  90th percentile by the nearest-rank method (the smallest value at or above 90 % of them);
- SLA compliance: clocks met / clocks decided (met or breached), in percent; a clock still running
  within its target is not decided yet and is listed as open; a cancelled regulator clock (closed as
  no breach) is not counted.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from schemas.common import Severity
from schemas.incident import Incident
from schemas.notice import Notice, NoticeStatus
from schemas.sla import Clock, ClockKind, ClockState

KINDS = (ClockKind.notify, ClockKind.acknowledge, ClockKind.resolve, ClockKind.regulator)


class Month(BaseModel):
    """One calendar month in one timezone, as the UTC instants it spans."""

    label: str  # 2026-11
    timezone: str
    start: datetime
    end: datetime

    @classmethod
    def parse(cls, label: str, timezone: str) -> Month:
        try:
            first = datetime.strptime(label + "-01", "%Y-%m-%d").date()
        except ValueError:
            raise ValueError(f"expected a month like 2026-11, got {label!r}") from None
        following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
        zone = ZoneInfo(timezone)
        start = datetime.combine(first, datetime.min.time(), tzinfo=zone).astimezone(UTC)
        end = datetime.combine(following, datetime.min.time(), tzinfo=zone).astimezone(UTC)
        return cls(label=label, timezone=timezone, start=start, end=end)

    def days(self) -> list[date]:
        zone = ZoneInfo(self.timezone)
        first, last = (
            self.start.astimezone(zone).date(),
            (self.end - timedelta(seconds=1)).astimezone(zone).date(),
        )
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]

    def day_of(self, at: datetime) -> date:
        return at.astimezone(ZoneInfo(self.timezone)).date()


class ClockStats(BaseModel):
    """One severity's one promise over the month."""

    severity: Severity
    kind: ClockKind
    target_s: float
    business_hours: bool
    measured: int = Field(description="Clocks that stopped: the mean and p90 are over these.")
    mean_s: float | None
    p90_s: float | None
    met: int
    breached: int
    open: int = Field(description="Still running within target, or paused.")


class Breach(BaseModel):
    incident_id: str
    title: str
    severity: Severity
    kind: ClockKind
    start: datetime
    deadline: datetime | None
    stop: datetime | None
    overdue_s: float
    explanation: str


class Count(BaseModel):
    key: str
    label: str = ""
    count: int
    incidents: int = 0


class EvidenceSummary(BaseModel):
    """The evidence chain as verified when the report was made, and its state at the period's end."""

    ok: bool
    checked: int
    problem: str | None = None
    period_records: int
    period_head_sequence: int | None = None
    period_head_hash: str | None = None


class TenantReport(BaseModel):
    tenant: str
    name: str
    provider: str
    month: Month
    as_of: datetime
    hours: str
    incidents: int
    by_severity: dict[Severity, int]
    by_day: list[tuple[date, int]]
    stats: list[ClockStats]
    met: int
    breached: int
    compliance_pct: float | None
    breaches: list[Breach]
    top_rules: list[Count]
    top_techniques: list[Count]
    notices: list[Notice]
    notices_sent: int
    notices_failed: int
    evidence: EvidenceSummary | None = None


def compliance_pct(met: int, breached: int) -> float | None:
    """Met of decided clocks, in percent to one decimal; None when none is decided."""
    return round(100 * met / (met + breached), 1) if met + breached else None


def p90(values: list[float]) -> float | None:
    """Nearest rank: the smallest value with at least 90 % of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


def human(seconds: float) -> str:
    """`40 s`, `45 min`, `3 h 05 min`, `2 d 4 h`."""
    s = round(abs(seconds))
    d, h, m = s // 86400, s % 86400 // 3600, s % 3600 // 60
    if s < 60:
        return f"{s} s"
    return f"{d} d {h} h" if d else f"{h} h {m:02d} min" if h else f"{m} min"


_STOPPED = {
    ClockKind.notify: "the client was first notified",
    ClockKind.acknowledge: "an analyst acknowledged it",
    ClockKind.resolve: "it was resolved",
    ClockKind.regulator: "the regulator was notified",
}
_RUNNING = {
    ClockKind.notify: "no notice had reached the client",
    ClockKind.acknowledge: "no analyst had acknowledged it",
    ClockKind.resolve: "it was still not resolved",
    ClockKind.regulator: "the regulator had not been notified",
}


def explain(clock: Clock) -> str:
    """One sentence a non-specialist can read: what happened when, against what promise."""
    counted = " (business hours)" if clock.business_hours else ""
    held = " (time it waited for you not counted)" if clock.kind == ClockKind.resolve else ""
    if clock.stop is not None:
        what = f"{_STOPPED[clock.kind]} {human(clock.elapsed_s)} after the clock started{counted}"
    else:
        what = f"{_RUNNING[clock.kind]} {human(clock.elapsed_s)} after the clock started{counted}"
    promise = (
        "GDPR article 33 allows 72 hours"
        if clock.kind == ClockKind.regulator
        else (f"we promised {human(clock.target_s)}")
    )
    return f"{what[0].upper()}{what[1:]}{held}; {promise}, so it was {human(-clock.left_s)} late."


def _stats(clocks: list[Clock]) -> list[ClockStats]:
    groups: dict[tuple[Severity, ClockKind], list[Clock]] = {}
    for c in clocks:
        groups.setdefault((c.severity, c.kind), []).append(c)
    out = []
    for severity in sorted({s for s, _ in groups}, key=lambda s: -s.rank):
        for kind in KINDS:
            group = groups.get((severity, kind))
            if not group:
                continue
            stopped = [c.elapsed_s for c in group if c.stop is not None]
            out.append(
                ClockStats(
                    severity=severity,
                    kind=kind,
                    target_s=group[0].target_s,
                    business_hours=group[0].business_hours,
                    measured=len(stopped),
                    mean_s=sum(stopped) / len(stopped) if stopped else None,
                    p90_s=p90(stopped),
                    met=sum(c.state == ClockState.met for c in group),
                    breached=sum(c.state == ClockState.breached for c in group),
                    open=sum(c.state in (ClockState.running, ClockState.paused) for c in group),
                )
            )
    return out


def _top(counter: Counter[str], labels: dict[str, str], n: int = 10) -> list[Count]:
    return [Count(key=k, label=labels.get(k, ""), count=v) for k, v in counter.most_common(n)]


def tenant_report(
    *,
    tenant: str,
    name: str,
    provider: str,
    month: Month,
    as_of: datetime,
    hours: str,
    incidents: list[Incident],
    clocks: list[Clock],
    notices: list[Notice],
    rule_detections: dict[str, int],
    rule_titles: dict[str, str],
    evidence: EvidenceSummary | None = None,
) -> TenantReport:
    """The figures of one tenant's month: `incidents` opened in it, their `clocks` at `as_of`, the client
    `notices` of the month, and detections per rule (from the detections index)."""
    counted = [c for c in clocks if c.state != ClockState.cancelled]
    per_day = Counter(month.day_of(i.opened_at or i.first_seen) for i in incidents)
    met = sum(c.state == ClockState.met for c in counted)
    breached = [c for c in counted if c.state == ClockState.breached]
    rule_incidents = Counter(r for i in incidents for r in set(i.rule_ids))
    top_rules = [
        Count(key=k, label=rule_titles.get(k, ""), count=v, incidents=rule_incidents.get(k, 0))
        for k, v in sorted(rule_detections.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    ]
    return TenantReport(
        tenant=tenant,
        name=name,
        provider=provider,
        month=month,
        as_of=as_of,
        hours=hours,
        incidents=len(incidents),
        by_severity={
            s: sum(i.severity == s for i in incidents) for s in sorted(Severity, key=lambda s: -s.rank)
        },
        by_day=[(d, per_day.get(d, 0)) for d in month.days()],
        stats=_stats(counted),
        met=met,
        breached=len(breached),
        compliance_pct=compliance_pct(met, len(breached)),
        breaches=[
            Breach(
                incident_id=c.incident_id,
                title=c.title,
                severity=c.severity,
                kind=c.kind,
                start=c.start,
                deadline=c.deadline,
                stop=c.stop,
                overdue_s=-c.left_s,
                explanation=explain(c),
            )
            for c in sorted(breached, key=lambda c: (c.start, c.kind.value))
        ],
        top_rules=top_rules,
        top_techniques=_top(Counter(t for i in incidents for t in i.techniques), {}),
        notices=sorted(notices, key=lambda n: n.sent_at or datetime.max.replace(tzinfo=UTC)),
        notices_sent=sum(n.status == NoticeStatus.sent for n in notices),
        notices_failed=sum(n.status == NoticeStatus.failed for n in notices),
        evidence=evidence,
    )
