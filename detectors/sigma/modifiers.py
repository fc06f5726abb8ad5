"""Sigma values (after pySigma applied the modifiers) turned into predicates on one event value.

pySigma resolves most modifiers while parsing: contains/startswith/endswith become wildcards,
base64/base64offset/wide/utf16*/windash become (expansions of) plain strings, re/i/m/s become a
SigmaRegularExpression, cased a SigmaCasedString, gt/gte/lt/lte a SigmaCompareExpression, and so
on. This module only has to decide, for each resulting value, how to test one scalar event value.

Strings compare case-insensitively unless `cased`; a non-string event value is compared through
`str()` (numbers) or `"true"/"false"` (booleans). Values of one field joined by OR are grouped into
one predicate so that a list of 40 `endswith` suffixes costs one `str.endswith(tuple)` call.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExpansion,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SigmaTimestampPart,
    SpecialChars,
    TimestampPart,
)

Pred = Callable[[Any], bool]


class UnsupportedValue(ValueError):
    """A Sigma value this engine cannot evaluate (e.g. a backend-specific query expression)."""


def as_text(value: Any) -> str:
    """The string form of an event value that string patterns are tested against."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass
class StrPatterns:
    """String patterns of one field, joined by OR, split by kind for fast testing."""

    cased: bool
    eq: set[str] = field(default_factory=set)
    sw: list[str] = field(default_factory=list)
    ew: list[str] = field(default_factory=list)
    ct: list[str] = field(default_factory=list)
    rx: list[re.Pattern[str]] = field(default_factory=list)
    # Literal substrings of which each pattern needs at least one; None when some pattern has none.
    needles: set[str] | None = field(default_factory=set)

    def add_needle(self, needle: str | None) -> None:
        if self.needles is None:
            return
        if not needle:
            self.needles = None
        else:
            self.needles.add(needle.lower())


def _parts(value: SigmaString, placeholders: Mapping[str, Sequence[str]]) -> list[list[Any]]:
    """The SigmaString as lists of parts, one list per combination of placeholder values."""
    variants: list[list[Any]] = [[]]
    for part in value.s:
        if isinstance(part, Placeholder):
            repl = placeholders.get(part.name)
            if not repl:
                return []  # no value for this placeholder: the value matches nothing
            variants = [v + [r] for v in variants for r in repl]
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


def add_string(pats: StrPatterns, value: SigmaString, placeholders: Mapping[str, Sequence[str]]) -> None:
    """Classify one Sigma string value (equals / prefix / suffix / contains / wildcard regex)."""
    cased = pats.cased
    for raw in _parts(value, placeholders):
        parts = _merge(raw)
        star = SpecialChars.WILDCARD_MULTI
        lead = bool(parts) and parts[0] is star
        trail = len(parts) > 1 and parts[-1] is star
        core = parts[1 if lead else 0 : len(parts) - 1 if trail else len(parts)]
        if not core and (lead or trail):
            pats.rx.append(re.compile(".*", re.DOTALL))  # '*' matches any value
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
        regex = "".join(
            ".*" if p is star else "." if p is SpecialChars.WILDCARD_SINGLE else re.escape(p) for p in parts
        )
        flags = re.DOTALL | (0 if cased else re.IGNORECASE)
        pats.rx.append(re.compile(regex, flags))
        literals = [p for p in parts if isinstance(p, str)]
        pats.add_needle(max(literals, key=len) if literals else None)


def string_pred(pats: StrPatterns) -> Pred:
    """One predicate over a scalar event value for all patterns of the group."""
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
            return lambda v: needle in (v if isinstance(v, str) else as_text(v)).lower()
        return lambda v: needle in (v if isinstance(v, str) else as_text(v))

    def pred(v: Any) -> bool:
        s = v if isinstance(v, str) else as_text(v)
        if lower:
            s = s.lower()
        if s in eq or (sw and s.startswith(sw)) or (ew and s.endswith(ew)):
            return True
        for n in ct:
            if n in s:
                return True
        raw = v if isinstance(v, str) else as_text(v)
        return any(m(raw) for m in rx)

    return pred


def regex_pred(value: SigmaRegularExpression) -> tuple[Pred, str | None]:
    """A `re` value: Python `re.search` with the i/m/s flags; plus a literal every match contains."""
    flags = 0
    for f in value.flags:
        flags |= SigmaRegularExpression.sigma_to_python_flags[f]
    compiled = re.compile(str(value.regexp), flags)
    search = compiled.search
    literal = regex_literal(compiled)
    if not literal:
        return (lambda v: search(v if isinstance(v, str) else as_text(v)) is not None), None
    # Cheap guard: the literal every match contains, tested before the (backtracking) regex.
    if compiled.flags & re.IGNORECASE:
        low = literal.lower()

        def guarded(v: Any) -> bool:
            s = v if isinstance(v, str) else as_text(v)
            return low in s.lower() and search(s) is not None

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


def _to_number(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int | float):
        return v
    try:
        s = str(v).strip()
        return int(s, 0) if s.lower().startswith(("0x", "0o", "0b")) else float(s)
    except ValueError:
        return None


def number_pred(value: SigmaNumber) -> Pred:
    n = value.number
    text = str(n)

    def pred(v: Any) -> bool:
        if isinstance(v, bool):
            return False
        if isinstance(v, int | float):
            return bool(v == n)
        num = _to_number(v)
        return num == n if num is not None else as_text(v).strip() == text

    return pred


_OPS: dict[CompareOperators, Callable[[float, float], bool]] = {
    CompareOperators.LT: lambda a, b: a < b,
    CompareOperators.LTE: lambda a, b: a <= b,
    CompareOperators.GT: lambda a, b: a > b,
    CompareOperators.GTE: lambda a, b: a >= b,
    CompareOperators.NEQ: lambda a, b: a != b,
}


def compare_pred(value: SigmaCompareExpression) -> Pred:
    op, ref = _OPS[value.op], value.number.number

    def pred(v: Any) -> bool:
        num = _to_number(v)
        return num is not None and op(num, ref)

    return pred


def cidr_pred(value: SigmaCIDRExpression) -> Pred:
    net = value.network

    def pred(v: Any) -> bool:
        try:
            return ipaddress.ip_address(as_text(v).strip()) in net
        except ValueError:
            return False

    return pred


def bool_pred(value: SigmaBool) -> Pred:
    b = value.boolean
    text = "true" if b else "false"
    return lambda v: v is b if isinstance(v, bool) else as_text(v).strip().lower() == text


def parse_timestamp(v: Any) -> datetime | None:
    """An event time as aware UTC datetime: ISO-8601 text or epoch seconds / milliseconds."""
    if isinstance(v, datetime):
        return v if v.tzinfo else v.replace(tzinfo=UTC)
    if isinstance(v, int | float) and not isinstance(v, bool):
        return datetime.fromtimestamp(v / 1000 if v > 1e11 else v, UTC)
    try:
        dt = datetime.fromisoformat(as_text(v).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


_PARTS: dict[TimestampPart, Callable[[datetime], int]] = {
    TimestampPart.MINUTE: lambda d: d.minute,
    TimestampPart.HOUR: lambda d: d.hour,
    TimestampPart.DAY: lambda d: d.day,
    TimestampPart.WEEK: lambda d: d.isocalendar().week,
    TimestampPart.MONTH: lambda d: d.month,
    TimestampPart.YEAR: lambda d: d.year,
}


def timestamp_part_pred(value: SigmaTimestampPart) -> Pred:
    part, n = _PARTS[value.timestamp_part], value.number

    def pred(v: Any) -> bool:
        dt = parse_timestamp(v)
        return dt is not None and part(dt) == n

    return pred


def scalar_preds(
    values: Iterable[Any], placeholders: Mapping[str, Sequence[str]]
) -> tuple[list[Pred], set[str] | None]:
    """Predicates for OR-joined values of one field, and the needles the prefilter may use."""
    insensitive, cased = StrPatterns(cased=False), StrPatterns(cased=True)
    preds: list[Pred] = []
    needles: set[str] | None = set()
    flat: list[Any] = []
    for v in values:
        flat.extend(v.values if isinstance(v, SigmaExpansion) else [v])
    for v in flat:
        if isinstance(v, SigmaCasedString):
            add_string(cased, v, placeholders)
        elif isinstance(v, SigmaString):
            add_string(insensitive, v, placeholders)
        elif isinstance(v, SigmaRegularExpression):
            pred, literal = regex_pred(v)
            preds.append(pred)
            if needles is not None and literal:
                needles.add(literal.lower())
            else:
                needles = None
        elif isinstance(v, SigmaTimestampPart):
            preds.append(timestamp_part_pred(v))
            needles = None
        elif isinstance(v, SigmaNumber):
            preds.append(number_pred(v))
            needles = None
        elif isinstance(v, SigmaCompareExpression):
            preds.append(compare_pred(v))
            needles = None
        elif isinstance(v, SigmaCIDRExpression):
            preds.append(cidr_pred(v))
            needles = None
        elif isinstance(v, SigmaBool):
            preds.append(bool_pred(v))
            needles = None
        else:
            raise UnsupportedValue(f"value type {type(v).__name__} ({v!s}) is not supported")
    for pats in (insensitive, cased):
        if pats.eq or pats.sw or pats.ew or pats.ct or pats.rx:
            preds.append(string_pred(pats))
            if needles is not None and pats.needles is not None:
                needles |= pats.needles
            else:
                needles = None
    return preds, needles
