"""Compile pySigma's parsed condition tree into nested closures.

pySigma already resolved every condition form (`1 of sel*`, `all of them`, `not`, parentheses)
into a tree of AND / OR / NOT over field and keyword expressions; here each node becomes a closure
`fn(event) -> bool`, with three extras:

- OR-joined values of one field are merged into one leaf (one lookup, one grouped predicate);
- `explain` walks the tree again for a matched event and collects the fields that made it match;
- `requirements` gives the literals a matching event must contain, for the prefilter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
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
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaString,
    SpecialChars,
)

from detectors.sigma.modifiers import UnsupportedValueError, scalar_preds
from detectors.sigma.pipeline import Pipeline
from detectors.sigma.strings import Pred, as_text

MISSING: Any = object()
Fn = Callable[[Mapping[str, Any]], bool]
# A prefilter clause: alternatives (field names tuple, lower-cased needle); one must be present.
Clause = frozenset[tuple[tuple[str, ...], str]]
MAX_CLAUSES = 2
MIN_NEEDLE = 3  # shorter ASCII literals ("30", "f0") hit nearly every event: not worth a clause
KEYWORD_NAMES: tuple[str, ...] = ("*",)  # prefilter pseudo-field: every value of the event


def getter(names: tuple[str, ...]) -> Callable[[Mapping[str, Any]], Any]:
    """Read the first of `names` present in the event; MISSING when none is."""
    if len(names) == 1:
        (name,) = names
        return lambda e: e.get(name, MISSING)

    def get(e: Mapping[str, Any]) -> Any:
        for n in names:
            v = e.get(n, MISSING)
            if v is not MISSING:
                return v
        return MISSING

    return get


@dataclass
class Node:
    kind: str  # "field", "keyword", "and", "or", "not", "const"
    fn: Fn
    children: tuple[Node, ...] = ()
    field: str | None = None
    names: tuple[str, ...] = ()
    needles: frozenset[str] | None = None
    ints: frozenset[int] | None = None  # the integers an equality leaf accepts (EventID routing)
    pred: Pred | None = None  # keyword leaves: the test applied to each value (for explain)


def _any_value(get: Callable[[Mapping[str, Any]], Any], pred: Pred) -> Fn:
    """Field test: missing -> False; a list matches when any element does."""

    def fn(e: Mapping[str, Any]) -> bool:
        v = get(e)
        if v is MISSING or v is None:
            return False
        if type(v) is list:
            return any(pred(x) for x in v if x is not None)
        return pred(v)

    return fn


def _join(preds: Sequence[Pred]) -> Pred:
    if len(preds) == 1:
        return preds[0]
    tup = tuple(preds)
    return lambda v: any(p(v) for p in tup)


class Compiler:
    """Compiles the condition trees of one rule (field names resolved by the pipeline)."""

    def __init__(
        self,
        pipeline: Pipeline,
        logsource: SigmaLogSource | None,
        placeholders: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.logsource = logsource
        self.placeholders = placeholders or {}
        self.used_placeholders: set[str] = set()

    def compile(self, cond: Any) -> Node:
        if isinstance(cond, ConditionAND | ConditionOR):
            children = self._merge_fields(cond) if isinstance(cond, ConditionOR) else None
            kids = tuple(children or (self.compile(c) for c in cond.args))
            if len(kids) == 1:
                return kids[0]
            fns = tuple(k.fn for k in kids)
            if isinstance(cond, ConditionAND):
                return Node("and", lambda e: all(f(e) for f in fns), kids)
            return Node("or", lambda e: any(f(e) for f in fns), kids)
        if isinstance(cond, ConditionNOT):
            child = self.compile(cond.args[0])
            f = child.fn
            return Node("not", lambda e: not f(e), (child,))
        if isinstance(cond, ConditionFieldEqualsValueExpression):
            return self._field(cond.field, [cond.value])
        if isinstance(cond, ConditionValueExpression):
            return self._keyword([cond.value])
        raise UnsupportedValueError(f"condition element {type(cond).__name__} is not supported")

    def _merge_fields(self, cond: ConditionOR) -> list[Node] | None:
        """OR children on the same field with plain values become one leaf."""
        groups: dict[str | None, list[Any]] = {}
        others: list[Any] = []
        special = (SigmaNull, SigmaExists, SigmaFieldReference)
        for c in cond.args:
            if isinstance(c, ConditionFieldEqualsValueExpression) and not isinstance(c.value, special):
                groups.setdefault(c.field, []).append(c.value)
            elif isinstance(c, ConditionValueExpression):
                groups.setdefault(None, []).append(c.value)
            else:
                others.append(c)
        if all(len(v) == 1 for v in groups.values()):
            return None
        nodes = [self._field(f, vals) if f is not None else self._keyword(vals) for f, vals in groups.items()]
        return nodes + [self.compile(c) for c in others]

    def _field(self, field: str, values: list[Any]) -> Node:
        names = self.pipeline.field_names(field, self.logsource)
        get = getter(names)
        value = values[0]
        if len(values) == 1 and isinstance(value, SigmaNull):
            return Node("field", lambda e: get(e) in (MISSING, None, ""), field=field, names=names)
        if len(values) == 1 and isinstance(value, SigmaExists):
            want = value.exists
            return Node("field", lambda e: (get(e) not in (MISSING, None)) is want, field=field, names=names)
        if len(values) == 1 and isinstance(value, SigmaFieldReference):
            return self._fieldref(field, names, get, value)
        self._note_placeholders(values)
        preds, needles = scalar_preds(values, self.placeholders)
        if not preds:
            return Node("field", lambda e: False, field=field, names=names, needles=frozenset())
        fn = _any_value(get, _join(preds))
        ints = None
        if all(type(v) is SigmaNumber and isinstance(v.number, int) for v in values):
            ints = frozenset(v.number for v in values)
        return Node("field", fn, field=field, names=names, needles=_frozen(needles), ints=ints)

    def _fieldref(
        self,
        field: str,
        names: tuple[str, ...],
        get: Callable[[Mapping[str, Any]], Any],
        ref: SigmaFieldReference,
    ) -> Node:
        other = getter(self.pipeline.field_names(ref.field, self.logsource))
        sw, ew = ref.starts_with, ref.ends_with

        def fn(e: Mapping[str, Any]) -> bool:
            a, b = get(e), other(e)
            if a in (MISSING, None) or b in (MISSING, None):
                return False
            a_s, b_s = as_text(a).lower(), as_text(b).lower()
            if sw and ew:
                return b_s in a_s
            if sw:
                return a_s.startswith(b_s)
            if ew:
                return a_s.endswith(b_s)
            return a_s == b_s

        return Node("field", fn, field=field, names=names)

    def _keyword(self, values: list[Any]) -> Node:
        """Full-text search: a keyword matches when it occurs in any value of the event."""
        self._note_placeholders(values)
        preds, needles = scalar_preds(_as_contains(values), self.placeholders)
        pred = _join(preds) if preds else (lambda v: False)

        def fn(e: Mapping[str, Any]) -> bool:
            for v in e.values():
                if v is None:
                    continue
                if type(v) is list:
                    if any(pred(x) for x in v if x is not None):
                        return True
                elif pred(v):
                    return True
            return False

        return Node("keyword", fn, names=KEYWORD_NAMES, needles=_frozen(needles), pred=pred)

    def _note_placeholders(self, values: list[Any]) -> None:
        for v in values:
            for x in v.values if isinstance(v, SigmaExpansion) else [v]:
                for part in getattr(x, "s", ()):
                    if isinstance(part, Placeholder):
                        self.used_placeholders.add(part.name)


def _as_contains(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        for x in v.values if isinstance(v, SigmaExpansion) else [v]:
            y = x
            if isinstance(y, SigmaString):
                if not y.startswith(SpecialChars.WILDCARD_MULTI):
                    y = SpecialChars.WILDCARD_MULTI + y
                if not y.endswith(SpecialChars.WILDCARD_MULTI):
                    y = y + SpecialChars.WILDCARD_MULTI
            out.append(y)
    return out


def _frozen(needles: set[str] | None) -> frozenset[str] | None:
    return None if needles is None else frozenset(needles)


def explain(node: Node, event: Mapping[str, Any], out: dict[str, Any]) -> None:
    """Collect field -> value for the leaves that made a matched (sub)tree true."""
    if node.kind == "field":
        if node.field is not None and node.fn(event):
            v = getter(node.names)(event)
            out[node.field] = None if v is MISSING else v
    elif node.kind == "keyword" and node.pred is not None:
        for key, v in event.items():
            values = v if type(v) is list else [v]
            if any(x is not None and node.pred(x) for x in values):
                out[key] = v
                break
    elif node.kind in ("and", "or"):
        for child in node.children:
            if child.fn(event):
                explain(child, event, out)


def requirements(node: Node) -> list[Clause]:
    """Clauses (CNF) that every matching event satisfies; [] means no usable requirement."""
    if node.kind in ("field", "keyword"):
        if node.needles is None or any(len(n) < MIN_NEEDLE and n.isascii() for n in node.needles):
            return []
        return [frozenset((node.names, n) for n in node.needles)]
    if node.kind == "and":
        clauses = [c for child in node.children for c in requirements(child)]
        return sorted(set(clauses), key=_score)[:MAX_CLAUSES]
    if node.kind == "or":
        best: set[tuple[tuple[str, ...], str]] = set()
        for child in node.children:
            sub = requirements(child)
            if not sub:
                return []
            best |= sorted(sub, key=_score)[0]
        return [frozenset(best)]
    return []  # not, const: nothing safe to require


def required_ints(node: Node, field: str) -> frozenset[int] | None:
    """The integer values `field` must equal for the tree to match (None: no such constraint)."""
    if node.kind == "field":
        return node.ints if node.field == field else None
    if node.kind == "and":
        sets = [s for c in node.children if (s := required_ints(c, field)) is not None]
        return frozenset.intersection(*sets) if sets else None
    if node.kind == "or":
        subs = [required_ints(c, field) for c in node.children]
        if any(s is None for s in subs):
            return None
        return frozenset().union(*subs)  # type: ignore[arg-type]
    return None


def _score(clause: Clause) -> tuple[int, int]:
    """Lower is more selective: prefer long shortest needle, then few alternatives."""
    shortest = min((len(n) for _, n in clause), default=0)
    return (-min(shortest, 12), len(clause))
