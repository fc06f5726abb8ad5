"""Build the detector's engine and stages from the settings: the rules shipped in `rules/sigma`
plus the operator's extra folders, tenant tuning from `rules/sigma-tenants.yaml` when present,
Sigma correlation rules and the anomaly heuristics of `rules/heuristics.yaml`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from detectors.correlate import CorrelateStage
from detectors.detector import ComponentFactory, Detector
from detectors.heuristics.config import load_config as load_heuristics_config
from detectors.intel.build import build_intel
from detectors.reload import RuleReloader
from detectors.sigma.correlation import CorrelationEngine
from detectors.sigma.engine import Engine
from detectors.sigma.filters import TenantConfig
from detectors.sigma.loader import load_rules
from detectors.sigma.report import RuleLoadError
from detectors.state import StateStore
from detectors.worker import DetectorStage
from socpipe.heap import settle
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


def _reloader(
    settings: Settings,
    store: StateStore | None,
    reload_on_sighup: bool,
    also: tuple[Callable[[], None], ...] = (),
) -> RuleReloader:
    """The rules are rebuilt on SIGHUP (with `reload_on_sighup`, which only a process's entry point
    should ask for; `also` is asked too) and, with `settings.rules_reload_poll_s`, when a rule file
    changed."""
    reloader = RuleReloader(
        lambda: build_engine(settings, strict=True),
        lambda: [*rule_paths(settings), tuning_path()],
        store,
        poll_s=settings.rules_reload_poll_s,
    )
    if reload_on_sighup:
        reloader.install_sighup(*also)
    return reloader


def build_detector_stage(settings: Settings, *, reload_on_sighup: bool = False) -> DetectorStage:
    """The stateless stage; every configuration problem (rules, heuristics, intel feeds) surfaces here,
    before an event."""
    intel = build_intel(settings)
    detector = Detector(build_engine(settings), load_heuristics_config(), intel)
    also = (intel.request,) if intel is not None else ()
    reloader = _reloader(settings, None, reload_on_sighup, also)
    settle()  # the rules loaded are long-lived: later collections skip them (socpipe/heap.py)
    return DetectorStage(detector, settings.topics, reloader, intel)


def build_correlate_stage(settings: Settings, *, reload_on_sighup: bool = False) -> CorrelateStage:
    """The stateful stage with its state store; its components are built once now, so a bad heuristic
    setting fails at start."""
    factory = ComponentFactory(build_engine(settings).ruleset, load_heuristics_config())
    factory()
    store = StateStore(settings, settings.correlate_group, factory)
    stage = CorrelateStage(store, settings.topics, _reloader(settings, store, reload_on_sighup))
    settle()  # as for the detector stage
    return stage
