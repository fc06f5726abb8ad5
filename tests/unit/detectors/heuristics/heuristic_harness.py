"""Running a scenario through a HeuristicEngine set up like production: shipped defaults + its own."""

from __future__ import annotations

import copy
from typing import Any

import yaml
from heuristic_scenarios import TENANT, Event, Scenario

from detectors.heuristics import Finding, HeuristicEngine, parse_config
from detectors.heuristics.config import default_path


def config_data(scenario: Scenario) -> dict[str, Any]:
    """rules/heuristics.yaml with the scenario's settings merged over its defaults."""
    data = copy.deepcopy(yaml.safe_load(default_path().read_text(encoding="utf-8")))
    for name, overrides in scenario.config.items():
        data["defaults"].setdefault(name, {}).update(overrides)
    return data


def engine_for(scenario: Scenario) -> HeuristicEngine:
    return HeuristicEngine(parse_config(config_data(scenario), source="scenario " + scenario.name))


def run(engine: HeuristicEngine, events: list[Event]) -> list[Finding]:
    found: list[Finding] = []
    for ts, event in events:
        found += engine.feed(event, TENANT, ts)
    return found
