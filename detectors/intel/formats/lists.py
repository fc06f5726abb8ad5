"""Plain lists: one value a line (text), or CSV with a header naming the value column.

A text line is a value, `#` starts a comment; the kind is recognised from the value (IP or CIDR,
hash by length, email, URL, else domain). A CSV file has a header: the value column is the first
of `value`, `indicator`, `ioc`; optional columns `type`, `first_seen`, `last_seen`, `valid_until`,
`confidence`, `tlp`, `labels` (`;`-separated) give the provenance per row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import IO

from detectors.intel import values
from detectors.intel.formats.report import LoadReport
from detectors.intel.model import Indicator, IndicatorKind, Interner, Provenance, Tlp, epoch

VALUE_COLUMNS = ("value", "indicator", "ioc")
TYPE_ALIASES = {
    "ipv4-addr": IndicatorKind.ip,
    "ipv6-addr": IndicatorKind.ip,
    "ipv4": IndicatorKind.ip,
    "ipv6": IndicatorKind.ip,
    "cidr": IndicatorKind.ip,
    "domain-name": IndicatorKind.domain,
    "hostname": IndicatorKind.domain,
    "email-addr": IndicatorKind.email,
    "sha-1": IndicatorKind.sha1,
    "sha-256": IndicatorKind.sha256,
}


def _lines(data: IO[bytes], newline: str | None) -> io.TextIOWrapper:
    """The stream as text, line by line (undecodable bytes replaced, not fatal: one bad line is skipped
    by its parser, the rest load). Detached when done so the caller's stream stays open."""
    return io.TextIOWrapper(data, encoding="utf-8", errors="replace", newline=newline)


def read_text(data: IO[bytes], source: str, default_tlp: Tlp, report: LoadReport) -> Iterator[Indicator]:
    """One value a line, read from the stream a line at a time."""
    provenance = Provenance(source, default_tlp)
    text = _lines(data, None)
    try:
        yield from _text(text, provenance, report)
    finally:
        text.detach()


def _text(lines: Iterator[str], provenance: Provenance, report: LoadReport) -> Iterator[Indicator]:
    for number, line in enumerate(lines, 1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        try:
            kind, value = values.guess(entry)
        except values.BadValueError as exc:
            report.skip(f"bad value: {exc}", f"line {number}")
            continue
        yield Indicator(kind, value, provenance)


_KINDS: dict[str, IndicatorKind] = {**{str(k): k for k in IndicatorKind}, **TYPE_ALIASES}
_PROVENANCE_COLUMNS = ("tlp", "confidence", "labels")
_TIME_COLUMNS = ("first_seen", "last_seen", "valid_until")


def read_csv(data: IO[bytes], source: str, default_tlp: Tlp, report: LoadReport) -> Iterator[Indicator]:
    """Rows by column position (csv.reader; DictReader costs a third more on a million rows), read
    from the stream a row at a time."""
    text = _lines(data, "")
    try:
        yield from _csv(csv.reader(text), source, default_tlp, report)
    finally:
        text.detach()


def _csv(rows: Iterator[list[str]], source: str, default_tlp: Tlp, report: LoadReport) -> Iterator[Indicator]:
    header = [h.strip().lower() for h in next(rows, [])]
    column = next((header.index(c) for c in VALUE_COLUMNS if c in header), None)
    if column is None:
        raise ValueError(f"{source}: CSV header has no value column (one of {', '.join(VALUE_COLUMNS)})")
    type_at = header.index("type") if "type" in header else None
    times = [header.index(c) if c in header else None for c in _TIME_COLUMNS]
    has_times = any(i is not None for i in times)
    extra = {c: header.index(c) for c in _PROVENANCE_COLUMNS if c in header}
    intern = Interner()
    plain = Provenance(source, default_tlp)
    for number, row in enumerate(rows, 2):
        if not row:
            continue
        try:
            raw = values.refang(row[column])
            kind_text = row[type_at].strip().lower() if type_at is not None and type_at < len(row) else ""
            if kind_text:
                kind = _KINDS.get(kind_text) or IndicatorKind(kind_text)
                value = values.normalise(kind, raw)
            else:
                kind, value = values.guess(raw)
            provenance = plain
            cells = {c: row[i].strip() for c, i in extra.items() if i < len(row) and row[i].strip()}
            if cells:
                labels = tuple(sorted(filter(None, cells.get("labels", "").split(";"))))
                confidence = int(cells["confidence"]) if "confidence" in cells else None
                tlp = Tlp.parse(cells.get("tlp"), default_tlp) or default_tlp
                provenance = intern(Provenance(source, tlp, confidence, labels))
            first = last = until = None
            if has_times:
                first, last, until = (
                    epoch(row[i]) if i is not None and i < len(row) else None for i in times
                )
            indicator = Indicator(kind, value, provenance, None, first, last, until)
        except (ValueError, IndexError) as exc:  # BadValueError, an unknown type, a bad number or date
            report.skip(f"bad row: {exc}", f"line {number}")
            continue
        yield indicator
