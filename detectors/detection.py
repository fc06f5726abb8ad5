"""Turn a Sigma match into the Detection message responders consume; the entity an incident groups by."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from schemas.common import Severity
from schemas.detection import Detection, DetectionKind, Entity, EventRef, RuleRef
from schemas.event import HOST_NAME_FIELDS

_USER_FIELDS = ("user.name", "User", "TargetUserName", "SubjectUserName", "AccountName")
_SOURCE_FIELDS = ("source.ip", "IpAddress", "SourceIp", "src_ip")


def entity_of(flat: Mapping[str, Any]) -> Entity:
    """The host, user and source address an incident is grouped by, from ECS or original names."""

    def first(names: tuple[str, ...]) -> str | None:
        for name in names:
            value = flat.get(name)
            if value not in (None, "", "-"):
                return str(value)
        return None

    return Entity(host=first(HOST_NAME_FIELDS), user=first(_USER_FIELDS), source_ip=first(_SOURCE_FIELDS))


def rule_ref(info: Any) -> RuleRef:
    return RuleRef(
        id=str(info.id),
        title=info.title,
        level=Severity.parse(info.level),
        author=info.author,
        tags=list(info.tags),
        logsource=dict(info.logsource),
    )


def detection_from_match(
    match: Any, *, tenant: str, event_time: datetime, entity: Entity, event_ref: EventRef
) -> Detection:
    """The Detection of a Sigma match; its id is the match's (deterministic: rule + event)."""
    return Detection(
        id=str(match.id),
        tenant=tenant,
        kind=DetectionKind.sigma,
        rule=rule_ref(match.rule),
        event_time=event_time,
        matched=dict(match.matched),
        entity=entity,
        event_ref=event_ref,
    )
