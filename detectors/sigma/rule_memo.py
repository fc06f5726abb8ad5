"""Whole-rule memoisation: a costly rule remembers its answer per tuple of the fields it reads.

Some rules are evaluated on many events that the prefilter cannot narrow, and cost a dozen closure
calls each: SigmaHQ's `image_load_win_signed_dll_no_metadata` (nine fields, every Valid-signed image
load) is the main one. Their inputs repeat (the same DLL, the same signature), so one tuple build
and one dict lookup replace the tree.

Sound because a rule whose leaves are field tests (`field`, `null`, `exists`) is a pure function of
the values of the names those leaves read. A leaf reads the first of its names (a field and its
aliases: `Image`, `process.executable`, ...) that is present in the event, so when every leaf's first
name is present the key is those values alone (the usual flat Windows event); otherwise it is the
values of all names. The key keeps every value with its type, so True, 1,
1.0 and "1" (equal or equal-hashing in Python, but different to Sigma's tests) never share an
answer; a missing name (MISSING) and an explicit null (None) differ too (the first present alias
wins, and an alias holding null is present). Floats are not memoised (0.0 == -0.0, but their text
differs), nor are unhashable values (lists, dicts): those events are evaluated directly.

A rule whose inputs do not repeat (a command line) would only pay for the tuple: after TRIAL
lookups, a memo answering fewer than half of them switches itself off for good.

Only for matchers made by matchers.py as Python: compiled by mypyc (native.py), the tree costs less
than this memo's key (SigmaHQ's signed-DLL rule on image loads, session 10: 2.3 us a call as C, 5.7
as Python, 7.6 through the memo), so compiled trees are used as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from detectors.sigma import matchers
from detectors.sigma.conditions import MISSING, Fn, Node
from detectors.sigma.ir import IrNode
from detectors.sigma.native import matchers_module

RULE_MEMO_COST = 8  # rules whose matcher costs at least this (conditions.Node.cost) are memoised
RULE_MEMO_NAMES = 12  # ... and read at most this many fields (each with its aliases)
RULE_MEMO_SIZE = 4096  # answers remembered per rule (emptied when full)
TRIAL = 2000  # lookups before deciding whether the memo pays
_LEAVES = ("field", "null", "exists")


def read_names(ir: IrNode) -> tuple[tuple[str, ...], ...] | None:
    """The names of every field the condition reads (each field: its names in the order a leaf tries
    them), first-seen order; None when it reads anything else (keywords search every value, field
    references compare two fields)."""
    names: dict[tuple[str, ...], None] = {}

    def walk(node: IrNode) -> bool:
        kind = node[0]
        if kind in ("and", "or"):
            return all(walk(c) for c in node[1])
        if kind == "not":
            return walk(node[1])
        if kind in _LEAVES:
            names[tuple(node[2])] = None
            return True
        return False

    return tuple(names) if walk(ir) else None


def rule_matcher(node: Node, ir: IrNode) -> Fn:
    """The rule's matcher: memoised when it is costly, reads few fields and its tree runs as Python,
    else `node.fn`."""
    if node.cost < RULE_MEMO_COST or matchers_module() is not matchers:
        return node.fn
    names = read_names(ir)
    if not names or len(names) > RULE_MEMO_NAMES:
        return node.fn
    return memoize_rule(node.fn, names)


def memoize_rule(fn: Fn, fields: tuple[tuple[str, ...], ...]) -> Fn:
    """`fn` answering from a bounded memo keyed by the typed values the fields' names hold in the
    event: their first names' when all are present, else all names' (see the module doc)."""
    memo: dict[tuple[Any, ...], bool] = {}
    get = memo.get
    firsts = tuple(dict.fromkeys(names[0] for names in fields))
    every = tuple(dict.fromkeys(name for names in fields for name in names))
    missing, missing_every = (MISSING,) * len(firsts), (MISSING,) * len(every)
    lookups = hits = 0
    on = True

    def memo_fn(e: Mapping[str, Any]) -> bool:
        nonlocal lookups, hits, on
        if not on:
            return fn(e)
        vals = tuple(map(e.get, firsts, missing))
        if MISSING in vals and len(every) > len(firsts):
            vals = tuple(map(e.get, every, missing_every))
        types = tuple(map(type, vals))
        if float in types:
            return fn(e)
        key = (vals, types)
        try:
            found = get(key)
        except TypeError:  # a list or dict value
            return fn(e)
        lookups += 1
        if found is None:
            found = fn(e)
            if len(memo) >= RULE_MEMO_SIZE:
                memo.clear()
            memo[key] = found
        else:
            hits += 1
        if lookups == TRIAL and hits * 2 < lookups:
            on = False
            memo.clear()
        return found

    return memo_fn


def rule_memo_state(fn: Callable[..., Any]) -> dict[str, Any]:
    """The memo's counters and switch (for tests): lookups, hits, on."""
    cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=True))
    return {name: cells[name].cell_contents for name in ("lookups", "hits", "on") if name in cells}
