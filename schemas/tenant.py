"""A client organisation: who it is and how it wants to hear about its incidents."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from schemas.common import Severity, TenantId
from schemas.sla import ServiceLevels, check_zone

IncidentChange = Literal["open", "escalate", "acknowledge", "close"]
DEFAULT_NOTIFY_ON: tuple[IncidentChange, ...] = ("open", "escalate", "close")


class NoticeRoute(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str = Field(description="A registered notice channel: email or webhook.")
    destination: str = Field(description="An email address or an https:// URL.")
    min_severity: Severity = Severity.high
    notify_on: list[IncidentChange] = Field(
        default_factory=lambda: list(DEFAULT_NOTIFY_ON), description="Which incident changes to send."
    )
    secret_env: str | None = Field(
        default=None, description="Environment variable holding the webhook's whsec_ signing secret."
    )


class EventsIndex(BaseModel):
    """The tenant's own events index (`socpipe events index`): off unless the tenant opts in.

    Daily indices `<prefix>-events-<tenant>-YYYY.MM.DD`; `socpipe events prune` deletes those whose day
    is more than `retention_days` before today (UTC)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    retention_days: StrictInt = Field(default=30, ge=1, le=3650, description="Days of events kept.")


class Tenant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: TenantId
    name: str
    routes: list[NoticeRoute] = Field(default_factory=list)
    sensitive_fields: list[str] = Field(default_factory=list)
    timezone: str = Field(default="UTC", description="IANA zone: business hours and the report's days.")
    personal_data: bool = Field(
        default=False,
        description="Its incidents touch personal data: the GDPR art. 33 72-hour clock applies.",
    )
    events_index: EventsIndex = Field(default_factory=EventsIndex)
    service_levels: ServiceLevels | None = Field(
        default=None, description="Overrides the provider's default service levels (what it names)."
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        check_zone(value)
        return value


class Provider(BaseModel):
    """The provider's own side: who is paged when a service level is breached (never the client)."""

    model_config = ConfigDict(extra="forbid")

    name: str = "SOC provider"
    oncall: list[NoticeRoute] = Field(default_factory=list, description="Where breach escalations go.")
