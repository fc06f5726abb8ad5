"""String values of Sigma rules: equality, prefix, suffix, substring, wildcards and regexes.

Sigma compares strings case-insensitively unless `cased`; values of one field joined by OR are
grouped so that a list of 40 `endswith` suffixes costs one `str.endswith(tuple)` call. Each value
also yields a literal that every matching event value contains: the prefilter's needles.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ahocorasick

from detectors.sigma.ir import ANY, ONE
from detectors.sigma.matchers import Pred, as_text, lowered
from detectors.sigma.native import matchers_module

CONTAINS_LOOP_MAX = 8  # up to this many `contains` needles, `in` in a loop beats the automaton

__all__ = ["Pred", "StrPatterns", "add_string", "as_text", "lowered", "regex_pred", "string_pred"]


class StrPatterns:
    """String patterns of one field, joined by OR, split by kind for fast testing.

    A plain class with slots, not a dataclass with six default factories: two are made per field
    leaf, and building the matchers of the rules an event stream reaches is part of its first pass.
    """

    __slots__ = ("anything", "cased", "ct", "eq", "ew", "needles", "rx", "sw")

    def __init__(self, cased: bool) -> None:
        self.cased = cased
        self.anything = False  # a bare '*' value: every non-null value matches
        self.eq: set[str] = set()
        self.sw: list[str] = []
        self.ew: list[str] = []
        self.ct: list[str] = []
        self.rx: list[re.Pattern[str]] = []
        # Literal substrings of which each pattern needs at least one; None when some pattern has none.
        self.needles: set[str] | None = set()

    def add_needle(self, needle: str | None) -> None:
        if self.needles is None:
            return
        if not needle:
            self.needles = None
        else:
            self.needles.add(needle.lower())


def _parts(parts: Sequence[Any], placeholders: Mapping[str, Sequence[str]]) -> list[list[Any]]:
    """A string value's parts as lists, one list per combination of placeholder values."""
    if tuple not in map(type, parts):  # the usual value: no placeholder
        return [list(parts)]
    variants: list[list[Any]] = [[]]
    for part in parts:
        if type(part) is tuple:  # ("%", name)
            repl = placeholders.get(part[1])
            if not repl:
                return []  # no value for this placeholder: the value matches nothing
            variants = [[*v, r] for v in variants for r in repl]
        else:
            variants = [[*v, part] for v in variants]
    return variants


def _merge(parts: list[Any]) -> list[Any]:
    out: list[Any] = []
    for p in parts:
        if isinstance(p, str) and out and isinstance(out[-1], str):
            out[-1] += p
        else:
            out.append(p)
    return out


def add_string(pats: StrPatterns, value: Sequence[Any], placeholders: Mapping[str, Sequence[str]]) -> None:
    """Classify one string value's parts (equals / prefix / suffix / contains / wildcard regex)."""
    cased = pats.cased
    for raw in _parts(value, placeholders):
        parts = _merge(raw)
        lead = bool(parts) and parts[0] == ANY
        trail = len(parts) > 1 and parts[-1] == ANY
        core = parts[1 if lead else 0 : len(parts) - 1 if trail else len(parts)]
        if not core and (lead or trail):
            pats.anything = True  # '*' matches any value
            pats.add_needle(None)
            continue
        if len(core) == 1 and isinstance(core[0], str):
            lit = core[0] if cased else core[0].lower()
            if lead and trail:
                pats.ct.append(lit)
            elif lead:
                pats.ew.append(lit)
            elif trail:
                pats.sw.append(lit)
            else:
                pats.eq.add(lit)
            pats.add_needle(core[0])
            continue
        if not parts:
            pats.eq.add("")
            pats.add_needle(None)
            continue
        regex = "".join(".*" if p == ANY else "." if p == ONE else re.escape(p) for p in parts)
        flags = re.DOTALL | (0 if cased else re.IGNORECASE)
        pats.rx.append(re.compile(regex, flags))
        literals = [p for p in parts if isinstance(p, str)]
        pats.add_needle(max(literals, key=len) if literals else None)


def _contains_any(needles: tuple[str, ...]) -> Callable[[str], bool]:
    """Substring test for many needles: an Aho-Corasick automaton beyond a handful."""
    if len(needles) <= CONTAINS_LOOP_MAX:
        return matchers_module().contains_any_of(needles)  # type: ignore[no-any-return]
    automaton = ahocorasick.Automaton()
    for n in needles:
        automaton.add_word(n, n)
    automaton.make_automaton()
    return lambda s: next(automaton.iter(s), None) is not None


def string_pred(pats: StrPatterns) -> Pred:
    """One predicate over a scalar event value for all patterns of the group (the closures are made by
    matchers.py, compiled by mypyc when installed so)."""
    m = matchers_module()
    if pats.anything:  # OR-ed with '*', which every value matches: no need to look at the value
        return m.anything  # type: ignore[no-any-return]
    eq = frozenset(pats.eq)
    sw, ew, ct = tuple(pats.sw), tuple(pats.ew), tuple(pats.ct)
    rx = tuple(p.fullmatch for p in pats.rx)
    lower = not pats.cased
    if eq and not (sw or ew or ct or rx):
        return m.equals_any(eq, lower)  # type: ignore[no-any-return]
    if ew and not (eq or sw or ct or rx):
        return m.ends_with_any(ew, lower)  # type: ignore[no-any-return]
    if sw and not (eq or ew or ct or rx):
        return m.starts_with_any(sw, lower)  # type: ignore[no-any-return]
    if len(ct) == 1 and not (eq or sw or ew or rx):
        return m.contains(ct[0], lower)  # type: ignore[no-any-return]
    return m.string_test(eq, sw, ew, _contains_any(ct) if ct else None, rx, lower)  # type: ignore[no-any-return]


def regex_pred(pattern: str, flags: int) -> tuple[Pred, str | None]:
    """A `re` value: Python `re.search` with the i/m/s flags; plus a literal every match contains."""
    compiled = re.compile(pattern, flags)
    search = compiled.search
    literal = regex_literal(compiled)
    if not literal:
        return (lambda v: search(v if isinstance(v, str) else as_text(v)) is not None), None
    # Cheap guard: the literal every match contains, tested before the (backtracking) regex.
    if compiled.flags & re.IGNORECASE:
        low = literal.lower()

        def guarded(v: Any) -> bool:
            s = v if isinstance(v, str) else as_text(v)
            return low in lowered(s) and search(s) is not None

    else:

        def guarded(v: Any) -> bool:
            s = v if isinstance(v, str) else as_text(v)
            return literal in s and search(s) is not None

    return guarded, literal


def regex_literal(compiled: re.Pattern[str]) -> str | None:
    """The longest run of literal characters at the top level of a regex (no alternation), if any.

    Every match contains it, so it is a sound prefilter literal. Under IGNORECASE runs stop at
    characters whose case folding reaches other letters ('s' also matches U+017F).
    """
    try:
        parsed = re._parser.parse(compiled.pattern, compiled.flags)  # type: ignore[attr-defined]
    except Exception:
        return None
    ignorecase = bool(parsed.state.flags & re.IGNORECASE)
    literal = re._constants.LITERAL  # type: ignore[attr-defined]
    runs, run = [], ""
    for op, arg in parsed:
        ch = chr(arg) if op is literal else None
        if ch is None or (ignorecase and ch.lower() in "sk"):
            runs.append(run)
            run = ""
        else:
            run += ch
    runs.append(run)
    best = max(runs, key=len)
    return best or None
