"""Heuristic state survives a worker restart: snapshot -> JSON -> a new engine -> restore, and carry on."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from heuristic_harness import engine_for, run
from heuristic_scenarios import ALL, Event, Scenario

from detectors.heuristics import Finding


def _key(findings: list[Finding]) -> list[tuple[object, ...]]:
    return [
        (f.id, f.rule_id, f.key, f.level, f.explanation, json.dumps(f.evidence, sort_keys=True))
        for f in findings
    ]


def _split_points(scenario: Scenario, events: list[Event]) -> list[int]:
    """Half-way through the stream, and half-way through the attack (part of it before the restart)."""
    attack = {id(e[1]) for e in scenario.attack}
    positions = [i for i, e in enumerate(events) if id(e[1]) in attack]
    return [len(events) // 2, positions[len(positions) // 2]]


@pytest.mark.parametrize("make", ALL, ids=[m.__name__ for m in ALL])
def test_restart_midway_fires_exactly_as_without(make: Callable[[], Scenario]) -> None:
    """Half fed, restarted from a JSON snapshot, the rest fed: the same findings with the same ids."""
    scenario = make()
    events = scenario.events()
    whole = engine_for(scenario)
    uninterrupted = run(whole, events)
    final_state = json.loads(json.dumps(whole.snapshot()))
    assert uninterrupted
    for cut in _split_points(scenario, events):
        before = engine_for(scenario)
        first = run(before, events[:cut])
        snapshot = json.loads(json.dumps(before.snapshot()))
        after = engine_for(scenario)
        after.restore(snapshot)
        rest = run(after, events[cut:])
        assert _key(first + rest) == _key(uninterrupted), f"restart after event {cut}"
        assert json.loads(json.dumps(after.snapshot())) == final_state, "state after the restart differs"


def test_restore_refuses_an_unknown_snapshot_version() -> None:
    """A snapshot from another format version is refused rather than half-read."""
    engine = engine_for(ALL[0]())
    with pytest.raises(ValueError, match="version"):
        engine.restore({"version": 99, "tenants": {}})
