"""An incident: detections of one tenant grouped by rule and entity within a time window."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from schemas.common import Severity, TenantId
from schemas.detection import Entity


class IncidentStatus(StrEnum):
    open = "open"
    acknowledged = "acknowledged"
    closed = "closed"


class Verdict(StrEnum):
    true_positive = "true_positive"
    false_positive = "false_positive"
    benign = "benign"


class TriageAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: str
    actor: str
    at: datetime
    reason: str | None = None


class Incident(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    tenant: TenantId
    title: str
    status: IncidentStatus = IncidentStatus.open
    severity: Severity
    initial_severity: Severity | None = Field(default=None, description="Severity when opened.")
    group_key: str = Field(description="Rule and entity values the detections were grouped by.")
    rule_ids: list[str] = Field(default_factory=list)
    entity: Entity = Field(default_factory=Entity)
    techniques: list[str] = Field(default_factory=list)
    first_seen: datetime
    last_seen: datetime
    detection_count: int = 0
    detection_ids: list[str] = Field(default_factory=list)
    assignee: str | None = None
    verdict: Verdict | None = None
    personal_data: bool = False
    gdpr_deadline: datetime | None = Field(default=None, description="GDPR art. 33: aware + 72 hours.")
    regulator_notified_at: datetime | None = Field(
        default=None, description="When the supervisory authority was notified (stops the art. 33 clock)."
    )
    regulator_reference: str | None = Field(default=None, description="The authority's case reference.")
    opened_at: datetime | None = Field(
        default=None, description="When socpipe opened it: service-level clocks start here (else first_seen)."
    )
    history: list[TriageAction] = Field(default_factory=list)
    updated_at: datetime
    version: int = Field(default=0, ge=0, description="Incremented by every write; evidence is keyed on it.")
