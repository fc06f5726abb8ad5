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
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sigma.types import (
    CompareOperators,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExpansion,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SigmaTimestampPart,
    TimestampPart,
)

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


def scalar_preds(  # noqa: PLR0912 - one branch per Sigma value type
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
            raise UnsupportedValueError(f"value type {type(v).__name__} ({v!s}) is not supported")
    for pats in (insensitive, cased):
        if pats.eq or pats.sw or pats.ew or pats.ct or pats.rx:
            preds.append(string_pred(pats))
            if needles is not None and pats.needles is not None:
                needles |= pats.needles
            else:
                needles = None
    return preds, needles
