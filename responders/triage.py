"""Analyst triage: acknowledge, assign, escalate, close with a verdict, flag personal data; each one evidence.
(Also hold / resume, reopen and the regulator notification, which the service-level clocks read.)

The one code path for the CLI (`socpipe incident ...`) and the triage web page (`socpipe triage serve`).

Every action is a read-modify-write of the incident conditional on the version read
(`if_seq_no`/`if_primary_term`), retried from a fresh read when the responder (or another analyst)
wrote in between, so no update is lost. It records who, when and why in the incident's history, writes
a `triage_action` evidence record (and `incident_closed` on close), and sends the notices the new state
calls for.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from elasticsearch import ConflictError, Elasticsearch

from responders.evidence.documents import incident_doc, incident_from_doc
from responders.evidence.recorder import EvidenceStore
from responders.evidence.records import triage_evidence
from responders.grouping import GDPR_CLOCK
from responders.notices.notifier import Notifier, NotifyResult
from responders.sla.clocks import timeline
from schemas.common import Severity, utc_now
from schemas.incident import Incident, IncidentStatus, TriageAction, Verdict
from socpipe.es import tenant_indices
from socpipe.settings import Settings


class TriageError(ValueError):
    """The action does not apply to the incident as it is (closing a closed incident, say)."""


@dataclass(frozen=True)
class _Request:
    """What an analyst asked for, besides the action's name."""

    now: datetime
    reason: str | None
    assignee: str | None
    verdict: Verdict | None
    severity: Severity | None = None
    reference: str | None = None


def _acknowledge(incident: Incident, new: Incident, request: _Request) -> None:
    if incident.status != IncidentStatus.open:
        raise TriageError(f"incident is {incident.status.value}, only an open one can be acknowledged")
    new.status = IncidentStatus.acknowledged


def _assign(incident: Incident, new: Incident, request: _Request) -> None:
    if incident.status == IncidentStatus.closed:
        raise TriageError("incident is closed")
    if not request.assignee:
        raise TriageError("assign needs an assignee (--to)")
    new.assignee = request.assignee


def _escalate(incident: Incident, new: Incident, request: _Request) -> None:
    """Raise the severity (to the one asked for, else one step): the client's escalation notice follows."""
    if incident.status == IncidentStatus.closed:
        raise TriageError("incident is closed")
    if not request.reason:
        raise TriageError("escalate needs a reason (--reason)")
    levels = list(Severity)
    target = request.severity or levels[min(incident.severity.rank + 1, len(levels) - 1)]
    if target.rank <= incident.severity.rank:
        raise TriageError(f"incident is already {incident.severity.value}: escalate to a higher severity")
    new.severity = target


def _close(incident: Incident, new: Incident, request: _Request) -> None:
    if incident.status == IncidentStatus.closed:
        raise TriageError("incident is already closed")
    if request.verdict is None:
        raise TriageError("close needs a verdict: true_positive, false_positive or benign")
    if not request.reason:
        raise TriageError("close needs a reason (--reason)")
    new.status, new.verdict = IncidentStatus.closed, request.verdict


def _flag_personal_data(incident: Incident, new: Incident, request: _Request) -> None:
    if incident.personal_data:
        raise TriageError("incident is already flagged as touching personal data")
    new.personal_data, new.gdpr_deadline = True, request.now + GDPR_CLOCK


def _held(incident: Incident) -> bool:
    """The client holds it: its last hold has no resume or close after it (as the clocks read it)."""
    holds = timeline(incident).holds
    return bool(holds) and holds[-1][1] is None


def _hold(incident: Incident, new: Incident, request: _Request) -> None:
    if incident.status == IncidentStatus.closed or _held(incident):
        raise TriageError("only an open or acknowledged incident not already on hold can be held")
    if not request.reason:
        raise TriageError("hold needs a reason (--reason): what the client is asked for")


def _resume(incident: Incident, new: Incident, request: _Request) -> None:
    if not _held(incident):
        raise TriageError("incident is not on hold")


def _reopen(incident: Incident, new: Incident, request: _Request) -> None:
    if incident.status != IncidentStatus.closed:
        raise TriageError(f"incident is {incident.status.value}, only a closed one can be reopened")
    if not request.reason:
        raise TriageError("reopen needs a reason (--reason)")
    acked = any(h.action == "acknowledge" for h in incident.history)
    new.status = IncidentStatus.acknowledged if acked else IncidentStatus.open
    new.verdict = None


def _notify_regulator(incident: Incident, new: Incident, request: _Request) -> None:
    if incident.gdpr_deadline is None:
        raise TriageError("incident is not flagged as a personal-data breach (incident flag first)")
    if incident.regulator_notified_at is not None:
        raise TriageError(f"regulator already notified ({incident.regulator_reference})")
    if not request.reference or not request.reference.strip():
        raise TriageError("notify-regulator needs the authority's reference (--reference)")
    new.regulator_notified_at, new.regulator_reference = request.now, request.reference.strip()


# Each action checks that it applies to the incident as it is, then changes the copy (`new`).
ACTIONS: dict[str, Callable[[Incident, Incident, _Request], None]] = {
    "acknowledge": _acknowledge,
    "assign": _assign,
    "escalate": _escalate,
    "close": _close,
    "flag_personal_data": _flag_personal_data,
    # Service levels (responders/sla): the client holds (pauses the resolve clock), reopen, GDPR art. 33.
    "hold": _hold,
    "resume": _resume,
    "reopen": _reopen,
    "notify_regulator": _notify_regulator,
}


def apply_action(
    incident: Incident,
    action: str,
    actor: str,
    now: datetime,
    *,
    reason: str | None = None,
    assignee: str | None = None,
    verdict: Verdict | None = None,
    severity: Severity | None = None,
    reference: str | None = None,
) -> Incident:
    """The incident after the action (a copy); raise TriageError when the action does not apply."""
    if not actor.strip():
        raise TriageError("who did it is required (--actor)")
    request = _Request(
        now,
        reason,
        assignee,
        Verdict(verdict) if verdict is not None else None,
        Severity(severity) if severity is not None else None,
        reference,
    )
    change = ACTIONS.get(action)
    if change is None:
        raise TriageError(f"unknown action {action!r}")
    new = incident.model_copy(deep=True)
    change(incident, new, request)
    detail = reason
    if action == "assign":
        detail = f"to {assignee}" + (f": {reason}" if reason else "")
    elif action == "notify_regulator":
        detail = f"reference {new.regulator_reference}" + (f": {reason}" if reason else "")
    elif action == "escalate":
        detail = f"to {new.severity.value}: {reason}"
    new.history.append(TriageAction(action=action, actor=actor, at=now, reason=detail))
    new.updated_at = now
    new.version += 1
    return new


@dataclass
class Found:
    incident: Incident
    index: str
    seq_no: int
    primary_term: int


@dataclass
class TriageResult:
    incident: Incident
    notices: NotifyResult


class Triage:
    def __init__(
        self, es: Elasticsearch, settings: Settings, evidence: EvidenceStore, notifier: Notifier
    ) -> None:
        self.es = es
        self.settings = settings
        self.evidence = evidence
        self.notifier = notifier

    def find(self, incident_id: str, tenant: str | None = None) -> Found:
        """By id, within one tenant's index, or (provider side) across all of them."""
        hits = self.es.search(
            index=tenant_indices(self.settings, tenant).incidents,
            query={"ids": {"values": [incident_id]}},
            seq_no_primary_term=True,
            size=2,
            ignore_unavailable=True,
            allow_no_indices=True,
        )["hits"]["hits"]
        if not hits:
            where = f" of tenant {tenant}" if tenant else ""
            raise TriageError(f"no incident {incident_id}{where}")
        # Search is near-real-time: re-read by id (real-time) for the version to write against.
        doc = self.es.get(index=hits[0]["_index"], id=incident_id)
        return Found(incident_from_doc(doc["_source"]), doc["_index"], doc["_seq_no"], doc["_primary_term"])

    def list(
        self,
        tenant: str | None = None,
        *,
        status: list[str] | None = None,
        min_severity: Severity | None = None,
        assignee: str | None = None,
        size: int = 50,
    ) -> list[Incident]:
        filters: list[dict[str, Any]] = []
        if tenant:
            filters.append({"term": {"incident.tenant": tenant}})
        if status:
            filters.append({"terms": {"incident.status": status}})
        if min_severity:
            filters.append(
                {"terms": {"incident.severity": [s.value for s in Severity if s.rank >= min_severity.rank]}}
            )
        if assignee:
            filters.append({"term": {"incident.assignee": assignee}})
        self.es.indices.refresh(
            index=tenant_indices(self.settings, tenant).incidents,
            ignore_unavailable=True,
            allow_no_indices=True,
        )
        hits = self.es.search(
            index=tenant_indices(self.settings, tenant).incidents,
            query={"bool": {"filter": filters}},
            size=size,
            sort=[{"event.severity": "desc"}, {"incident.last_seen": "desc"}],
            ignore_unavailable=True,
            allow_no_indices=True,
        )["hits"]["hits"]
        return [incident_from_doc(h["_source"]) for h in hits]

    def detections(self, incident: Incident, size: int = 100) -> builtins.list[dict[str, Any]]:
        """The detection documents grouped into the incident, oldest first (each with the event behind it,
        `detection.event`, where the detector stored one). A restricted intel detection is here as its
        client view (responders/restricted.py); `restricted` gives it whole."""
        return self._grouped(tenant_indices(self.settings, incident.tenant).detections, incident, size)

    def restricted(self, incident: Incident, size: int = 100) -> builtins.list[dict[str, Any]]:
        """The restricted detections (TLP:RED / TLP:AMBER+STRICT indicator matches) of the incident whole,
        indicator and provenance included, from its tenant's provider-only index `P-restricted-T`: for
        the provider's analysts (`socpipe incident show`, the triage page); no client space reads it."""
        return self._grouped(tenant_indices(self.settings, incident.tenant).restricted, incident, size)

    def _grouped(self, index: str, incident: Incident, size: int) -> builtins.list[dict[str, Any]]:
        # As list(): an analyst opening an incident just written sees all of its detections.
        self.es.indices.refresh(index=index, ignore_unavailable=True, allow_no_indices=True)
        hits = self.es.search(
            index=index,
            query={"term": {"incident.id": incident.id}},
            sort=[{"@timestamp": "asc"}],
            size=size,
            ignore_unavailable=True,
            allow_no_indices=True,
        )["hits"]["hits"]
        return [h["_source"] for h in hits]

    def act(
        self, incident_id: str, action: str, actor: str, *, tenant: str | None = None, **kwargs: Any
    ) -> TriageResult:
        """Apply, write conditionally (re-reading on conflict), then evidence and notices."""
        for _ in range(8):
            found = self.find(incident_id, tenant)
            now = utc_now()
            new = apply_action(found.incident, action, actor, now, **kwargs)
            try:
                self.es.index(
                    index=found.index,
                    id=incident_id,
                    document=incident_doc(new),
                    if_seq_no=found.seq_no,
                    if_primary_term=found.primary_term,
                )
                break
            except ConflictError:
                continue
        else:
            raise TriageError("the incident kept changing while this action was applied; try again")
        self.evidence.record(new.tenant, triage_evidence(new, action))
        return TriageResult(new, self.notifier.notify(new.tenant, [new]))
