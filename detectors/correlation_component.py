"""Sigma correlation rules as a StatefulComponent of the stateful stage (see detectors/state.py).

Fed with correlation contributions (detectors/contributions.py): each carries a base-rule match's
group-by values and aggregated value, at the event's own time. A correlation that fires becomes a
Detection of kind `correlation` whose id is the correlation match's (deterministic) id, unless it only
feeds a correlation chained on it (`generate: false`, Sigma's default). State is saved per tenant;
a tenant with no open window has nothing worth a record (its watermark alone only decides whether a
late match is dropped, and losing it treats one as after a cold start). `follow_rules` moves the open
windows onto a reloaded rule set (detectors/reload.py).

A detection carries the event that completed its window (the contribution's `context`) and names the
first contributing events by id with their count (`Detection.related`): the windows keep references,
not events, since the state is changelogged whole per tenant and batch, and events of up to 16 KiB in
every window entry would multiply its size; an analyst opens the others in the events index by id.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from detectors.sigma.correlation import CorrelationEngine
from detectors.sigma.correlation_state import CorrelationMatch
from detectors.sigma.loader import RuleSet
from schemas.common import Severity
from schemas.contribution import Contribution
from schemas.detection import Detection, DetectionKind, RelatedEvents, RuleRef

END_OF_INPUT = 10 * 365 * 86400.0  # seconds past the last event: every window has closed by then


class CorrelationComponent:
    def __init__(self, ruleset: RuleSet, allowed_lateness_s: float = 60.0) -> None:
        self.lateness = allowed_lateness_s
        self.engine = CorrelationEngine(ruleset, allowed_lateness=allowed_lateness_s)

    def apply(self, contribution: Contribution) -> list[Detection]:
        c = contribution
        fired = self.engine.feed_values(
            c.name, c.rule or "", c.event_ref.event_id, c.group or {}, c.value, c.tenant, c.time
        )
        return [_detection(m, c) for m in fired if m.output]

    def finish(self, last: Contribution) -> list[Detection]:
        """Close every open window of the tenant at the end of a finite input (`socpipe scan`), so that
        "fewer than" conditions are decided on what was read; `last` is the input's latest contribution."""
        fired = self.engine.advance(last.tenant, now=last.time.timestamp() + END_OF_INPUT)
        return [_detection(m, last) for m in fired if m.output]

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


def _detection(match: CorrelationMatch, c: Contribution) -> Detection:
    start = datetime.fromtimestamp(match.window_start, UTC).isoformat()
    end = datetime.fromtimestamp(match.window_end, UTC).isoformat()
    return Detection(
        id=match.id,
        tenant=c.tenant,
        kind=DetectionKind.correlation,
        rule=RuleRef(
            id=match.correlation_id,
            title=match.title,
            level=Severity.parse(match.level),
            author=match.author,
            tags=list(match.tags),
            logsource={"correlation": match.type},
        ),
        event_time=c.time,
        matched={"group": match.group, "value": match.value, "rules": match.rules},
        entity=c.entity,
        event_ref=c.event_ref,
        event=c.context,
        related=RelatedEvents(count=len(match.event_refs), event_ids=list(match.first_refs)),
        explanation=(
            f"{match.type} correlation: value {match.value:g} for group {match.group} "
            f"between {start} and {end} over {len(match.event_refs)} events of rules {', '.join(match.rules)}"
        ),
    )
