"""Build the detector's engine and stage from the settings: the rules shipped in `rules/sigma`
plus the operator's extra folders, tenant tuning from `rules/sigma-tenants.yaml` when present,
Sigma correlation rules and the anomaly heuristics of `rules/heuristics.yaml`."""

from __future__ import annotations

from pathlib import Path

from detectors.correlation_component import CorrelationComponent
from detectors.heuristics.component import HeuristicsComponent
from detectors.heuristics.config import load_config as load_heuristics_config
from detectors.sigma.engine import Engine
from detectors.sigma.filters import TenantConfig
from detectors.sigma.loader import load_rules
from detectors.state import StatefulComponent, StateStore
from detectors.worker import DetectorStage
from socpipe.paths import rules_dir
from socpipe.settings import Settings


def rule_paths(settings: Settings) -> list[Path]:
    return [rules_dir() / "sigma", *settings.rules_dirs]


def build_engine(settings: Settings) -> Engine:
    """Load and compile every rule; with strict_rules any rule that fails stops the start."""
    ruleset = load_rules(rule_paths(settings), strict=settings.strict_rules)
    tuning = rules_dir() / "sigma-tenants.yaml"
    config = TenantConfig.load(tuning) if tuning.is_file() else None
    return Engine(ruleset, config, strict=settings.strict_rules)


def build_detector_stage(settings: Settings, *, stateful: bool = True) -> DetectorStage:
    """The stage with its state store; every configuration problem surfaces here, before any event."""
    engine = build_engine(settings)
    if not stateful:
        return DetectorStage(engine, settings.topics)
    heuristics = load_heuristics_config()

    def components() -> dict[str, StatefulComponent]:
        return {"correlation": CorrelationComponent(engine.ruleset), "heuristics": HeuristicsComponent(heuristics)}

    components()  # build once now: a bad heuristic setting fails at start
    return DetectorStage(engine, settings.topics, StateStore(settings, settings.detector_group, components))
