"""Heuristic detections carry the event that fired them (detectors/event_context.py)."""

from __future__ import annotations

import orjson
from heuristic_harness import config_data
from heuristic_scenarios import ALL, TENANT

from detectors.detector import ComponentFactory, Detector, apply
from detectors.event_context import MAX_EVENT_BYTES
from detectors.heuristics import parse_config
from detectors.sigma.engine import Engine
from detectors.sigma.loader import load_rules
from schemas.detection import Detection, EventRef

# Scenarios of 5,000+ events: the path under test is the component's, the same for every heuristic.
_LONG = {"beaconing", "dns_tunnelling", "dns_volume", "outbound_volume"}


def test_heuristic_detections_carry_the_event_that_fired_them() -> None:
    """Every heuristic scenario: each detection carries its firing event, nested from the contribution's
    fields (host and the source's own names), and without the raw line."""
    for make in [m for m in ALL if m.__name__ not in _LONG]:
        scenario = make()
        config = parse_config(config_data(scenario))
        engine = Engine(load_rules([]))
        detector = Detector(engine, config)
        state = ComponentFactory(engine.ruleset, config)()
        found: list[Detection] = []
        for i, (ts, event) in enumerate(scenario.events()):
            _, contributions = detector.detect(event, tenant=TENANT, time=ts, ref=EventRef(event_id=f"e{i}"))
            for c in contributions:
                found += apply(state, c)
        assert found, make.__name__
        for d in found:
            assert d.event, (make.__name__, d.rule.id)
            assert len(orjson.dumps(d.event)) <= MAX_EVENT_BYTES
            assert "original" not in d.event.get("event", {})
