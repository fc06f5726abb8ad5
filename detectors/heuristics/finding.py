"""What a heuristic reports, and its conversion to the ordinary Detection message.

A Finding carries rule-like metadata (a stable heuristic id such as `socpipe-heuristic-brute-force`,
a title, a level, ATT&CK tags), the entity, and the evidence: an explanation an analyst can read
(the counts, the baseline, the values) and the same figures as data.

Its id is deterministic: tenant + heuristic id + key (the entity the state is kept for) + window
start. Replaying the same events gives the same ids, so a replay never duplicates a detection.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from schemas.common import Severity, deterministic_id
from schemas.detection import Detection, DetectionKind, Entity, EventRef, RuleRef

AUTHOR = "socpipe heuristics"


class Finding(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    heuristic: str = Field(description="The heuristic's name in configuration, e.g. brute_force.")
    rule_id: str = Field(description="Stable id, e.g. socpipe-heuristic-brute-force.")
    title: str
    level: Severity
    tags: tuple[str, ...] = ()
    tenant: str
    key: str = Field(description="What the state is kept for, e.g. 'account:bob' or 'ws-1|10.0.0.9:443'.")
    entity: Entity
    window_start: datetime = Field(description="Start of the evidence window: part of the id.")
    event_time: datetime = Field(description="Time of the event that made it fire.")
    explanation: str
    evidence: dict[str, Any] = Field(default_factory=dict)

    @property
    def id(self) -> str:
        return deterministic_id(
            "heuristic", self.tenant, self.rule_id, self.key, round(self.window_start.timestamp(), 3)
        )


def finding_to_detection(
    finding: Finding, event_ref: EventRef, event: dict[str, Any] | None = None
) -> Detection:
    """A Detection (kind=heuristic) whose id depends on the finding only, not on the event that fired it;
    `event` is that event, as the detection carries it (detectors/event_context.py)."""
    return Detection(
        id=finding.id,
        tenant=finding.tenant,
        kind=DetectionKind.heuristic,
        rule=RuleRef(
            id=finding.rule_id,
            title=finding.title,
            level=finding.level,
            author=AUTHOR,
            tags=list(finding.tags),
            logsource={"product": "socpipe", "service": "heuristics"},
        ),
        event_time=finding.event_time,
        matched={"heuristic": finding.heuristic, "key": finding.key, **finding.evidence},
        entity=finding.entity,
        event_ref=event_ref,
        event=event,
        explanation=finding.explanation,
    )


def findings_to_detections(
    findings: Iterable[Finding], event_ref: EventRef, event: dict[str, Any] | None = None
) -> list[Detection]:
    """Detections of the findings one event produced; `event_ref` points at that event."""
    return [finding_to_detection(f, event_ref, event) for f in findings]
