"""Anomaly heuristics: the attacks no single-event rule catches, per tenant, beside the Sigma rules.

    from detectors.heuristics import HeuristicEngine, findings_to_detections

    engine = HeuristicEngine.from_file()              # rules/heuristics.yaml, validated whole
    findings = engine.feed(flat_event, tenant, event_time)
    detections = findings_to_detections(findings, event_ref)
    state = engine.snapshot()  # JSON-able; engine.restore(state) in a fresh engine carries on

Importing this package registers every heuristic (one module each) under its configuration name.
"""

from __future__ import annotations

from detectors.heuristics import (  # noqa: F401  (imported to register them)
    beaconing,
    brute_force,
    dns_tunnelling,
    first_time,
    outbound_volume,
    password_spraying,
    rare_lineage,
    web_attack,
    web_scanning,
)
from detectors.heuristics.base import Heuristic, HeuristicConfig
from detectors.heuristics.config import HeuristicConfigError, HeuristicsConfig, load_config, parse_config
from detectors.heuristics.engine import HeuristicEngine
from detectors.heuristics.fields import event_time
from detectors.heuristics.finding import Finding, finding_to_detection, findings_to_detections

__all__ = [
    "Finding",
    "Heuristic",
    "HeuristicConfig",
    "HeuristicConfigError",
    "HeuristicEngine",
    "HeuristicsConfig",
    "event_time",
    "finding_to_detection",
    "findings_to_detections",
    "load_config",
    "parse_config",
]
