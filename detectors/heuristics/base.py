"""The face every heuristic shows: a config model, `feed`, `snapshot`, `restore`.

One instance serves one tenant: the engine builds it from that tenant's merged configuration and
keeps its state apart from every other tenant's. State lives in LruMaps keyed by entity, so memory
is bounded by `max_keys` per heuristic per tenant (the least recently touched key goes first).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from detectors.heuristics.allow import AllowConfig, AllowList
from detectors.heuristics.finding import Finding
from detectors.windows import Duration
from schemas.common import Severity
from schemas.detection import Entity

_LEVELS = list(Severity)


def escalate(level: Severity, steps: int = 1) -> Severity:
    """`steps` levels up, capped at critical."""
    return _LEVELS[min(_LEVELS.index(level) + steps, len(_LEVELS) - 1)]


def to_datetime(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


NEVER = float("-inf")


def dump_time(ts: float) -> float | None:
    """A time for a snapshot: None for NEVER (JSON has no infinity)."""
    return None if ts == NEVER else ts


def load_time(value: float | None) -> float:
    return NEVER if value is None else float(value)


class HeuristicConfig(BaseModel):
    """Settings every heuristic has; each heuristic adds its own."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    level: Severity | None = Field(
        default=None, description="Base level of its findings; None: the heuristic's own."
    )
    lateness: Duration = Field(
        default=600.0, ge=0, description="How far behind its newest event an event may arrive."
    )
    max_keys: int = Field(
        default=5000, ge=1, le=1_000_000, description="Entities kept per tenant, LRU beyond."
    )
    fp_budget: float = Field(
        default=5.0,
        ge=0,
        description="False positives per 100,000 events the tenant accepts; checked on the benchmark corpus.",
    )
    allow: AllowConfig = Field(default_factory=AllowConfig)


C = TypeVar("C", bound=HeuristicConfig)


class Heuristic(ABC, Generic[C]):
    """A detector of one pattern no single-event rule catches."""

    name: ClassVar[str]
    config_model: ClassVar[type[HeuristicConfig]]
    rule_id: ClassVar[str]
    title: ClassVar[str]
    default_level: ClassVar[Severity] = Severity.medium
    tags: ClassVar[tuple[str, ...]] = ()
    event_ids: ClassVar[frozenset[int] | None] = None
    """The Windows event ids it reads: an event with another id never reaches `feed` (None: every
    event). Events without an id (ECS, Zeek, ...) always reach it."""

    def __init__(self, config: C) -> None:
        self.config = config
        self.allow = AllowList(config.allow)
        self.level = config.level or self.default_level
        self.late = 0  # events refused because they came later than the lateness bound

    @abstractmethod
    def feed(self, event: Mapping[str, Any], tenant: str, timestamp: datetime) -> list[Finding]:
        """Update the state with one event; the findings it completes (usually none)."""

    def partition_key(self, event: Mapping[str, Any]) -> str | None:
        """What the state this event touches is kept under, for the stateless detector to key the
        event's contribution by (detectors/contributions.py): every event that can touch the same state
        must give the same key. None when `feed` would ignore the event (no state change, no finding),
        so that it is not sent at all. "" (this default) keeps the tenant's state whole, on one partition:
        right for baselines learned over all of a tenant's hosts."""
        return ""

    @abstractmethod
    def snapshot(self) -> dict[str, Any]:
        """The state as JSON-able data."""

    @abstractmethod
    def restore(self, state: Mapping[str, Any]) -> None:
        """Replace the state with a snapshot's (taken by any instance of this heuristic)."""

    def keys(self) -> int:
        """How many entities the state holds (for the state-size metric)."""
        return 0

    def finding(
        self,
        *,
        tenant: str,
        key: str,
        entity: Entity,
        window_start: float,
        event_time: float,
        explanation: str,
        evidence: dict[str, Any],
        level: Severity | None = None,
        rule_id: str | None = None,
        title: str | None = None,
        tags: tuple[str, ...] | None = None,
    ) -> Finding:
        return Finding(
            heuristic=self.name,
            rule_id=rule_id or self.rule_id,
            title=title or self.title,
            level=level or self.level,
            tags=self.tags if tags is None else tags,
            tenant=tenant,
            key=key,
            entity=entity,
            window_start=to_datetime(window_start),
            event_time=to_datetime(event_time),
            explanation=explanation,
            evidence=evidence,
        )


def duration_text(seconds: float) -> str:
    """5m, 1h30m, 45s: how an explanation writes a window."""
    seconds = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


def sample(values: list[str], limit: int = 5) -> str:
    """'a, b, c and 4 more' for an explanation."""
    shown = ", ".join(values[:limit])
    return f"{shown} and {len(values) - limit} more" if len(values) > limit else shown
