"""Sigma values (after pySigma applied the modifiers) turned into predicates on one event value.

String values live in strings.py; this module covers numbers, comparisons, CIDR, booleans,
timestamp parts, and groups all values of one field.

pySigma resolves most modifiers while parsing: contains/startswith/endswith become wildcards,
base64/base64offset/wide/utf16*/windash become (expansions of) plain strings, re/i/m/s become a
SigmaRegularExpression, cased a SigmaCasedString, gt/gte/lt/lte a SigmaCompareExpression, and so
on. This module only has to decide, for each resulting value, how to test one scalar event value.

A non-string event value is compared with string values through `str()` (numbers) or
`"true"/"false"` (booleans).
"""

from __future__ import annotations

import ipaddress
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from detectors.sigma.ir import Value
from detectors.sigma.strings import Pred, StrPatterns, add_string, as_text, regex_pred, string_pred


class UnsupportedValueError(ValueError):
    """A Sigma value this engine cannot evaluate (e.g. a backend-specific query expression)."""


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


def number_pred(n: float) -> Pred:
    text = str(n)

    def pred(v: Any) -> bool:
        if isinstance(v, bool):
            return False
        if isinstance(v, int | float):
            return bool(v == n)
        num = _to_number(v)
        return num == n if num is not None else as_text(v).strip() == text

    return pred


_OPS: dict[str, Callable[[float, float], bool]] = {
    "LT": operator.lt,
    "LTE": operator.le,
    "GT": operator.gt,
    "GTE": operator.ge,
    "NEQ": operator.ne,
}


def compare_pred(op_name: str, ref: float) -> Pred:
    op = _OPS[op_name]

    def pred(v: Any) -> bool:
        num = _to_number(v)
        return num is not None and op(num, ref)

    return pred


def cidr_pred(network: str) -> Pred:
    net = ipaddress.ip_network(network)

    def pred(v: Any) -> bool:
        try:
            return ipaddress.ip_address(as_text(v).strip()) in net
        except ValueError:
            return False

    return pred


def bool_pred(b: bool) -> Pred:
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


_PARTS: dict[str, Callable[[datetime], int]] = {
    "MINUTE": lambda d: d.minute,
    "HOUR": lambda d: d.hour,
    "DAY": lambda d: d.day,
    "WEEK": lambda d: d.isocalendar().week,
    "MONTH": lambda d: d.month,
    "YEAR": lambda d: d.year,
}


def timestamp_part_pred(part_name: str, n: int) -> Pred:
    part = _PARTS[part_name]

    def pred(v: Any) -> bool:
        dt = parse_timestamp(v)
        return dt is not None and part(dt) == n

    return pred


def scalar_preds(  # noqa: PLR0912 - one branch per value kind
    values: Iterable[Value], placeholders: Mapping[str, Sequence[str]]
) -> tuple[list[Pred], set[str] | None]:
    """Predicates for OR-joined values (ir.py) of one field, and the needles the prefilter may use."""
    insensitive, cased = StrPatterns(cased=False), StrPatterns(cased=True)
    preds: list[Pred] = []
    needles: set[str] | None = set()
    for v in values:
        kind = v[0]
        if kind == "s":
            add_string(cased if v[1] else insensitive, v[2], placeholders)
        elif kind == "re":
            pred, literal = regex_pred(v[1], v[2])
            preds.append(pred)
            if needles is not None and literal:
                needles.add(literal.lower())
            else:
                needles = None
        else:
            if kind == "ts":
                preds.append(timestamp_part_pred(v[1], v[2]))
            elif kind == "n":
                preds.append(number_pred(v[1]))
            elif kind == "cmp":
                preds.append(compare_pred(v[1], v[2]))
            elif kind == "cidr":
                preds.append(cidr_pred(v[1]))
            elif kind == "b":
                preds.append(bool_pred(v[1]))
            else:
                raise UnsupportedValueError(f"value kind {kind!r} is not supported")
            needles = None
    for pats in (insensitive, cased):
        if pats.anything or pats.eq or pats.sw or pats.ew or pats.ct or pats.rx:
            preds.append(string_pred(pats))
            if needles is not None and pats.needles is not None:
                needles |= pats.needles
            else:
                needles = None
    return preds, needles
