"""Findings become ordinary Detections (kind=heuristic) with ids that a replay reproduces."""

from __future__ import annotations

from datetime import UTC, datetime

from heuristic_harness import engine_for, run
from heuristic_scenarios import brute_force

from detectors.contributions import ContributionRouter
from detectors.detection import entity_of
from detectors.heuristics import findings_to_detections, load_config
from detectors.heuristics.component import HeuristicsComponent
from detectors.sigma.loader import load_rules
from schemas.detection import Detection, DetectionKind, EventRef
from schemas.event import EcsEvent

REF = EventRef(event_id="e1", topic="events.ecs", partition=0, offset=42)


def test_detection_carries_rule_entity_explanation_and_evidence() -> None:
    """The detection has kind heuristic, the heuristic's id, level and tags, and the finding's evidence."""
    scenario = brute_force()
    finding = run(engine_for(scenario), scenario.events())[0]
    [detection] = findings_to_detections([finding], REF)
    Detection.model_validate(detection.model_dump())  # a valid message, as responders read it
    assert detection.kind is DetectionKind.heuristic
    assert detection.id == finding.id
    assert detection.rule.id == "socpipe-heuristic-brute-force"
    assert detection.rule.level == finding.level
    assert "T1110.001" in detection.rule.attack_techniques
    assert detection.entity == finding.entity and detection.entity.user == "administrator"
    assert detection.explanation == finding.explanation
    assert detection.matched["failures"] == 10 and detection.matched["heuristic"] == "brute_force"
    assert detection.event_ref == REF
    assert detection.event_time == finding.event_time


def test_replaying_the_same_events_gives_the_same_detection_ids() -> None:
    """A replay (fresh engine, same events, another event position) writes the same documents."""
    scenario = brute_force()
    first = findings_to_detections(run(engine_for(scenario), scenario.events()), REF)
    other_ref = EventRef(event_id="e1-replayed", topic="events.ecs", partition=3, offset=7)
    again = findings_to_detections(run(engine_for(scenario), scenario.events()), other_ref)
    assert [d.id for d in first] == [d.id for d in again]
    assert len({d.id for d in first}) == len(first) == 3


def test_component_applies_contributions_at_the_event_time() -> None:
    """The StatefulComponent face: apply() on the contributions a Detector routes returns detections; a
    tenant's state round-trips through snapshot_tenant/restore_tenant, and a tenant it never saw has none."""
    component = HeuristicsComponent(load_config())
    router = ContributionRouter(load_rules([]), load_config())
    detections = []
    for i in range(12):
        event = EcsEvent.model_validate(
            {
                "@timestamp": datetime(2026, 3, 2, 9, 0, i, tzinfo=UTC),
                "tenant": "globex",
                "host": {"name": "dc01"},
                "ingest": {"source": "test", "parser": "windows", "received_at": datetime.now(UTC)},
                "original": {"EventID": 4625, "TargetUserName": "root", "IpAddress": "198.51.100.4"},
            }
        )
        flat = event.flat()
        for c in router.contributions(
            flat, [], tenant=event.tenant, time=event.timestamp, ref=REF, entity=entity_of(flat)
        ):
            detections += component.apply(c)
    assert {d.rule.id for d in detections} == {"socpipe-heuristic-brute-force"}
    assert {d.entity.host for d in detections} == {"dc01"}
    clone = HeuristicsComponent(load_config())
    saved = component.snapshot_tenant("globex")
    assert saved is not None
    clone.restore_tenant("globex", saved)
    assert clone.snapshot_tenant("globex") == saved
    assert component.snapshot_tenant("acme") is None
