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


def read_text(data: bytes, source: str, default_tlp: Tlp, report: LoadReport) -> Iterator[Indicator]:
    provenance = Provenance(source, default_tlp)
    for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        try:
            kind, value = values.guess(entry)
        except values.BadValueError as exc:
            report.skip(f"bad value: {exc}", f"line {number}")
            continue
        yield Indicator(kind, value, provenance)


def _kind(text: str) -> IndicatorKind:
    word = text.strip().lower()
    return TYPE_ALIASES.get(word) or IndicatorKind(word)


def read_csv(data: bytes, source: str, default_tlp: Tlp, report: LoadReport) -> Iterator[Indicator]:
    reader = csv.DictReader(io.StringIO(data.decode("utf-8", errors="replace")))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    reader.fieldnames = header
    column = next((c for c in VALUE_COLUMNS if c in header), None)
    if column is None:
        raise ValueError(f"{source}: CSV header has no value column (one of {', '.join(VALUE_COLUMNS)})")
    intern = Interner()
    plain = Provenance(source, default_tlp)
    for number, row in enumerate(reader, 2):
        try:
            raw = values.refang(row[column] or "")
            if row.get("type"):
                kind = _kind(row["type"])
                value = values.normalise(kind, raw)
            else:
                kind, value = values.guess(raw)
            provenance = plain
            if row.get("tlp") or row.get("confidence") or row.get("labels"):
                labels = tuple(sorted(filter(None, (row.get("labels") or "").split(";"))))
                confidence = int(row["confidence"]) if row.get("confidence") else None
                provenance = intern(
                    Provenance(
                        source, Tlp.parse(row.get("tlp"), default_tlp) or default_tlp, confidence, labels
                    )
                )
            indicator = Indicator(
                kind,
                value,
                provenance,
                None,
                epoch(row.get("first_seen")),
                epoch(row.get("last_seen")),
                epoch(row.get("valid_until")),
            )
        except ValueError as exc:  # BadValueError, an unknown type, a bad number or date
            report.skip(f"bad row: {exc}", f"line {number}")
            continue
        yield indicator
