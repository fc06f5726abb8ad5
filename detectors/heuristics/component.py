"""The heuristics as a StatefulComponent of the stateful stage (see detectors/state.py).

Fed with heuristic contributions (detectors/contributions.py): each names the heuristic it is for
and carries the event's fields; the engine feeds that heuristic alone at the event's own time and
its findings become Detections. The per-tenant snapshot and restore are the engine's; tenants its
`max_tenants` cap dropped are reported so that their stored state is dropped too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from detectors.event_context import bounded, from_flat
from detectors.heuristics.config import HeuristicsConfig
from detectors.heuristics.engine import HeuristicEngine
from detectors.heuristics.finding import findings_to_detections
from schemas.contribution import Contribution
from schemas.detection import Detection


class HeuristicsComponent:
    def __init__(self, config: HeuristicsConfig) -> None:
        self.engine = HeuristicEngine(config)

    def apply(self, contribution: Contribution) -> list[Detection]:
        c = contribution
        findings = self.engine.feed(c.event or {}, c.tenant, c.time, only=c.name)
        if not findings:
            return []
        # The firing event, from the fields the contribution carried (no raw line): the heuristic state
        # keeps counters, not events, so the other events behind a finding are not named (see `matched`).
        event = bounded(from_flat(c.event)) if c.event else None
        return findings_to_detections(findings, c.event_ref, event)

    def finish(self, last: Contribution) -> list[Detection]:
        return []  # heuristics fire as events arrive; nothing waits for the end of the input

    def snapshot_tenant(self, tenant: str) -> dict[str, Any] | None:
        return self.engine.snapshot_tenant(tenant)

    def restore_tenant(self, tenant: str, state: Mapping[str, Any]) -> None:
        self.engine.restore_tenant(tenant, state)

    def dropped_tenants(self) -> list[str]:
        dropped = sorted(self.engine.dropped)
        self.engine.dropped.clear()
        return dropped
