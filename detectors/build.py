"""Build the detector's engine and stage from the settings: the rules shipped in `rules/sigma`
plus the operator's extra folders, tenant tuning from `rules/sigma-tenants.yaml` when present,
Sigma correlation rules and the anomaly heuristics of `rules/heuristics.yaml`."""

from __future__ import annotations

from pathlib import Path

from detectors.correlation_component import CorrelationComponent
from detectors.heuristics.component import HeuristicsComponent
from detectors.heuristics.config import HeuristicsConfig
from detectors.heuristics.config import load_config as load_heuristics_config
from detectors.intel.build import build_intel
from detectors.reload import RuleReloader
from detectors.sigma.correlation import CorrelationEngine
from detectors.sigma.engine import Engine
from detectors.sigma.filters import TenantConfig
from detectors.sigma.loader import RuleSet, load_rules
from detectors.sigma.report import RuleLoadError
from detectors.state import StatefulComponent, StateStore
from detectors.worker import DetectorStage
from socpipe.paths import rules_dir
from socpipe.settings import Settings


def rule_paths(settings: Settings) -> list[Path]:
    return [rules_dir() / "sigma", *settings.rules_dirs]


def tuning_path() -> Path:
    return rules_dir() / "sigma-tenants.yaml"


def build_engine(settings: Settings, *, strict: bool | None = None) -> Engine:
    """Load and compile every rule; when strict (default: settings.strict_rules) any rule that fails
    raises RuleLoadError carrying every problem."""
    strict = settings.strict_rules if strict is None else strict
    ruleset = load_rules(rule_paths(settings), strict=strict)
    tuning = tuning_path()
    config = TenantConfig.load(tuning) if tuning.is_file() else None
    engine = Engine(ruleset, config, strict=strict)
    if strict:
        CorrelationEngine(ruleset)  # compiles the correlations: those it cannot run join the report
        if ruleset.report.failed:
            raise RuleLoadError(ruleset.report)
    return engine


class DetectorComponents:
    """Makes the stateful components of one input partition, under the current rule set."""

    def __init__(self, ruleset: RuleSet, heuristics: HeuristicsConfig) -> None:
        self.ruleset = ruleset
        self.heuristics = heuristics

    def __call__(self) -> dict[str, StatefulComponent]:
        return {
            "correlation": CorrelationComponent(self.ruleset),
            "heuristics": HeuristicsComponent(self.heuristics),
        }

    def follow_rules(self, ruleset: RuleSet) -> None:
        """Partitions loaded after a rule reload get the new rules."""
        self.ruleset = ruleset


def build_detector_stage(
    settings: Settings,
    *,
    stateful: bool = True,
    reload_on_sighup: bool = False,
) -> DetectorStage:
    """The stage with its state store and rule reloader; every configuration problem surfaces here,
    before any event.

    The rules are rebuilt on SIGHUP (with `reload_on_sighup`, which only a process's entry point should
    ask for) and, with `settings.rules_reload_poll_s`, when a rule file changed; see detectors/reload.py.
    """
    engine = build_engine(settings)
    store = None
    if stateful:
        components = DetectorComponents(engine.ruleset, load_heuristics_config())
        components()  # build once now: a bad heuristic setting fails at start
        store = StateStore(settings, settings.detector_group, components)
    reloader = RuleReloader(
        lambda: build_engine(settings, strict=True),
        lambda: [*rule_paths(settings), tuning_path()],
        store,
        poll_s=settings.rules_reload_poll_s,
    )
    if reload_on_sighup:
        reloader.install_sighup()
    return DetectorStage(engine, settings.topics, store, reloader, build_intel(settings))
