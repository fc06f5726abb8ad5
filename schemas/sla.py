"""Service levels a provider sells a client, and the clocks that measure an incident against them.

Targets are per severity: `notify_within` (the client hears of the incident), `acknowledge_within` (an
analyst is on it) and `resolve_within` (closed with a verdict), counted in business hours or around the
clock. The provider's default (rules/tenants.yaml `service_levels:`) applies to every tenant; a tenant's
own `service_levels:` overrides what it names (its hours, and the targets of the severities it lists).
"""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.common import Severity
from schemas.durations import Delta

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ClockKind(StrEnum):
    notify = "notify"
    acknowledge = "acknowledge"
    resolve = "resolve"
    regulator = "regulator"  # GDPR art. 33: the supervisory authority within 72 hours of awareness


class ClockState(StrEnum):
    running = "running"
    paused = "paused"  # the client holds the incident (waiting for their answer): time does not count
    met = "met"
    breached = "breached"  # past its deadline, whether still running or stopped late
    cancelled = "cancelled"  # no longer applies (a regulator clock of an incident closed as no breach)


class BusinessHours(BaseModel):
    """When business-hours clocks count: these weekdays, from `start` to `end` local time, not on holidays."""

    model_config = ConfigDict(extra="forbid")

    timezone: str | None = Field(default=None, description="IANA zone; default: the tenant's timezone.")
    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS[:5]))
    start: time = time(9, 0)
    end: time = time(17, 0)
    holidays: list[date] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            check_zone(value)
        return value

    @model_validator(mode="after")
    def _span(self) -> BusinessHours:
        if self.end <= self.start:
            raise ValueError(f"end {self.end} must be after start {self.start}")
        if not self.days:
            raise ValueError("at least one weekday")
        return self


def check_zone(name: str) -> ZoneInfo:
    """The zone, or a ValueError saying what is expected."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {name!r}: expected an IANA name like Europe/Berlin") from None


class Targets(BaseModel):
    """One severity's promises; a missing one is not promised (no clock)."""

    model_config = ConfigDict(extra="forbid")

    notify_within: Delta | None = None
    acknowledge_within: Delta | None = None
    resolve_within: Delta | None = None

    @model_validator(mode="after")
    def _positive(self) -> Targets:
        for name in ("notify_within", "acknowledge_within", "resolve_within"):
            value = getattr(self, name)
            if value is not None and value.total_seconds() <= 0:
                raise ValueError(f"{name} must be longer than zero")
        return self

    def within(self, kind: ClockKind) -> Delta | None:
        return getattr(self, f"{kind.value}_within", None)


class ServiceLevels(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hours: Literal["24x7", "business"] = "24x7"
    business_hours: BusinessHours = Field(default_factory=BusinessHours)
    targets: dict[Severity, Targets] = Field(default_factory=dict)

    def merged(self, override: ServiceLevels | None) -> ServiceLevels:
        """This (the provider's default) with a tenant's override: what it names wins, per severity."""
        if override is None:
            return self
        given = override.model_fields_set
        return ServiceLevels(
            hours=override.hours if "hours" in given else self.hours,
            business_hours=override.business_hours if "business_hours" in given else self.business_hours,
            targets={**self.targets, **override.targets},
        )


class Clock(BaseModel):
    """One promise measured on one incident: when it started, is due, stopped, and where it stands."""

    model_config = ConfigDict(extra="forbid")

    tenant: str
    incident_id: str
    title: str
    severity: Severity
    kind: ClockKind
    target_s: float
    business_hours: bool
    start: datetime
    deadline: datetime | None = Field(description="None while paused: the deadline moves with the pause.")
    stop: datetime | None = None
    state: ClockState
    elapsed_s: float = Field(description="Counted time (business hours, pauses left out) up to stop or now.")
    left_s: float = Field(description="Counted time left to the target; negative once breached.")

    @property
    def key(self) -> str:
        """The breach's deterministic key: one evidence record and one escalation per incident and clock."""
        return f"sla_breach:{self.incident_id}:{self.kind.value}"
