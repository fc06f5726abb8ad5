"""Build matcher closures from a condition's intermediate form (ir.py).

lower.py already resolved every condition form (`1 of sel*`, `all of them`, `not`, parentheses),
the field names and the values; here each node becomes a closure `fn(event) -> bool`, with:

- AND / OR of two or three children as plain `a(e) and b(e)` closures (no generator per call), the
  cheap children (one dict lookup and a set test) first: order never changes the result;
- `explain` walks the tree again for a matched event and collects the fields that made it match;
- `requirements` gives the literals a matching event must contain, for the prefilter.

Placeholders (`%name%` with the `expand` modifier) are resolved here, so one lowered rule serves
every tenant's values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from detectors.sigma.ir import IrNode, Value
from detectors.sigma.modifiers import scalar_preds
from detectors.sigma.strings import Pred, as_text

MISSING: Any = object()
Fn = Callable[[Mapping[str, Any]], bool]
# A prefilter clause: alternatives (field names tuple, lower-cased needle); one must be present.
Clause = frozenset[tuple[tuple[str, ...], str]]
MAX_CLAUSES = 2
MIN_NEEDLE = 3  # shorter ASCII literals ("30", "f0") hit nearly every event: not worth a clause
KEYWORD_NAMES: tuple[str, ...] = ("*",)  # prefilter pseudo-field: every value of the event
MEMO_COST = 2  # leaves of at least this cost remember their answer per value (memoized)
PRED_MEMO_SIZE = 4096  # values remembered per memoized leaf
# ... and characters: 4,096 unique 4.5 KB PowerShell ContextInfo values held 18 M per leaf (about 1 GB
# over the PowerShell rules' leaves on a PowerShell-heavy stream); 2 M leave room for 4,096 values of
# 488 characters, more than the usual command line or path
PRED_MEMO_CHARS = 2_000_000


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
    cost: int = 1  # rough relative cost of evaluating fn: cheaper children are tried first


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


def _single_name_field(name: str, pred: Pred) -> Fn:
    """`_any_value` for the common one-name field, with the lookup inlined."""

    def fn(e: Mapping[str, Any]) -> bool:
        v = e.get(name)
        if v is None:
            return False
        if type(v) is list:
            return any(pred(x) for x in v if x is not None)
        return pred(v)

    return fn


def _join(preds: Sequence[Pred]) -> Pred:
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:  # the common pair, without a generator
        p1, p2 = preds
        return lambda v: p1(v) or p2(v)
    tup = tuple(preds)
    return lambda v: any(p(v) for p in tup)


def _all(fns: Sequence[Fn]) -> Fn:
    """AND of closures, unrolled for the usual two or three children."""
    if len(fns) == 2:
        a, b = fns
        return lambda e: a(e) and b(e)
    if len(fns) == 3:
        a, b, c = fns
        return lambda e: a(e) and b(e) and c(e)
    tup = tuple(fns)
    return lambda e: all(f(e) for f in tup)


def _any(fns: Sequence[Fn]) -> Fn:
    """OR of closures, unrolled for the usual two or three children."""
    if len(fns) == 2:
        a, b = fns
        return lambda e: a(e) or b(e)
    if len(fns) == 3:
        a, b, c = fns
        return lambda e: a(e) or b(e) or c(e)
    tup = tuple(fns)
    return lambda e: any(f(e) for f in tup)


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


def memoized(pred: Pred) -> Pred:
    """`pred` remembering its answer per string value (bounded in values and characters, cleared when
    full).

    For the costly leaves (MEMO_COST): event streams repeat their values (the same DLL paths,
    command lines, registry keys), and a dict lookup is cheaper than 300 suffix tests or a regex.
    Predicates are pure functions of the value, so a remembered answer is the answer.
    """
    memo: dict[str, bool] = {}
    get = memo.get
    chars = 0  # of the remembered values

    def fn(v: Any) -> bool:
        nonlocal chars
        if type(v) is not str:
            return pred(v)
        found = get(v)
        if found is None:
            found = pred(v)
            chars += len(v)
            if len(memo) >= PRED_MEMO_SIZE or chars > PRED_MEMO_CHARS:
                memo.clear()
                chars = len(v)
            memo[v] = found
        return found

    return fn


class Compiler:
    """Builds the matcher tree of lowered conditions, with the placeholder values given."""

    def __init__(self, placeholders: Mapping[str, Sequence[str]] | None = None) -> None:
        self.placeholders = placeholders or {}
        self.used_placeholders: set[str] = set()

    def compile(self, ir: IrNode) -> Node:  # noqa: PLR0911 - one return per node kind
        kind = ir[0]
        if kind in ("and", "or"):
            kids = tuple(self.compile(c) for c in flatten(ir))
            if len(kids) == 1:
                return kids[0]
            fns = [k.fn for k in sorted(kids, key=_cost)]  # stable: equal costs keep the rule's order
            cost = sum(k.cost for k in kids)
            if kind == "and":
                return Node("and", _all(fns), kids, cost=cost)
            return Node("or", _any(fns), kids, cost=cost)
        if kind == "not":
            child = self.compile(ir[1])
            f = child.fn
            return Node("not", lambda e: not f(e), (child,), cost=child.cost)
        if kind == "field":
            return self._field(ir[1], ir[2], ir[3])
        if kind == "keyword":
            return self._keyword(ir[1])
        if kind == "null":
            get = getter(ir[2])
            return Node("field", lambda e: get(e) in (MISSING, None, ""), field=ir[1], names=ir[2])
        if kind == "exists":
            get, want = getter(ir[2]), ir[3]
            return Node("field", lambda e: (get(e) not in (MISSING, None)) is want, field=ir[1], names=ir[2])
        if kind == "ref":
            return self._fieldref(*ir[1:])
        raise ValueError(f"unknown condition node {kind!r}")

    def _field(self, field: str, names: tuple[str, ...], values: Sequence[Value]) -> Node:
        self._note_placeholders(values)
        preds, needles = scalar_preds(values, self.placeholders)
        if not preds:
            return Node("field", lambda e: False, field=field, names=names, needles=frozenset(), cost=0)
        pred = _join(preds)
        cost = _value_cost(values)
        if cost >= MEMO_COST:
            pred = memoized(pred)
        fn = _single_name_field(names[0], pred) if len(names) == 1 else _any_value(getter(names), pred)
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

        return Node("keyword", fn, names=KEYWORD_NAMES, needles=_frozen(needles), pred=pred, cost=10)

    def _note_placeholders(self, values: Sequence[Value]) -> None:
        for v in values:
            if v[0] == "s":
                for part in v[2]:
                    if type(part) is tuple:
                        self.used_placeholders.add(part[1])


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
