"""Models <-> Elasticsearch documents: the model under its kind's name, plus the ECS copies.

Reading a document back takes only the model's part, so the ECS copies can never drift into the model
(or into an evidence record's hash).
"""

from __future__ import annotations

import contextlib
import ipaddress
from datetime import datetime
from typing import Any

from responders.redaction import redact_event
from schemas.detection import Detection, Entity
from schemas.evidence import EvidenceRecord
from schemas.incident import Incident
from schemas.notice import Notice


def _entity_ecs(entity: Entity) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if entity.host:
        out["host"] = {"name": entity.host}
    if entity.user:
        out["user"] = {"name": entity.user}
    if entity.source_ip:
        # Not an address (a host name)? Then it is kept in <kind>.entity.source_ip only.
        with contextlib.suppress(ValueError):
            out["source"] = {"ip": str(ipaddress.ip_address(entity.source_ip))}
    return out


def _threat(techniques: list[str]) -> dict[str, Any]:
    return {"threat": {"framework": "MITRE ATT&CK", "technique": {"id": techniques}}} if techniques else {}


def incident_doc(incident: Incident) -> dict[str, Any]:
    return {
        "@timestamp": incident.last_seen.isoformat(),
        "organization": {"id": incident.tenant},
        "event": {
            "kind": "alert",
            "severity": incident.severity.rank,
            "start": incident.first_seen.isoformat(),
            "end": incident.last_seen.isoformat(),
        },
        "rule": {"id": incident.rule_ids},
        "message": incident.title,
        **_entity_ecs(incident.entity),
        **_threat(incident.techniques),
        "incident": incident.model_dump(mode="json"),
    }


def incident_from_doc(source: dict[str, Any]) -> Incident:
    return Incident.model_validate(source["incident"])


def detection_doc(
    detection: Detection, incident_id: str, *, sensitive: list[str] | None = None
) -> dict[str, Any]:
    """The detection document; the event it carries (`detection.event`) redacted by `sensitive`, the
    tenant's policy (responders/redaction.py), since the detections index is client-visible. (A
    restricted intel detection arrives here as its client view, its indicator already scrubbed:
    responders/restricted.py.)"""
    model = detection.model_dump(mode="json")
    if sensitive and model.get("event") is not None:
        model["event"] = redact_event(model["event"], sensitive)
    return {
        "@timestamp": detection.event_time.isoformat(),
        "organization": {"id": detection.tenant},
        "event": {
            "kind": "alert",
            "severity": detection.severity.rank,
            "created": detection.detected_at.isoformat(),
        },
        "rule": {"id": detection.rule.id, "name": detection.rule.title},
        "message": detection.explanation or detection.rule.title,
        **_entity_ecs(detection.entity),
        **_threat(detection.rule.attack_techniques),
        "detection": model,
        "incident": {"id": incident_id},
    }


def notice_doc(notice: Notice, *, owner: str | None = None, claimed_at: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "@timestamp": (notice.sent_at.isoformat() if notice.sent_at else claimed_at),
        "organization": {"id": notice.tenant},
        "event": {"kind": "event", "action": f"notice-{notice.incident_state}", "outcome": _outcome(notice)},
        "notice": notice.model_dump(mode="json"),
        "incident": {"id": notice.incident_id},
    }
    if owner:
        doc["claim"] = {"owner": owner, "at": claimed_at}
    return doc


def _outcome(notice: Notice) -> str:
    return {"sent": "success", "failed": "failure"}.get(notice.status, "unknown")


def notice_from_doc(source: dict[str, Any]) -> Notice:
    return Notice.model_validate(source["notice"])


def record_id(tenant: str, sequence: int) -> str:
    """The document id of a tenant's record number `sequence`: one number, one document."""
    return f"{tenant}-{sequence:012d}"


def evidence_doc(record: EvidenceRecord) -> dict[str, Any]:
    return {
        "@timestamp": record.occurred_at.isoformat(),
        "organization": {"id": record.tenant},
        "event": {"kind": "event", "action": record.record_type.value},
        "evidence": record.model_dump(mode="json"),
    }


def evidence_from_doc(source: dict[str, Any]) -> EvidenceRecord:
    return EvidenceRecord.model_validate(source["evidence"])


def evidence_doc_problem(source: dict[str, Any], doc_id: str | None = None) -> str | None:
    """What is wrong with a stored evidence document outside what its record's hash covers, or None.

    The hash covers `evidence.*` (every field of the record). The rest (`@timestamp`, `organization.id`,
    `event.kind`, `event.action`, and the document id) is derived from the record, so it is checked by
    deriving it again: an edited `@timestamp` or `organization.id`, or a field added beside them, is
    tampering as surely as an edited record. No hash version was needed: every document ever written
    was derived this way, so old chains verify under the same rule.
    """
    try:
        record = evidence_from_doc(source)
    except (KeyError, TypeError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        return f"the document's evidence record cannot be read (altered): {str(exc).splitlines()[0]}"
    expected = evidence_doc(record)
    added = sorted(set(source) - set(expected))
    if added:
        return f"fields outside the hashed record were added ({', '.join(added)}) (document altered)"
    for name in ("organization", "event"):
        if source.get(name) != expected[name]:
            return f"{name} does not match the hashed record (document altered): {source.get(name)!r}"
    if _instant(source.get("@timestamp")) != record.occurred_at:
        return f"@timestamp {source.get('@timestamp')!r} is not the record's occurred_at (document altered)"
    if doc_id is not None and doc_id != record_id(record.tenant, record.sequence):
        return f"stored under id {doc_id!r}, not its tenant and sequence (document moved)"
    return None


def _instant(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None
