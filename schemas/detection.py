"""A detection: one rule or heuristic firing on one event (or one correlated group of events)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from schemas.common import Severity, TenantId, deterministic_id, utc_now


class DetectionKind(StrEnum):
    sigma = "sigma"
    correlation = "correlation"
    heuristic = "heuristic"
    intel = "intel"


# The rule ids of threat-intelligence matches (detectors/intel): one for indicators whose details may
# reach the client, one for TLP:RED and TLP:AMBER+STRICT ones, whose details stay with the provider.
# Notices tell them apart by these ids alone (responders never import detectors).
INTEL_RULE_ID = "socpipe-intel"
INTEL_RESTRICTED_RULE_ID = "socpipe-intel-restricted"
# The rule tag of a detection found by a retro-hunt rather than as the event arrived.
RETROSPECTIVE_TAG = "socpipe.retrospective"


class RuleRef(BaseModel):
    """What the analyst needs to know about the rule; `author` is kept for the Sigma licence."""

    model_config = ConfigDict(extra="forbid")

    id: str
    title: str
    level: Severity = Severity.medium
    author: str | None = None
    tags: list[str] = Field(default_factory=list)
    logsource: dict[str, str] = Field(default_factory=dict)

    @property
    def attack_techniques(self) -> list[str]:
        """ATT&CK technique ids from tags like `attack.t1059.001`, upper-cased as MITRE writes them."""
        return sorted(
            {t.removeprefix("attack.").upper() for t in self.tags if t.lower().startswith("attack.t")}
        )


class EventRef(BaseModel):
    """Where the triggering event is: its id, its Kafka position when it came from Kafka, and when the
    shipper received it (the start of the end-to-end latency from receipt to incident)."""

    model_config = ConfigDict(extra="forbid")

    event_id: str
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    path: str | None = None
    line: int | None = None
    received_at: datetime | None = Field(
        default=None,
        description="The event's ingest.received_at (set by its shipper); None from older detectors.",
    )


class Entity(BaseModel):
    """The things an incident is grouped by."""

    model_config = ConfigDict(extra="forbid")

    host: str | None = None
    user: str | None = None
    source_ip: str | None = None


# How many contributing events a correlation detection names; it carries their total count besides.
MAX_RELATED_EVENTS = 10


class RelatedEvents(BaseModel):
    """The events that made a correlation fire: how many, and the ids of the first of them in event time.

    The ids are the events' ids on events.ecs, which are also their document ids (`_id`) in the tenant's
    events index (`<prefix>-events-<tenant>-YYYY.MM.DD`, when the tenant has one). The correlation state
    keeps only these references, never the events themselves (see detectors/correlation_component.py)."""

    model_config = ConfigDict(extra="forbid")

    count: int = Field(ge=0, description="Every contributing event (or chained correlation match).")
    event_ids: list[str] = Field(
        default_factory=list, description=f"The first {MAX_RELATED_EVENTS}, in event time."
    )


class Detection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    tenant: TenantId
    kind: DetectionKind = DetectionKind.sigma
    rule: RuleRef
    event_time: datetime
    detected_at: datetime = Field(default_factory=utc_now)
    matched: dict[str, Any] = Field(default_factory=dict, description="Field -> value that made it fire.")
    entity: Entity = Field(default_factory=Entity)
    event_ref: EventRef
    explanation: str | None = None
    event: dict[str, Any] | None = Field(
        default=None,
        description="The triggering event as normalised on events.ecs (ECS, nested), size-bounded by the "
        "detector (`truncated: true` when cut); a heuristic's holds the fields it read. Redacted for the "
        "tenant in the detections index. None from older detectors and offline scans.",
    )
    related: RelatedEvents | None = Field(
        default=None, description="Correlation: the contributing events (count, first ids)."
    )

    @staticmethod
    def make_id(tenant: str, rule_id: str, event_id: str) -> str:
        """The same rule on the same event always yields the same detection id."""
        return deterministic_id("detection", tenant, rule_id, event_id)

    @property
    def severity(self) -> Severity:
        return self.rule.level
