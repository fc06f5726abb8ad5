"""Build the detector's engine and stage from the settings: the rules shipped in `rules/sigma`
plus the operator's extra folders, and tenant tuning from `rules/sigma-tenants.yaml` when present."""

from __future__ import annotations

from pathlib import Path

from detectors.sigma.engine import Engine
from detectors.sigma.filters import TenantConfig
from detectors.sigma.loader import load_rules
from detectors.state import StateStore
from detectors.worker import ComponentFactory, DetectorStage
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


def build_detector_stage(settings: Settings, components: ComponentFactory | None = None) -> DetectorStage:
    engine = build_engine(settings)
    state = StateStore(settings, settings.detector_group, components) if components else None
    return DetectorStage(engine, settings.topics, state)
