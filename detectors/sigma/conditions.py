"""Build matcher closures from a condition's intermediate form (ir.py).

lower.py already resolved every condition form (`1 of sel*`, `all of them`, `not`, parentheses),
the field names and the values; here each node becomes a closure `fn(event) -> bool`, made by
matchers.py (compiled to C by mypyc when installed so, native.py), with:

- AND / OR of two or three children unrolled (no loop, no generator per call), the cheap children
  (one dict lookup and a set test) first: order never changes the result;
- `explain` walks the tree again for a matched event and collects the fields that made it match;
- `requirements` gives the literals a matching event must contain, for the prefilter.

Placeholders (`%name%` with the `expand` modifier) are resolved here, so one lowered rule serves
every tenant's values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from detectors.sigma.ir import MISSING, IrNode, Value
from detectors.sigma.matchers import getter
from detectors.sigma.modifiers import scalar_preds
from detectors.sigma.native import matchers_module
from detectors.sigma.strings import Pred, as_text

__all__ = ["MISSING", "Compiler", "Node", "explain", "getter", "requirements"]

Fn = Callable[[Mapping[str, Any]], bool]
# A prefilter clause: alternatives (field names tuple, lower-cased needle); one must be present.
Clause = frozenset[tuple[tuple[str, ...], str]]
MAX_CLAUSES = 2
MIN_NEEDLE = 3  # shorter ASCII literals ("30", "f0") hit nearly every event: not worth a clause
KEYWORD_NAMES: tuple[str, ...] = ("*",)  # prefilter pseudo-field: every value of the event
MEMO_COST = 2  # leaves of at least this cost remember their answer per value (matchers.memoized)


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
    cost: int = 1  # rough relative cost of evaluating fn: cheaper children are tried first


def _value_cost(values: Sequence[Value]) -> int:
    """Equality and prefix/suffix tests cost one, plus one per eight values (a list of 300 suffixes
    is tried one by one by str.endswith); regexes, CIDR and timestamp parts more."""
    cost = 1 + len(values) // 8
    for v in values:
        if v[0] == "re":
            cost += 4
        elif v[0] in ("cidr", "ts"):
            cost += 3
    return cost


class Compiler:
    """Builds the matcher tree of lowered conditions, with the placeholder values given."""

    def __init__(self, placeholders: Mapping[str, Sequence[str]] | None = None) -> None:
        self.placeholders = placeholders or {}
        self.used_placeholders: set[str] = set()
        self.m = matchers_module()  # the closures' makers: compiled by mypyc when installed so

    def compile(self, ir: IrNode) -> Node:  # noqa: PLR0911 - one return per node kind
        kind = ir[0]
        if kind in ("and", "or"):
            kids = tuple(self.compile(c) for c in flatten(ir))
            if len(kids) == 1:
                return kids[0]
            fns = [k.fn for k in sorted(kids, key=_cost)]  # stable: equal costs keep the rule's order
            cost = sum(k.cost for k in kids)
            if kind == "and":
                return Node("and", self.m.all_of(fns), kids, cost=cost)
            return Node("or", self.m.any_of(fns), kids, cost=cost)
        if kind == "not":
            child = self.compile(ir[1])
            return Node("not", self.m.negate(child.fn), (child,), cost=child.cost)
        if kind == "field":
            return self._field(ir[1], ir[2], ir[3])
        if kind == "keyword":
            return self._keyword(ir[1])
        if kind == "null":
            fn = self.m.is_null(self.m.getter(tuple(ir[2])))
            return Node("field", fn, field=ir[1], names=ir[2])
        if kind == "exists":
            fn = self.m.exists(self.m.getter(tuple(ir[2])), bool(ir[3]))
            return Node("field", fn, field=ir[1], names=ir[2])
        if kind == "ref":
            return self._fieldref(*ir[1:])
        raise ValueError(f"unknown condition node {kind!r}")

    def _field(self, field: str, names: tuple[str, ...], values: Sequence[Value]) -> Node:
        self._note_placeholders(values)
        preds, needles = scalar_preds(values, self.placeholders)
        m = self.m
        if not preds:
            return Node("field", m.never, field=field, names=names, needles=frozenset(), cost=0)
        pred = m.join(preds)
        cost = _value_cost(values)
        if cost >= MEMO_COST:
            pred = m.memoized(pred)
        fn = (
            m.single_name_field(names[0], pred)
            if len(names) == 1
            else m.any_value(m.getter(tuple(names)), pred)
        )
        ints = None
        if all(v[0] == "n" and type(v[1]) is int for v in values):
            ints = frozenset(v[1] for v in values)
        return Node(
            "field",
            fn,
            field=field,
            names=names,
            needles=_frozen(needles),
            ints=ints,
            cost=cost,
        )

    def _fieldref(
        self, field: str, names: tuple[str, ...], other_names: tuple[str, ...], sw: bool, ew: bool
    ) -> Node:
        get, other = getter(names), getter(other_names)

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

        return Node("field", fn, field=field, names=names, cost=2)

    def _keyword(self, values: Sequence[Value]) -> Node:
        """Full-text search: a keyword matches when it occurs in any value of the event."""
        self._note_placeholders(values)
        preds, needles = scalar_preds(values, self.placeholders)
        pred = self.m.join(preds) if preds else _no_value
        fn = self.m.keyword(pred)
        return Node("keyword", fn, names=KEYWORD_NAMES, needles=_frozen(needles), pred=pred, cost=10)

    def _note_placeholders(self, values: Sequence[Value]) -> None:
        for v in values:
            if v[0] == "s":
                for part in v[2]:
                    if type(part) is tuple:
                        self.used_placeholders.add(part[1])


def _no_value(v: Any) -> bool:
    return False


def flatten(ir: IrNode) -> tuple[IrNode, ...]:
    """The children of an AND / OR node, nested nodes of the same kind lifted into it, and for OR the
    leaves testing the same field (or keywords) merged into one leaf: (any of A) or (any of B) is any
    of A + B, a missing field fails both. A long value is then lower-cased and searched once."""
    kind = ir[0]
    kids: list[IrNode] = []
    for child in ir[1]:
        if child[0] == kind:
            kids.extend(flatten(child))
        else:
            kids.append(child)
    if kind != "or":
        return tuple(kids)
    merged: list[IrNode] = []
    slot: dict[tuple[Any, ...], int] = {}
    for child in kids:
        key = child[:3] if child[0] == "field" else ("keyword",) if child[0] == "keyword" else None
        if key is None:
            merged.append(child)
        elif key in slot:
            first = merged[slot[key]]
            merged[slot[key]] = (*first[:-1], tuple(first[-1]) + tuple(child[-1]))
        else:
            slot[key] = len(merged)
            merged.append(child)
    return tuple(merged)


def _cost(node: Node) -> int:
    return node.cost


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


def _score(clause: Clause) -> tuple[int, int, int, list[tuple[tuple[str, ...], str]]]:
    """Lower is more selective: prefer long shortest needle, then few alternatives, then less needle
    text, then the clause's content, so that the choice never depends on set iteration order.

    It did: string hashes differ per process, so two builds of the rule cache kept different clauses
    and the prefilter's selectivity changed from one build to the next (0.55 to 0.90 rules evaluated
    per event over the first 100,000 benchmark events, ~1.5 us/event apart). Among the tied clauses,
    preferring less needle text gave 0.57 rules per event, more needle text 0.90, content order alone
    0.92 (measured on those events; probably because long needles are often whole paths such as
    'c:\\windows\\system32\\ntdll.dll+', which occur in many events).
    """
    shortest = min((len(n) for _, n in clause), default=0)
    return (-min(shortest, 12), len(clause), sum(len(n) for _, n in clause), sorted(clause))
