"""The provider's own monthly report: SLA compliance per client, and each analyst's workload. Pure."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime

from pydantic import BaseModel

from responders.report.figures import Month, TenantReport, compliance_pct
from schemas.incident import Incident


class ClientLine(BaseModel):
    tenant: str
    name: str
    incidents: int
    met: int
    breached: int
    compliance_pct: float | None


class AnalystLine(BaseModel):
    """What one analyst did in the month: triage actions by kind, and how fast they acknowledged."""

    actor: str
    actions: int
    incidents: int
    by_action: dict[str, int]
    acknowledged: int
    mean_to_acknowledge_s: float | None


class ProviderReport(BaseModel):
    provider: str
    month: Month
    as_of: datetime
    clients: list[ClientLine]
    analysts: list[AnalystLine]
    incidents: int
    met: int
    breached: int
    compliance_pct: float | None


def analyst_lines(incidents: list[Incident], month: Month) -> list[AnalystLine]:
    """Every triage action taken within the month, by who took it (the actor recorded)."""
    actions: dict[str, Counter[str]] = defaultdict(Counter)
    touched: dict[str, set[str]] = defaultdict(set)
    to_ack: dict[str, list[float]] = defaultdict(list)
    for incident in incidents:
        for step in incident.history:
            if not month.start <= step.at < month.end:
                continue
            actions[step.actor][step.action] += 1
            touched[step.actor].add(incident.id)
            if step.action == "acknowledge":
                opened = incident.opened_at or incident.first_seen
                to_ack[step.actor].append((step.at - opened).total_seconds())
    return [
        AnalystLine(
            actor=actor,
            actions=sum(counts.values()),
            incidents=len(touched[actor]),
            by_action=dict(sorted(counts.items())),
            acknowledged=len(to_ack[actor]),
            mean_to_acknowledge_s=sum(to_ack[actor]) / len(to_ack[actor]) if to_ack[actor] else None,
        )
        for actor, counts in sorted(actions.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
    ]


def provider_report(
    provider: str, month: Month, as_of: datetime, reports: list[TenantReport], incidents: list[Incident]
) -> ProviderReport:
    """`reports`: each client's month; `incidents`: all of theirs that the month's actions may touch."""
    met, breached = sum(r.met for r in reports), sum(r.breached for r in reports)
    return ProviderReport(
        provider=provider,
        month=month,
        as_of=as_of,
        clients=[
            ClientLine(
                tenant=r.tenant,
                name=r.name,
                incidents=r.incidents,
                met=r.met,
                breached=r.breached,
                compliance_pct=r.compliance_pct,
            )
            for r in sorted(
                reports, key=lambda r: (r.compliance_pct is None, r.compliance_pct or 0, r.tenant)
            )
        ],
        analysts=analyst_lines(incidents, month),
        incidents=sum(r.incidents for r in reports),
        met=met,
        breached=breached,
        compliance_pct=compliance_pct(met, breached),
    )
