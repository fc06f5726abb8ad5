"""Correlation rules compiled from pySigma: what is grouped, aggregated and compared."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import TYPE_CHECKING, Any

import orjson

from detectors.sigma.correlation_state import WindowEntry

if TYPE_CHECKING:  # pySigma is imported only where correlations exist (a warm start may have none)
    from sigma.correlations import SigmaCorrelationRule
    from sigma.rule import SigmaRule

OPS = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "eq": lambda a, b: a == b,
    "neq": lambda a, b: a != b,
}
GROWTH = {"gt", "gte"}  # conditions checked as a window grows; the others when it closes


@dataclass
class CorrelationSpec:
    id: str
    title: str
    level: str | None
    tags: tuple[str, ...]
    author: str | None
    type: str
    span: float
    group_by: list[str]
    aliases: dict[str, dict[str, str]]  # alias -> rule key -> field
    op: str
    count: float
    field: str | None
    percentile: int | None
    refs: list[str]  # referenced rule keys, in the rule's order
    extended: Any = None  # parsed extended temporal condition
    ref_names: dict[str, str] = dc_field(default_factory=dict)  # reference as written -> rule key
    chained: tuple[str, ...] = ()  # the referenced keys that are correlations (fed by their matches)
    generate: bool = False  # do the referenced rules and correlations alert on their own too?
    output: bool = True  # False when a correlation with `generate: false` references this one


def rule_key(rule: SigmaRule | SigmaCorrelationRule) -> str:
    """The key a rule or a correlation is referenced by in windows: its id, else its name or title."""
    return str(rule.id) if rule.id else str(rule.name or rule.title)


def compile_correlation(corr: SigmaCorrelationRule) -> CorrelationSpec:
    from sigma.correlations import SigmaCorrelationRule, SigmaExtendedCorrelationCondition
    from sigma.rule import SigmaRule

    refs: list[str] = []
    ref_keys: dict[str, str] = {}
    # `referenced_rules` also holds the rules an extended condition names without a `rules:` list.
    for ref in corr.referenced_rules or corr.rules or []:
        target = getattr(ref, "rule", None)
        if not isinstance(target, SigmaRule | SigmaCorrelationRule):
            raise ValueError(f"rule reference {ref.reference!r} is not resolved")
        ref_keys[ref.reference] = rule_key(target)
        refs.append(rule_key(target))
    aliases = {
        a.alias: {ref_keys.get(r.reference, r.reference): f for r, f in a.mapping.items()}
        for a in corr.aliases
    }
    cond = corr.condition
    extended = None
    if isinstance(cond, SigmaExtendedCorrelationCondition):
        extended, op, count, field, pct = cond.parsed, "gte", 1.0, None, None
    else:
        op, count, pct = cond.op.name.lower(), float(cond.count), cond.percentile
        field = cond.fieldref if isinstance(cond.fieldref, str) or cond.fieldref is None else None
        if isinstance(cond.fieldref, list):
            raise ValueError("a list of condition fields is not supported")
    ctype = corr.type.name.lower()
    if ctype == "temporal_ordered" and extended is not None:
        raise ValueError("extended conditions on temporal_ordered are not supported")
    return CorrelationSpec(
        id=rule_key(corr),
        title=corr.title,
        level=getattr(corr.level, "name", None) and corr.level.name.lower(),  # type: ignore[union-attr]
        tags=tuple(str(t) for t in corr.tags),
        author=corr.author,
        type=ctype,
        span=float(corr.timespan.seconds),
        group_by=list(corr.group_by or []),
        aliases=aliases,
        op=op,
        count=count,
        field=field,
        percentile=pct,
        refs=list(dict.fromkeys(refs)),
        extended=extended,
        ref_names=ref_keys,
        chained=tuple(
            dict.fromkeys(
                rule_key(r.rule)
                for r in corr.referenced_rules or corr.rules or []
                if isinstance(r.rule, SigmaCorrelationRule)
            )
        ),
        generate=bool(corr.generate),
    )


def _eval_extended(node: Any, present: set[str], keys: dict[str, str]) -> bool:
    from sigma.correlations import (
        CorrelationConditionAND,
        CorrelationConditionNOT,
        CorrelationConditionOR,
        SigmaRuleReference,
    )

    if isinstance(node, SigmaRuleReference):
        return keys.get(node.reference, node.reference) in present
    if isinstance(node, CorrelationConditionAND):
        return all(_eval_extended(a, present, keys) for a in node.args)
    if isinstance(node, CorrelationConditionOR):
        return any(_eval_extended(a, present, keys) for a in node.args)
    if isinstance(node, CorrelationConditionNOT):
        return not _eval_extended(node.args[0], present, keys)
    raise ValueError(f"unexpected element {node!r} in extended correlation condition")


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def aggregate(corr: CorrelationSpec, window: list[WindowEntry]) -> float | None:  # noqa: PLR0911 - one per type
    """The value the correlation condition is tested on, for one window."""
    if corr.type == "event_count":
        return float(len(window))
    if corr.type == "value_count":
        return float(len({orjson.dumps(e.value, default=str) for e in window if e.value is not None}))
    if corr.type in ("temporal", "temporal_ordered"):
        present = {e.rule for e in window}
        if corr.extended is not None:
            return 1.0 if _eval_extended(corr.extended, present, corr.ref_names) else 0.0
        if corr.type == "temporal":
            return float(len(present & set(corr.refs)))
        step = 0
        for e in window:  # greedy: the referenced rules in their listed order
            if step < len(corr.refs) and e.rule == corr.refs[step]:
                step += 1
        return float(step)
    nums = [n for e in window if (n := _number(e.value)) is not None]
    if not nums:
        return None
    if corr.type == "value_sum":
        return sum(nums)
    if corr.type == "value_avg":
        return statistics.fmean(nums)
    if corr.type == "value_median":
        return float(statistics.median(nums))
    if corr.type == "value_percentile":
        nums.sort()
        rank = max(0, min(len(nums) - 1, round((corr.percentile or 50) / 100 * len(nums) + 0.5) - 1))
        return nums[rank]
    raise ValueError(f"correlation type {corr.type} is not supported")
