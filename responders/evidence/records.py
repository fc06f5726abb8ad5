"""The evidence items each kind of subject yields, with the deterministic key that makes them write-once."""

from __future__ import annotations

from responders.evidence.recorder import EvidenceItem
from schemas.detection import Detection
from schemas.evidence import EvidenceType
from schemas.incident import Incident


def detection_evidence(detection: Detection, incident: Incident) -> EvidenceItem:
    return EvidenceItem(
        key=f"detection:{detection.id}",
        record_type=EvidenceType.detection,
        subject_id=detection.id,
        occurred_at=detection.detected_at,
        details={
            "rule_id": detection.rule.id,
            "rule_title": detection.rule.title,
            "level": detection.rule.level.value,
            "kind": detection.kind.value,
            "techniques": detection.rule.attack_techniques,
            "event_time": detection.event_time.isoformat(),
            "event_ref": detection.event_ref.model_dump(mode="json", exclude_none=True),
            "incident_id": incident.id,
        },
        personal_data=incident.personal_data,
    )


def triage_evidence(incident: Incident, action: str) -> list[EvidenceItem]:
    last = incident.history[-1]
    items = [
        EvidenceItem(
            key=f"triage:{incident.id}:v{incident.version}",
            record_type=EvidenceType.triage_action,
            subject_id=incident.id,
            occurred_at=last.at,
            details={
                "action": action,
                "actor": last.actor,
                "reason": last.reason,
                "version": incident.version,
                "status": incident.status.value,
                "assignee": incident.assignee,
                "verdict": incident.verdict.value if incident.verdict else None,
                "gdpr_deadline": incident.gdpr_deadline.isoformat() if incident.gdpr_deadline else None,
                "regulator_reference": incident.regulator_reference,
            },
            personal_data=incident.personal_data,
        )
    ]
    if action == "close":
        items.append(incident_evidence(incident, EvidenceType.incident_closed))
    return items


def incident_evidence(incident: Incident, record_type: EvidenceType | None = None) -> EvidenceItem:
    kind = record_type or (
        EvidenceType.incident_opened if incident.version == 1 else EvidenceType.incident_updated
    )
    return EvidenceItem(
        key=f"incident:{incident.id}:v{incident.version}",
        record_type=kind,
        subject_id=incident.id,
        occurred_at=incident.updated_at,
        details={
            "version": incident.version,
            "title": incident.title,
            "status": incident.status.value,
            "severity": incident.severity.value,
            "verdict": incident.verdict.value if incident.verdict else None,
            "group_key": incident.group_key,
            "rule_ids": incident.rule_ids,
            "techniques": incident.techniques,
            "first_seen": incident.first_seen.isoformat(),
            "last_seen": incident.last_seen.isoformat(),
            "detection_count": incident.detection_count,
            "gdpr_deadline": incident.gdpr_deadline.isoformat() if incident.gdpr_deadline else None,
        },
        personal_data=incident.personal_data,
    )
