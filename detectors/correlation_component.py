"""Sigma correlation rules as a StatefulComponent of the detector stage (see detectors/state.py).

Fed with the Sigma matches of each event at the event's own time; a correlation that fires becomes
a Detection of kind `correlation` whose id is the correlation match's (deterministic) id, unless it
only feeds a correlation chained on it (`generate: false`, Sigma's default). State is
saved per tenant; a tenant with no open window has nothing worth a record (its watermark alone
only decides whether a late match is dropped, and losing it treats one as after a cold start).
`follow_rules` moves the open windows onto a reloaded rule set (detectors/reload.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from detectors.detection import entity_of
from detectors.sigma.correlation import CorrelationEngine
from detectors.sigma.correlation_state import CorrelationMatch
from detectors.sigma.loader import RuleSet
from schemas.common import Severity
from schemas.detection import Detection, DetectionKind, EventRef, RuleRef
from schemas.event import EcsEvent


class CorrelationComponent:
    def __init__(self, ruleset: RuleSet, allowed_lateness_s: float = 60.0) -> None:
        self.lateness = allowed_lateness_s
        self.engine = CorrelationEngine(ruleset, allowed_lateness=allowed_lateness_s)

    def detect(
        self, event: EcsEvent, flat: Mapping[str, Any], matches: list[Any], ref: EventRef
    ) -> list[Detection]:
        fired: list[CorrelationMatch] = []
        for match in matches:
            fired += self.engine.feed(match, flat, event.tenant, event.timestamp)
        return [_detection(c, event, flat, ref) for c in fired if c.output]

    def snapshot_tenant(self, tenant: str) -> dict[str, Any] | None:
        state = self.engine.snapshot_tenant(tenant)
        return state if state is not None and state["groups"] else None

    def restore_tenant(self, tenant: str, state: Mapping[str, Any]) -> None:
        self.engine.restore_tenant(tenant, state)

    def dropped_tenants(self) -> list[str]:
        return []  # no cap of its own: windows leave only by closing or firing

    def follow_rules(self, ruleset: RuleSet) -> None:
        """Swap in a new rule set; open windows of correlations that still exist (same group-by) carry on."""
        engine = CorrelationEngine(ruleset, allowed_lateness=self.lateness)
        for tenant in self.engine.tenants():
            state = self.engine.snapshot_tenant(tenant)
            if state is not None:
                engine.restore_tenant(tenant, state)
        self.engine = engine


def _detection(match: CorrelationMatch, event: EcsEvent, flat: Mapping[str, Any], ref: EventRef) -> Detection:
    start = datetime.fromtimestamp(match.window_start, UTC).isoformat()
    end = datetime.fromtimestamp(match.window_end, UTC).isoformat()
    return Detection(
        id=match.id,
        tenant=event.tenant,
        kind=DetectionKind.correlation,
        rule=RuleRef(
            id=match.correlation_id,
            title=match.title,
            level=Severity.parse(match.level),
            author=match.author,
            tags=list(match.tags),
            logsource={"correlation": match.type},
        ),
        event_time=event.timestamp,
        matched={"group": match.group, "value": match.value, "rules": match.rules},
        entity=entity_of(dict(flat)),
        event_ref=ref,
        explanation=(
            f"{match.type} correlation: value {match.value:g} for group {match.group} "
            f"between {start} and {end} over {len(match.event_refs)} events of rules {', '.join(match.rules)}"
        ),
    )
