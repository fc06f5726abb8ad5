"""A contribution: what one event gives one stateful detection component, on the repartition topic.

The detector workers are stateless: for every event they run the single-event Sigma rules and, for
each stateful component the event reaches (a Sigma correlation, a heuristic), publish a Contribution
keyed by (tenant, component, key) so that everything one piece of state needs lands on one partition
of `detectors.contributions`, wherever the events came from (the Kafka Streams repartition pattern).
The stateful stage (`socpipe correlate run`) consumes that topic.

A correlation contribution carries the group-by values and the aggregated field's value, computed by
the detector from the event, and the event itself bounded (`context`), for the detection it may
complete to carry. A heuristic contribution carries the fields of the event that the heuristics read
(see detectors/contributions.py), which serve as its detection's event too.

`origin` is the event's position on events.ecs plus the contribution's index among that event's
contributions: a detector that crashed before committing replays its events and publishes their
contributions again, and the stateful stage skips what it already fed by comparing positions.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from schemas.common import TenantId
from schemas.detection import Entity, EventRef


class ComponentKind(StrEnum):
    correlation = "correlation"
    heuristic = "heuristic"


class Origin(BaseModel):
    """Where the contribution came from: the event's Kafka position and its index among its contributions."""

    model_config = ConfigDict(extra="forbid")

    topic: str
    partition: int
    offset: int
    seq: int = 0

    def source(self) -> str:
        """The events.ecs partition it came from: positions are ordered within one source only."""
        return f"{self.topic}/{self.partition}"

    def position(self) -> tuple[int, int]:
        return (self.offset, self.seq)


class Contribution(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: TenantId
    component: ComponentKind
    name: str = Field(description="The correlation's id, or the heuristic's configuration name.")
    key: str = Field(
        description="What the state it feeds is partitioned by: the name and its group values, host, ..."
    )
    time: datetime = Field(description="The event's own time: windows are in event time.")
    event_ref: EventRef
    entity: Entity = Field(default_factory=Entity)
    origin: Origin | None = Field(default=None, description="None offline (`socpipe scan`).")
    rule: str | None = Field(default=None, description="Correlation: the base rule key that matched.")
    group: dict[str, Any] | None = Field(default=None, description="Correlation: the group-by values.")
    value: Any = Field(default=None, description="Correlation: the value of the aggregated field.")
    event: dict[str, Any] | None = Field(default=None, description="Heuristic: the fields it reads.")
    context: dict[str, Any] | None = Field(
        default=None,
        description="Correlation: the event, bounded (detectors/event_context.py), for the detection "
        "it may complete. Heuristic contributions carry none: their `event` serves.",
    )

    def partition_key(self) -> bytes:
        """The Kafka key: one piece of state, one partition."""
        return f"{self.tenant}|{self.component.value}|{self.key}".encode()
