"""The heuristics over files (`socpipe scan`, replays): each event at its own time, rows like detections.

A row is `Detection.model_dump(mode="json")`, the same document the detector worker publishes, with
the event's file and line as its reference. Events without a readable time (see `fields.event_time`)
cannot be placed in a window: they are counted in `untimed`, not fed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from detectors.heuristics.config import HeuristicsConfig, load_config
from detectors.heuristics.engine import HeuristicEngine
from detectors.heuristics.fields import event_time
from detectors.heuristics.finding import findings_to_detections
from schemas.detection import EventRef

SCAN_TENANT = "scan"


class ScanHeuristics:
    def __init__(self, tenant: str | None = None, config: HeuristicsConfig | None = None) -> None:
        self.tenant = tenant or SCAN_TENANT
        self.engine = HeuristicEngine(config or load_config())
        self.untimed = 0

    def feed(self, event: Mapping[str, Any], path: Path, line: int) -> list[dict[str, Any]]:
        """Detection rows of the findings this event completes."""
        ts = event_time(event)
        if ts is None:
            self.untimed += 1
            return []
        findings = self.engine.feed(event, self.tenant, ts)
        if not findings:
            return []
        ref = EventRef(event_id=f"{path}:{line}", path=str(path), line=line)
        return [d.model_dump(mode="json") for d in findings_to_detections(findings, ref)]
