"""STIX 2.1 patterns -> the (kind, value) pairs socpipe can index.

An indicator is indexable when its pattern is one observation expression, or several joined by OR,
each a comparison `=` (or `IN (...)`) on a path socpipe matches (below): what matching a single value
can decide. Anything else (AND across objects, FOLLOWEDBY, qualifiers such as WITHIN, MATCHES, other
paths) needs a stateful pattern engine and is refused with a reason the load report counts.

The parsing is the OASIS reference parser, `stix2-patterns` (ANTLR grammar of the specification).
At about 0.8 ms a pattern it would take 13 minutes for a million, so the overwhelmingly common shapes,
`[object:path = 'value']` comparisons joined by OR (inside one observation, or across observations),
are read by a strict regular expression first. The expression takes only a subset of what the grammar
takes (lower-case object types, `=` only, upper-case `OR` between whitespace, no escape in a value), so
anything it does not take whole goes to the reference parser; the tests check on a generated corpus that
both read the same pairs.
"""

from __future__ import annotations

import re

from stix2patterns.pattern import ParseException, Pattern

from detectors.intel.model import IndicatorKind

# (object type, property path) -> kind; hash names as the STIX vocabulary spells them, plus common variants.
PATHS: dict[tuple[str, tuple[str, ...]], IndicatorKind] = {
    ("ipv4-addr", ("value",)): IndicatorKind.ip,
    ("ipv6-addr", ("value",)): IndicatorKind.ip,
    ("domain-name", ("value",)): IndicatorKind.domain,
    ("url", ("value",)): IndicatorKind.url,
    ("email-addr", ("value",)): IndicatorKind.email,
    ("email-message", ("from_ref", "value")): IndicatorKind.email,
    ("email-message", ("sender_ref", "value")): IndicatorKind.email,
}
for _name, _kind in (
    ("MD5", IndicatorKind.md5),
    ("SHA-1", IndicatorKind.sha1),
    ("SHA1", IndicatorKind.sha1),
    ("SHA-256", IndicatorKind.sha256),
    ("SHA256", IndicatorKind.sha256),
):
    PATHS[("file", ("hashes", _name))] = _kind
    PATHS[("artifact", ("hashes", _name))] = _kind
# The same, keyed as the fast path's expression captures the path (`hashes.'SHA-256'` or `hashes.MD5`).
_FAST_PATHS: dict[tuple[str, str], IndicatorKind] = {}
for (_obj, _steps), _kind in PATHS.items():
    if len(_steps) == 1:
        _FAST_PATHS[(_obj, _steps[0])] = _kind
    elif _steps[0] == "hashes":
        _FAST_PATHS[(_obj, f"hashes.'{_steps[1]}'")] = _kind
        if "-" not in _steps[1]:
            _FAST_PATHS[(_obj, f"hashes.{_steps[1]}")] = _kind

# `type:path = 'value'`, the path's hash name optionally quoted; no quote or backslash in the value.
_COMPARISON = r"([a-z][a-z0-9-]*):(value|hashes\.(?:'[A-Za-z0-9-]+'|[A-Za-z0-9]+))\s*=\s*'([^'\\]*)'"
_OBSERVATION = rf"\[\s*{_COMPARISON}(?:\s+OR\s+{_COMPARISON})*\s*\]"
# One or more observations of such comparisons, all joined by OR. Checked whole before pairs are read.
_SIMPLE = re.compile(rf"{_OBSERVATION}(?:\s+OR\s+{_OBSERVATION})*")
_PAIRS = re.compile(_COMPARISON)
_ONE = re.compile(rf"\[\s*{_COMPARISON}\s*\]")  # the commonest shape by far, read in one match

_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'")
_AND = re.compile(r"\bAND\b", re.IGNORECASE)


class UnsupportedPatternError(ValueError):
    """A valid pattern socpipe cannot match one value at a time (or an invalid one)."""


def comparisons(pattern: str) -> list[tuple[IndicatorKind, str]]:
    """The indexable (kind, raw value) pairs of a pattern; UnsupportedPatternError says why there are none."""
    text = pattern.strip()
    one = _ONE.fullmatch(text)
    if one is not None:
        found = [one.groups()]
    elif _SIMPLE.fullmatch(text) is not None:
        # The whole text is comparisons, brackets and ORs, and no value holds a quote, so the leftmost
        # matches of one comparison are exactly the comparisons, in order.
        found = _PAIRS.findall(text)
    else:
        return _reference(pattern)
    out: list[tuple[IndicatorKind, str]] = []
    for obj, path, value in found:
        kind = _FAST_PATHS.get((obj, path))
        if kind is None:
            raise UnsupportedPatternError(f"path {obj}:{path} is not one socpipe matches")
        out.append((kind, value))
    return out


def fast(pattern: str) -> bool:
    """Whether the fast path reads this pattern (the reference parser is not asked)."""
    return _SIMPLE.fullmatch(pattern.strip()) is not None


def _reference(pattern: str) -> list[tuple[IndicatorKind, str]]:
    try:
        parsed = Pattern(pattern)
    except ParseException as exc:
        raise UnsupportedPatternError(f"not a valid STIX pattern: {exc}") from exc
    data = parsed.inspect()
    if data.qualifiers:
        raise UnsupportedPatternError(f"qualifiers {sorted(data.qualifiers)} need a stateful engine")
    if data.observation_ops - {"OR"}:
        raise UnsupportedPatternError(f"observation operators {sorted(data.observation_ops)} are not matched")
    if _AND.search(_QUOTED.sub("''", pattern)):
        raise UnsupportedPatternError("AND of comparisons is not matched one value at a time")
    out: list[tuple[IndicatorKind, str]] = []
    for obj, items in data.comparisons.items():
        for path, op, literal in items:
            steps = tuple(str(p) for p in path)
            kind = PATHS.get((obj, steps))
            if kind is None:
                raise UnsupportedPatternError(f"path {obj}:{'.'.join(steps)} is not one socpipe matches")
            if op == "=":
                out.append((kind, _unquote(literal)))
            elif op == "IN":
                out += [(kind, _unquote(v)) for v in _set_items(literal)]
            else:
                raise UnsupportedPatternError(f"operator {op} is not matched")
    return out


def _unquote(literal: str) -> str:
    if len(literal) >= 2 and literal[0] == literal[-1] == "'":
        return literal[1:-1].replace("\\'", "'").replace("\\\\", "\\")
    raise UnsupportedPatternError(f"value {literal} is not a string")


def _set_items(literal: str) -> list[str]:
    inner = literal.strip()[1:-1]
    return [item.strip() for item in re.findall(r"'(?:[^'\\]|\\.)*'", inner)]
