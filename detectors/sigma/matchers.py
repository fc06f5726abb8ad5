"""The closures a rule's matcher is made of: the per-event half of conditions.py.

conditions.py decides what a condition means (which nodes, in which order, which predicates); the
functions here make the closures that then run on every event the prefilter lets through: read a
field, test its value (a list: any element), AND / OR / NOT of children, a keyword over every value,
a predicate remembering its answers. They hold no Sigma knowledge, so they are small and typed
enough for mypyc: hatch_build.py compiles a copy of this module at install, and the rules' matchers
are then C callables calling C callables down to the value predicates (strings.py, modifiers.py),
instead of an interpreter frame per node. native.py picks the compiled copy when it is current
(`matchers_module`); this module, as Python, is the source and the fallback (same answers).
"""

# Explicit loops, not any()/all() over generators: mypyc compiles a loop to C, a generator stays an object.
# ruff: noqa: SIM110
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from detectors.sigma.ir import MISSING

Fn = Callable[[Mapping[str, Any]], bool]
Pred = Callable[[Any], bool]
Get = Callable[[Mapping[str, Any]], Any]
PRED_MEMO_SIZE = 4096  # values remembered per memoized leaf
# ... and characters: 4,096 unique 4.5 KB PowerShell ContextInfo values held 18 M per leaf (about 1 GB
# over the PowerShell rules' leaves on a PowerShell-heavy stream); 2 M leave room for 4,096 values of
# 488 characters, more than the usual command line or path
PRED_MEMO_CHARS = 2_000_000


def getter(names: tuple[str, ...]) -> Get:
    """Read the first of `names` present in the event; MISSING when none is."""
    missing: Any = MISSING
    if len(names) == 1:
        name = names[0]

        def get_one(e: Mapping[str, Any]) -> Any:
            return e.get(name, missing)

        return get_one

    def get(e: Mapping[str, Any]) -> Any:
        for n in names:
            v = e.get(n, missing)
            if v is not missing:
                return v
        return missing

    return get


def any_value(get: Get, pred: Pred) -> Fn:
    """Field test: missing or null -> False; a list matches when any non-null element does."""
    missing: Any = MISSING

    def fn(e: Mapping[str, Any]) -> bool:
        v = get(e)
        if v is missing or v is None:
            return False
        if type(v) is list:
            for x in v:
                if x is not None and pred(x):
                    return True
            return False
        return bool(pred(v))

    return fn


def single_name_field(name: str, pred: Pred) -> Fn:
    """`any_value` for the common one-name field, with the lookup inlined."""

    def fn(e: Mapping[str, Any]) -> bool:
        v = e.get(name)
        if v is None:
            return False
        if type(v) is list:
            for x in v:
                if x is not None and pred(x):
                    return True
            return False
        return bool(pred(v))

    return fn


def join(preds: Sequence[Pred]) -> Pred:
    """OR of value predicates."""
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        p1, p2 = preds[0], preds[1]

        def either(v: Any) -> bool:
            return bool(p1(v)) or bool(p2(v))

        return either
    tup = tuple(preds)

    def some(v: Any) -> bool:
        for p in tup:
            if p(v):
                return True
        return False

    return some


def all_of(fns: Sequence[Fn]) -> Fn:
    """AND of closures, unrolled for the usual two or three children."""
    if len(fns) == 2:
        a, b = fns[0], fns[1]

        def both(e: Mapping[str, Any]) -> bool:
            return bool(a(e)) and bool(b(e))

        return both
    if len(fns) == 3:
        a3, b3, c3 = fns[0], fns[1], fns[2]

        def three(e: Mapping[str, Any]) -> bool:
            return bool(a3(e)) and bool(b3(e)) and bool(c3(e))

        return three
    tup = tuple(fns)

    def every(e: Mapping[str, Any]) -> bool:
        for f in tup:
            if not f(e):
                return False
        return True

    return every


def any_of(fns: Sequence[Fn]) -> Fn:
    """OR of closures, unrolled for the usual two or three children."""
    if len(fns) == 2:
        a, b = fns[0], fns[1]

        def either(e: Mapping[str, Any]) -> bool:
            return bool(a(e)) or bool(b(e))

        return either
    if len(fns) == 3:
        a3, b3, c3 = fns[0], fns[1], fns[2]

        def one_of_three(e: Mapping[str, Any]) -> bool:
            return bool(a3(e)) or bool(b3(e)) or bool(c3(e))

        return one_of_three
    tup = tuple(fns)

    def some(e: Mapping[str, Any]) -> bool:
        for f in tup:
            if f(e):
                return True
        return False

    return some


def negate(f: Fn) -> Fn:
    def fn(e: Mapping[str, Any]) -> bool:
        return not f(e)

    return fn


def never(e: Mapping[str, Any]) -> bool:
    """A field leaf without any value to test (every value failed to expand)."""
    return False


def is_null(get: Get) -> Fn:
    """The field is missing, null or empty."""
    missing: Any = MISSING

    def fn(e: Mapping[str, Any]) -> bool:
        v = get(e)
        return v is missing or v is None or v == ""

    return fn


def exists(get: Get, want: bool) -> Fn:
    """The field is present and not null (want=True), or not (want=False)."""
    missing: Any = MISSING

    def fn(e: Mapping[str, Any]) -> bool:
        v = get(e)
        return (v is not missing and v is not None) is want

    return fn


def memoized(pred: Pred) -> Pred:
    """`pred` remembering its answer per string value (bounded in values and characters, cleared when
    full).

    For the costly leaves (conditions.MEMO_COST): event streams repeat their values (the same DLL
    paths, command lines, registry keys), and a dict lookup is cheaper than 300 suffix tests or a
    regex. Predicates are pure functions of the value, so a remembered answer is the answer.
    """
    memo: dict[str, bool] = {}
    chars = [0]  # of the remembered values (a list: mypyc closures cannot rebind a captured int)

    def fn(v: Any) -> bool:
        if type(v) is not str:
            return bool(pred(v))
        found = memo.get(v)
        if found is None:
            found = bool(pred(v))
            chars[0] += len(v)
            if len(memo) >= PRED_MEMO_SIZE or chars[0] > PRED_MEMO_CHARS:
                memo.clear()
                chars[0] = len(v)
            memo[v] = found
        return found

    return fn


def keyword(pred: Pred) -> Fn:
    """Full-text search: true when any non-null value of the event (a list: any element) matches."""

    def fn(e: Mapping[str, Any]) -> bool:
        for v in e.values():
            if v is None:
                continue
            if type(v) is list:
                for x in v:
                    if x is not None and pred(x):
                        return True
            elif pred(v):
                return True
        return False

    return fn


# ---- string values (strings.py decides the shape: which of these a group of patterns becomes) ----

LOWER_MEMO_MIN = 256  # characters: shorter values are lower-cased on each test (cheaper than a lookup)
LOWER_MEMO_SIZE = 64  # long values whose lower-cased form is remembered (emptied when full)
_lowered: dict[str, str] = {}
# Python's str.lower, called as a function: mypyc compiles `text.lower()` to its own primitive, which
# lower-cases code point by code point and misses the final sigma ('ΑΣ' -> 'ασ', not 'ας').  # noqa: RUF003
_LOWER: Callable[[str], str] = str.lower


def as_text(value: Any) -> str:
    """The string form of an event value that string patterns are tested against."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def lowered(text: str) -> str:
    """`text.lower()`, remembered for long texts: one event's multi-KB PowerShell ContextInfo is tested
    by many leaves (each `contains|all` needle of SigmaHQ's "Suspicious PowerShell Invocations", the
    OR-ed filters of "Alternate PowerShell Hosts"), and each lower-cased all of it again. The lookup
    costs a hash (cached in the string once the prefilter has looked the value up) and, on a hit, one
    comparison; `str.lower` is a pure function, so a remembered answer is the answer."""
    if len(text) < LOWER_MEMO_MIN:
        return _LOWER(text)
    low = _lowered.get(text)
    if low is None:
        if len(_lowered) >= LOWER_MEMO_SIZE:
            _lowered.clear()
        low = _LOWER(text)
        _lowered[text] = low
    return low


def anything(v: Any) -> bool:
    """The test of a bare '*' (e.g. `ContextInfo|contains: '*'`): true for any value given (the
    callers never pass null). It was the regex '.*' (DOTALL), whose full match also always succeeds,
    but only after walking the whole value (several KB for a PowerShell ContextInfo)."""
    return True


def equals_any(eq: frozenset[str], lower: bool) -> Pred:
    lower_ = _LOWER
    if lower:

        def eq_low(v: Any) -> bool:
            return lower_(as_text(v)) in eq

        return eq_low

    def eq_cased(v: Any) -> bool:
        return as_text(v) in eq

    return eq_cased


def ends_with_any(ew: tuple[str, ...], lower: bool) -> Pred:
    lower_ = _LOWER
    if lower:

        def ew_low(v: Any) -> bool:
            return lower_(as_text(v)).endswith(ew)

        return ew_low

    def ew_cased(v: Any) -> bool:
        return as_text(v).endswith(ew)

    return ew_cased


def starts_with_any(sw: tuple[str, ...], lower: bool) -> Pred:
    lower_ = _LOWER
    if lower:

        def sw_low(v: Any) -> bool:
            return lower_(as_text(v)).startswith(sw)

        return sw_low

    def sw_cased(v: Any) -> bool:
        return as_text(v).startswith(sw)

    return sw_cased


def contains(needle: str, lower: bool) -> Pred:
    if lower:

        def ct_low(v: Any) -> bool:
            return needle in lowered(as_text(v))

        return ct_low

    def ct_cased(v: Any) -> bool:
        return needle in as_text(v)

    return ct_cased


def contains_any_of(needles: tuple[str, ...]) -> Callable[[str], bool]:
    """`in` for each of a handful of needles (the automaton, strings.py, beyond a handful)."""

    def fn(s: str) -> bool:
        for n in needles:
            if n in s:
                return True
        return False

    return fn


def string_test(  # noqa: PLR0917 - the parts of one group of patterns
    eq: frozenset[str],
    sw: tuple[str, ...],
    ew: tuple[str, ...],
    ct: Callable[[str], bool] | None,
    rx: tuple[Callable[[str], Any], ...],
    lower: bool,
) -> Pred:
    """Any of several kinds of string patterns (equal, prefix, suffix, substring, wildcard regex)."""

    def fn(v: Any) -> bool:
        raw = as_text(v)
        s = lowered(raw) if lower else raw
        # `eq and`: a set lookup hashes the text first, and a lower-cased copy of a 5 KB ContextInfo is
        # a new string, hashed for nothing when there is no equality to test
        if (eq and s in eq) or (sw and s.startswith(sw)) or (ew and s.endswith(ew)):
            return True
        if ct is not None and ct(s):
            return True
        for m in rx:
            if m(raw):
                return True
        return False

    return fn
