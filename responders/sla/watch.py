"""The breach watch: every breached clock becomes one evidence record and one escalation to the provider.

Exactly once, across several responders and their restarts, without a coordinator:

1. The evidence record's key is the breach's own, `sla_breach:<incident>:<clock>`; the evidence store
   claims a key by creating its document (`op_type=create`) in the tenant's state index, so of several
   watchers only one writes the record, and a replay (the next round, a restarted process) finds the key
   done and writes nothing. A crash between claim and record is taken over after the claim timeout
   (recorder.py).
2. The escalation is a notice with the deterministic id of (tenant, incident, `sla_breach:<clock>`,
   on-call route), claimed the same way before it is sent (notifier.py): one watcher sends it, the
   others find it claimed; a send a crash interrupted is taken over after the claim timeout and sent
   again under the same id (the Message-ID / webhook-id a receiver deduplicates on).

The record comes first: a crash after it and before the escalation leaves the escalation to the next
round. A breach found after its clock stopped (a close late between two rounds) is recorded, but not
escalated: there is nothing left for the on-call to do.

Where it runs: in the responder process, a thread every `sla_check_interval_s` (like the notice sweep),
taking the stage's batch lock per tenant; `socpipe sla check` runs one round on demand.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from responders.evidence.recorder import EvidenceItem, EvidenceStore
from responders.notices.notifier import Notifier
from responders.sla.reader import ClockReader
from schemas.common import utc_now
from schemas.evidence import EvidenceType
from schemas.incident import Incident
from schemas.sla import Clock, ClockState
from socpipe.logging import get_logger
from socpipe.metrics import Metrics, NullMetrics

log = get_logger(__name__)

STATES = (ClockState.running, ClockState.paused, ClockState.breached)  # the gauge's states


@dataclass
class CheckResult:
    tenant: str
    clocks: list[Clock] = field(default_factory=list)
    recorded: list[str] = field(default_factory=list)  # breach keys recorded by this call
    escalated: list[str] = field(default_factory=list)  # escalation notice ids sent by this call


def breach_evidence(clock: Clock, incident: Incident) -> EvidenceItem:
    return EvidenceItem(
        key=clock.key,
        record_type=EvidenceType.sla_breach,
        subject_id=incident.id,
        occurred_at=clock.deadline or utc_now(),
        details={
            "clock": clock.kind.value,
            "severity": clock.severity.value,
            "target_s": clock.target_s,
            "business_hours": clock.business_hours,
            "start": clock.start.isoformat(),
            "deadline": clock.deadline.isoformat() if clock.deadline else None,
            "stop": clock.stop.isoformat() if clock.stop else None,
            "elapsed_s": round(clock.elapsed_s, 3),
            "status": incident.status.value,
            "assignee": incident.assignee,
        },
        personal_data=incident.personal_data,
    )


def clock_context(clock: Clock) -> dict[str, Any]:
    """What the escalation template shows of the clock."""
    return {
        "clock": {
            "start": clock.start.isoformat(),
            "deadline": clock.deadline.isoformat() if clock.deadline else "-",
            "target": str(timedelta(seconds=clock.target_s)),
            "business_hours": clock.business_hours,
        }
    }


class SlaWatch:
    def __init__(
        self,
        reader: ClockReader,
        evidence: EvidenceStore,
        notifier: Notifier,
        *,
        interval_s: float = 60.0,
        metrics: Metrics | None = None,
    ) -> None:
        self.reader = reader
        self.evidence = evidence
        self.notifier = notifier
        self.interval_s = interval_s
        self.metrics: Metrics = metrics or NullMetrics()
        self._gauged: set[tuple[str, str, str, str]] = set()

    def check(self, tenant: str, now: datetime | None = None) -> CheckResult:
        """One tenant: its live clocks, the new breaches recorded and escalated, the gauges set."""
        now = now or utc_now()
        # Incidents touched within a few rounds: a clock that stopped late between two looks is seen.
        incidents = {i.id: i for i in self.reader.live(tenant, now, timedelta(seconds=self.interval_s * 5))}
        clocks = self.reader.clocks(tenant, list(incidents.values()), now)
        result = CheckResult(tenant, clocks)
        breached = [c for c in clocks if c.state == ClockState.breached]
        written = self.evidence.record(
            tenant, [breach_evidence(c, incidents[c.incident_id]) for c in breached]
        )
        result.recorded = [r.evidence_key or "" for r in written]
        for record in written:
            self.metrics.count(
                "sla_breaches",
                tenant=tenant,
                severity=record.details["severity"],
                clock=record.details["clock"],
            )
        for clock in breached:
            if clock.stop is not None:
                continue
            sent = self.notifier.escalate(
                tenant, incidents[clock.incident_id], clock.kind.value, clock_context(clock)
            )
            result.escalated += [n.id for n in sent.sent + sent.failed]
        self._gauge(tenant, clocks)
        if result.recorded or result.escalated:
            log.warning(
                "service level breached",
                tenant=tenant,
                breaches=result.recorded,
                escalations=len(result.escalated),
            )
        return result

    def run_once(self, busy: AbstractContextManager[Any] | None = None) -> list[CheckResult]:
        """Every tenant, each under `busy` (the stage's batch lock) when given."""
        results = []
        for tenant in self.reader.tenants():
            with busy or nullcontext():
                results.append(self.check(tenant))
        return results

    def _gauge(self, tenant: str, clocks: list[Clock]) -> None:
        """`sla_clocks{tenant, severity, clock, state}`: open clocks now; combinations gone are set to 0."""
        counts: dict[tuple[str, str, str, str], int] = {}
        for c in clocks:
            if c.state in STATES and c.stop is None:
                key = (tenant, c.severity.value, c.kind.value, c.state.value)
                counts[key] = counts.get(key, 0) + 1
        for key in {k for k in self._gauged if k[0] == tenant} | counts.keys():
            t, severity, kind, state = key
            self.metrics.gauge(
                "sla_clocks", counts.get(key, 0), tenant=t, severity=severity, clock=kind, state=state
            )
        self._gauged |= counts.keys()
