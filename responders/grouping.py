"""Grouping detections into incidents: pure functions, no Elasticsearch.

A detection belongs to a *group* (its tenant, plus the values of the grouping keys: rule, host, user,
source address). A group has a current incident; a detection joins it when the incident is not closed,
not full, and the detection's event time is within the window of the incident's first or last seen
time. Otherwise the group's generation is incremented and a new incident opened. Incident ids are
deterministic: hash(tenant, group key, generation), so two workers racing to open the same group's next
incident compute the same id, and `op_type=create` lets exactly one of them win.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from responders.config import Grouping
from schemas.common import deterministic_id
from schemas.detection import Detection, Entity
from schemas.incident import Incident
from schemas.tenant import Tenant

GDPR_CLOCK = timedelta(hours=72)


def group_values(detection: Detection, keys: tuple[str, ...]) -> dict[str, str]:
    values = {
        "rule": detection.rule.id,
        "host": (detection.entity.host or "").lower(),
        "user": (detection.entity.user or "").lower(),
        "source_ip": detection.entity.source_ip or "",
    }
    return {key: values[key] for key in keys}


def group_key(detection: Detection, grouping: Grouping) -> str:
    """`rule=<id>|host=<name>`: readable in Kibana, and the input of the incident id."""
    return "|".join(f"{k}={v}" for k, v in group_values(detection, grouping.keys).items())


def group_head_id(tenant: str, key: str) -> str:
    return "group-" + deterministic_id("group", tenant, key)


def incident_id(tenant: str, key: str, generation: int) -> str:
    return deterministic_id("incident", tenant, key, generation)


def fits(incident: Incident, detection: Detection, grouping: Grouping) -> bool:
    """May this detection join this incident?"""
    if incident.status == "closed" or incident.detection_count >= grouping.max_detections:
        return False
    return (
        incident.first_seen - grouping.window <= detection.event_time <= incident.last_seen + grouping.window
    )


def _title(head: str, entity: Entity) -> str:
    where = entity.host or entity.user or entity.source_ip
    return f"{head} on {where}" if where else head


def open_incident(detection: Detection, key: str, new_id: str, tenant: Tenant, now: datetime) -> Incident:
    """A new incident holding nothing yet; `add_detection` puts the first detection in."""
    return Incident(
        id=new_id,
        tenant=detection.tenant,
        title=_title(detection.rule.title, detection.entity),
        severity=detection.severity,
        initial_severity=detection.severity,
        group_key=key,
        entity=detection.entity,
        first_seen=detection.event_time,
        last_seen=detection.event_time,
        personal_data=tenant.personal_data,
        gdpr_deadline=now + GDPR_CLOCK if tenant.personal_data else None,
        opened_at=now,
        updated_at=now,
    )


def add_detection(incident: Incident, detection: Detection, now: datetime) -> bool:
    """Fold a detection into the incident; False (and no change) when it is already in it."""
    if detection.id in incident.detection_ids:
        return False
    incident.detection_ids.append(detection.id)
    incident.detection_count = len(incident.detection_ids)
    incident.first_seen = min(incident.first_seen, detection.event_time)
    incident.last_seen = max(incident.last_seen, detection.event_time)
    if detection.rule.id not in incident.rule_ids:
        incident.rule_ids.append(detection.rule.id)
    incident.techniques = sorted({*incident.techniques, *detection.rule.attack_techniques})
    if detection.severity.rank > incident.severity.rank:
        incident.severity = detection.severity
    if len(incident.rule_ids) > 1:
        incident.title = _title(f"{len(incident.rule_ids)} rules", incident.entity)
    incident.updated_at = now
    return True
