"""Correlation state as plain pydantic models, so a worker can persist it anywhere.

One GroupState per (tenant, correlation rule, group-by values): the key the detector worker uses
as the Kafka key of a compacted state topic, and the key to partition events by when detectors
scale out (every event of one group lands on one worker). Restoring merges groups by key.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

STATE_VERSION = 1


class WindowEntry(BaseModel):
    """One base-rule match inside a correlation window."""

    ts: float  # event time, epoch seconds
    rule: str  # the referenced rule's id (or name when it has no id)
    ref: str  # the base match's event reference (for deterministic ids and evidence)
    value: Any = None  # the condition field's value (value_count / value_* types)


class GroupState(BaseModel):
    """Open window entries of one (tenant, correlation, group)."""

    key: str
    tenant: str | None
    correlation: str
    group: dict[str, Any]
    entries: list[WindowEntry] = Field(default_factory=list)


class CorrelationState(BaseModel):
    """Everything a CorrelationEngine needs to resume after a restart."""

    version: int = STATE_VERSION
    watermarks: dict[str, float] = Field(default_factory=dict)  # tenant ("" for none) -> max event time
    groups: list[GroupState] = Field(default_factory=list)
    late_dropped: int = 0


class CorrelationMatch(BaseModel):
    """A correlation rule firing for one group."""

    model_config = {"frozen": True}
    id: str  # deterministic: correlation id, tenant, group and the contributing events
    correlation_id: str
    title: str
    level: str | None
    type: str
    tenant: str | None
    group: dict[str, Any]
    window_start: float
    window_end: float
    value: float  # the aggregate that met the condition (count, distinct count, sum, ...)
    rules: list[str]  # referenced rule ids seen in the window
    event_refs: list[str]
    first_refs: list[str] = []  # the first contributing refs in event time (a detection names these)
    tags: tuple[str, ...] = ()
    author: str | None = None
    output: bool = True  # False when it only feeds a correlation chained on it (`generate: false`)
