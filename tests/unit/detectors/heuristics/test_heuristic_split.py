"""Heuristics split as production runs them: stateless detectors key each event's contribution, the
stateful stage holds the state per partition of the repartition topic. Over every scenario, any number
of partitions computes exactly the detections that one process computes."""

from __future__ import annotations

import pytest
from heuristic_harness import config_data
from heuristic_scenarios import ALL, TENANT, Scenario
from kafka.partitioner.default import murmur2

from detectors.detector import ComponentFactory, Detector, OfflineDetector, apply
from detectors.heuristics import parse_config
from detectors.sigma.engine import Engine
from detectors.sigma.loader import load_rules
from schemas.detection import Detection, EventRef


def _one_process(scenario: Scenario) -> list[Detection]:
    config = parse_config(config_data(scenario))
    detector = OfflineDetector.build(Engine(load_rules([])), config)
    found: list[Detection] = []
    for i, (ts, event) in enumerate(scenario.events()):
        found += detector.detect(event, tenant=TENANT, time=ts, ref=EventRef(event_id=f"e{i}"))
    return found


def _split(scenario: Scenario, partitions: int) -> tuple[list[Detection], set[int]]:
    """Detections, and the partitions that held any state."""
    config = parse_config(config_data(scenario))
    engine = Engine(load_rules([]))
    detector = Detector(engine, config)
    states = [ComponentFactory(engine.ruleset, config)() for _ in range(partitions)]
    found: list[Detection] = []
    used: set[int] = set()
    for i, (ts, event) in enumerate(scenario.events()):
        _, contributions = detector.detect(event, tenant=TENANT, time=ts, ref=EventRef(event_id=f"e{i}"))
        for c in contributions:
            p = (murmur2(c.partition_key()) & 0x7FFFFFFF) % partitions
            used.add(p)
            found += apply(states[p], c)
    return found, used


@pytest.mark.parametrize("make", ALL, ids=[m.__name__ for m in ALL])
def test_any_partitioning_finds_what_one_process_finds(make: type) -> None:
    """Same detection ids, explanations and entities on 1 and 6 partitions as in one process; the
    host- and source-keyed heuristics spread their state over several partitions."""
    scenario = make()
    expected = sorted((d.id, d.explanation, d.entity) for d in _one_process(scenario))
    assert expected, "the attack is found in one process"
    for partitions in (1, 6):
        found, used = _split(scenario, partitions)
        assert sorted((d.id, d.explanation, d.entity) for d in found) == expected, partitions
        if partitions == 6 and scenario.heuristic in {
            "beaconing",
            "dns_tunnelling",
            "outbound_volume",
            "web_scanning",
        }:
            assert len(used) > 1, "per-host state spreads"
