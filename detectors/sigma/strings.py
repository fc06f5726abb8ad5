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

Pred = Callable[[Any], bool]
CONTAINS_LOOP_MAX = 8  # up to this many `contains` needles, `in` in a loop beats the automaton
LOWER_MEMO_MIN = 256  # characters: shorter values are lower-cased on each test (cheaper than a lookup)
LOWER_MEMO_SIZE = 64  # long values whose lower-cased form is remembered (emptied when full)
_lowered: dict[str, str] = {}


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
        return text.lower()
    low = _lowered.get(text)
    if low is None:
        if len(_lowered) >= LOWER_MEMO_SIZE:
            _lowered.clear()
        low = _lowered[text] = text.lower()
    return low


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
        return lambda s: any(n in s for n in needles)
    automaton = ahocorasick.Automaton()
    for n in needles:
        automaton.add_word(n, n)
    automaton.make_automaton()
    return lambda s: next(automaton.iter(s), None) is not None


def string_pred(pats: StrPatterns) -> Pred:  # noqa: PLR0911 - one fast path per pattern shape
    """One predicate over a scalar event value for all patterns of the group."""
    if pats.anything:  # OR-ed with '*', which every value matches: no need to look at the value
        return _anything
    eq = frozenset(pats.eq)
    sw, ew, ct = tuple(pats.sw), tuple(pats.ew), tuple(pats.ct)
    rx = tuple(p.fullmatch for p in pats.rx)
    lower = not pats.cased
    if eq and not (sw or ew or ct or rx):
        if lower:
            return lambda v: (v if isinstance(v, str) else as_text(v)).lower() in eq
        return lambda v: (v if isinstance(v, str) else as_text(v)) in eq
    if ew and not (eq or sw or ct or rx):
        if lower:
            return lambda v: (v if isinstance(v, str) else as_text(v)).lower().endswith(ew)
        return lambda v: (v if isinstance(v, str) else as_text(v)).endswith(ew)
    if sw and not (eq or ew or ct or rx):
        if lower:
            return lambda v: (v if isinstance(v, str) else as_text(v)).lower().startswith(sw)
        return lambda v: (v if isinstance(v, str) else as_text(v)).startswith(sw)
    if len(ct) == 1 and not (eq or sw or ew or rx):
        (needle,) = ct
        if lower:
            return lambda v: needle in lowered(v if isinstance(v, str) else as_text(v))
        return lambda v: needle in (v if isinstance(v, str) else as_text(v))

    contains = _contains_any(ct)

    def pred(v: Any) -> bool:
        s = v if isinstance(v, str) else as_text(v)
        if lower:
            s = lowered(s)
        if s in eq or (sw and s.startswith(sw)) or (ew and s.endswith(ew)):
            return True
        if ct and contains(s):
            return True
        raw = v if isinstance(v, str) else as_text(v)
        return any(m(raw) for m in rx)

    return pred


def _anything(v: Any) -> bool:
    """The test of a bare '*' (e.g. `ContextInfo|contains: '*'`): true for any value given (the
    callers never pass null). It was the regex '.*' (DOTALL), whose full match also always succeeds,
    but only after walking the whole value (several KB for a PowerShell ContextInfo)."""
    return True


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
