"""The Sigma detection engine: pySigma-parsed rules compiled into fast matchers.

Public API (pure, no Kafka):

    ruleset = load_rules([rules_dir() / "sigma"], strict=False)   # RuleSet, ruleset.report: LoadReport
    engine = Engine(ruleset, tenant_config=TenantConfig.load(path))
    matches = engine.match(flat_event, tenant="acme", event_ref="events.ecs/3/1207")  # list[Match]
    correlator = CorrelationEngine(ruleset)
    alerts = correlator.feed(match, event, tenant, timestamp)   # list[CorrelationMatch]
    state = correlator.snapshot(); correlator.restore(state)
"""

from detectors.sigma.correlation import CorrelationEngine
from detectors.sigma.correlation_state import CorrelationMatch, CorrelationState, GroupState, WindowEntry
from detectors.sigma.engine import Engine
from detectors.sigma.filters import TenantConfig, TenantSettings
from detectors.sigma.loader import RuleSet, load_rules
from detectors.sigma.model import Match, RuleInfo
from detectors.sigma.pipeline import Pipeline
from detectors.sigma.report import LoadReport, RuleLoadError, RuleProblem

__all__ = [
    "CorrelationEngine",
    "CorrelationMatch",
    "CorrelationState",
    "Engine",
    "GroupState",
    "LoadReport",
    "Match",
    "Pipeline",
    "RuleInfo",
    "RuleLoadError",
    "RuleProblem",
    "RuleSet",
    "TenantConfig",
    "TenantSettings",
    "WindowEntry",
    "load_rules",
]
