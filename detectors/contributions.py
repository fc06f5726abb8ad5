"""What one event gives the stateful components: the detector's half of the repartition.

For every Sigma match of a rule that correlations reference, one contribution per correlation, keyed by
the correlation and its group-by values (so that one group's window lives on one partition), carrying
only those values and the aggregated field's value. Correlations chained together (one feeding another)
are keyed by their chain instead: the outer one's windows are fed by the inner one's matches, so the
whole chain of a tenant must live on one partition.

For every heuristic of the event's tenant that reads the event, one contribution keyed by what that
heuristic's state is kept under (`Heuristic.partition_key`: the host, the source, or the tenant as a
whole for tenant-wide baselines), carrying the fields of the event that heuristics read.

The keys decide partitions, so they decide correctness: every contribution that can touch one piece
of state has the same key, and the stateful stage computes what one process would.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from detectors.sigma.correlation import CorrelationEngine
from detectors.sigma.loader import RuleSet
from detectors.sigma.model import Match
from schemas.contribution import ComponentKind, Contribution, Origin
from schemas.detection import Entity, EventRef

if TYPE_CHECKING:  # imported where used: without heuristics (`scan --no-heuristics`) they are not loaded
    from detectors.heuristics.config import HeuristicsConfig
    from detectors.heuristics.engine import HeuristicEngine

# The raw line travels no further: no heuristic reads it, and it is most of an event's bytes.
_NOT_FOR_HEURISTICS = frozenset({"event.original"})


class ContributionRouter:
    """Turns one event and its Sigma matches into the contributions it owes the stateful components."""

    def __init__(self, ruleset: RuleSet, heuristics: HeuristicsConfig | None) -> None:
        self.correlations = CorrelationEngine(ruleset)  # used for its routing and values, never fed
        self.families = self.correlations.families()
        self.heuristics: HeuristicEngine | None = None
        if heuristics is not None:
            from detectors.heuristics.engine import HeuristicEngine

            self.heuristics = HeuristicEngine(heuristics)

    def follow_rules(self, ruleset: RuleSet) -> None:
        self.correlations = CorrelationEngine(ruleset)
        self.families = self.correlations.families()

    def contributions(
        self,
        flat: Mapping[str, Any],
        matches: list[Match],
        *,
        tenant: str,
        time: datetime,
        ref: EventRef,
        entity: Entity,
        origin: Origin | None = None,
    ) -> list[Contribution]:
        out: list[Contribution] = []

        def add(**fields: Any) -> None:
            position = None
            if origin is not None:
                position = origin.model_copy(update={"seq": len(out)})
            out.append(
                Contribution.model_construct(
                    tenant=tenant, time=time, event_ref=ref, entity=entity, origin=position, **fields
                )
            )

        for match in matches:
            for corr, rule_key, group, value in self.correlations.contributions(match, flat):
                chain = self.families.get(corr.id)
                key = f"chain:{chain}" if chain else f"{corr.id}|{_json(group)}"
                add(
                    component=ComponentKind.correlation,
                    name=corr.id,
                    key=key,
                    rule=rule_key,
                    group=group,
                    value=value,
                    event=None,
                )
        if self.heuristics is not None:
            projected: dict[str, Any] | None = None
            for name, heuristic in self.heuristics.route(flat, tenant):
                part = heuristic.partition_key(flat)
                if part is None:
                    continue
                if projected is None:
                    projected = {
                        k: v for k, v in flat.items() if v is not None and k not in _NOT_FOR_HEURISTICS
                    }
                add(
                    component=ComponentKind.heuristic,
                    name=name,
                    key=f"{name}|{part}",
                    rule=None,
                    group=None,
                    value=None,
                    event=projected,
                )
        return out


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str, option=orjson.OPT_SORT_KEYS).decode()
