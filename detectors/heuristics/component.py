"""The heuristics as a StatefulComponent of the detector stage (see detectors/state.py).

One component per input partition: `detect` feeds the event to the engine at the event's own time
and turns its findings into Detections; the per-tenant snapshot and restore are the engine's, and
tenants its `max_tenants` cap dropped are reported so that their stored state is dropped too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from detectors.heuristics.config import HeuristicsConfig
from detectors.heuristics.engine import HeuristicEngine
from detectors.heuristics.finding import findings_to_detections
from schemas.detection import Detection, EventRef
from schemas.event import EcsEvent


class HeuristicsComponent:
    def __init__(self, config: HeuristicsConfig) -> None:
        self.engine = HeuristicEngine(config)

    def detect(
        self, event: EcsEvent, flat: Mapping[str, Any], matches: list[Any], ref: EventRef
    ) -> list[Detection]:
        return findings_to_detections(self.engine.feed(flat, event.tenant, event.timestamp), ref)

    def snapshot_tenant(self, tenant: str) -> dict[str, Any] | None:
        return self.engine.snapshot_tenant(tenant)

    def restore_tenant(self, tenant: str, state: Mapping[str, Any]) -> None:
        self.engine.restore_tenant(tenant, state)

    def dropped_tenants(self) -> list[str]:
        dropped = sorted(self.engine.dropped)
        self.engine.dropped.clear()
        return dropped
