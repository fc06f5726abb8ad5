"""pySigma's parsed conditions lowered to the engine's intermediate form (see ir.py).

This is the only step of compiling that needs pySigma's objects: it resolves field names through the
pipeline, merges OR-joined values of one field, flattens expansions and turns every Sigma value into
plain data. What it returns is what the rule cache stores; building matchers from it (conditions.py)
needs no pySigma at all, which is what makes a warm start fast.
"""

from __future__ import annotations

from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.rule import SigmaLogSource
from sigma.types import (
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SigmaTimestampPart,
    SpecialChars,
)

from detectors.sigma.ir import ANY, ONE, IrNode, Value
from detectors.sigma.modifiers import UnsupportedValueError
from detectors.sigma.pipeline import Pipeline

_SPECIAL = (SigmaNull, SigmaExists, SigmaFieldReference)


def lower_condition(cond: Any, pipeline: Pipeline, logsource: SigmaLogSource | None) -> IrNode:
    """One parsed condition tree (ConditionAND / OR / NOT / field / keyword) as IR."""
    return _Lowering(pipeline, logsource).lower(cond)


class _Lowering:
    def __init__(self, pipeline: Pipeline, logsource: SigmaLogSource | None) -> None:
        self.pipeline = pipeline
        self.logsource = logsource

    def names(self, field: str) -> tuple[str, ...]:
        return self.pipeline.field_names(field, self.logsource)

    def lower(self, cond: Any) -> IrNode:
        if isinstance(cond, ConditionAND | ConditionOR):
            merged = self._merge_fields(cond) if isinstance(cond, ConditionOR) else None
            kids = tuple(merged if merged is not None else (self.lower(c) for c in cond.args))
            if len(kids) == 1:
                return kids[0]
            return ("and" if isinstance(cond, ConditionAND) else "or", kids)
        if isinstance(cond, ConditionNOT):
            return ("not", self.lower(cond.args[0]))
        if isinstance(cond, ConditionFieldEqualsValueExpression):
            return self._field(cond.field, [cond.value])
        if isinstance(cond, ConditionValueExpression):
            return ("keyword", tuple(_contains(v) for v in _values([cond.value])))
        raise UnsupportedValueError(f"condition element {type(cond).__name__} is not supported")

    def _merge_fields(self, cond: ConditionOR) -> list[IrNode] | None:
        """OR children on the same field with plain values become one leaf (one lookup, one test)."""
        groups: dict[str | None, list[Any]] = {}
        others: list[Any] = []
        for c in cond.args:
            if isinstance(c, ConditionFieldEqualsValueExpression) and not isinstance(c.value, _SPECIAL):
                groups.setdefault(c.field, []).append(c.value)
            elif isinstance(c, ConditionValueExpression):
                groups.setdefault(None, []).append(c.value)
            else:
                others.append(c)
        if all(len(v) == 1 for v in groups.values()):
            return None
        nodes: list[IrNode] = [
            self._field(f, vals) if f is not None else ("keyword", tuple(_contains(v) for v in _values(vals)))
            for f, vals in groups.items()
        ]
        return nodes + [self.lower(c) for c in others]

    def _field(self, field: str, values: list[Any]) -> IrNode:
        names = self.names(field)
        value = values[0]
        if len(values) == 1 and isinstance(value, SigmaNull):
            return ("null", field, names)
        if len(values) == 1 and isinstance(value, SigmaExists):
            return ("exists", field, names, bool(value.exists))
        if len(values) == 1 and isinstance(value, SigmaFieldReference):
            return ("ref", field, names, self.names(value.field), value.starts_with, value.ends_with)
        return ("field", field, names, _values(values))


def _values(values: list[Any]) -> tuple[Value, ...]:
    flat: list[Any] = []
    for v in values:
        flat.extend(v.values if isinstance(v, SigmaExpansion) else [v])
    return tuple(_value(v) for v in flat)


def _value(v: Any) -> Value:  # noqa: PLR0911, PLR0912 - one branch per Sigma value type
    if isinstance(v, SigmaString):
        parts: list[Any] = []
        for p in v.s:
            if p is SpecialChars.WILDCARD_MULTI:
                parts.append(ANY)
            elif p is SpecialChars.WILDCARD_SINGLE:
                parts.append(ONE)
            elif isinstance(p, Placeholder):
                parts.append(("%", p.name))
            else:
                parts.append(str(p))
        return ("s", isinstance(v, SigmaCasedString), tuple(parts))
    if isinstance(v, SigmaRegularExpression):
        flags = 0
        for f in v.flags:
            flags |= SigmaRegularExpression.sigma_to_python_flags[f]
        return ("re", str(v.regexp), int(flags))
    if isinstance(v, SigmaTimestampPart):
        return ("ts", v.timestamp_part.name, v.number)
    if isinstance(v, SigmaNumber):
        return ("n", v.number)
    if isinstance(v, SigmaCompareExpression):
        return ("cmp", v.op.name, v.number.number)
    if isinstance(v, SigmaCIDRExpression):
        return ("cidr", str(v.network))
    if isinstance(v, SigmaBool):
        return ("b", v.boolean)
    raise UnsupportedValueError(f"value type {type(v).__name__} ({v!s}) is not supported")


def _contains(v: Value) -> Value:
    """A keyword value: a string is searched anywhere in the event value (`*x*`)."""
    if v[0] != "s":
        return v
    parts = v[2]
    if not parts or parts[0] != ANY:
        parts = (ANY, *parts)
    if parts[-1] != ANY:
        parts = (*parts, ANY)
    return ("s", v[1], parts)
