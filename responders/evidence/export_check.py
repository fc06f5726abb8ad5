"""Verifying an export against its manifest, and saying what was found: where, what kind, how much is sound.

An auditor who is told "broken" needs to know what broke. Each check names the first problem as
`Break(sequence, problem)`, the problem opening with its kind:

- **altered**: a row's content does not match its own hash;
- **replaced**: a row is a valid record, but not the one the manifest's chain holds at its number;
- **missing**: a sequence the export must hold is not in the file (deleted);
- **reordered**: rows are not in sequence order (two swapped, one moved);
- **extra**: a row the chain does not hold there (inserted, duplicated, another tenant's);
- **manifest altered**: the file is the one exported (it matches the manifest's file hash) but the
  manifest's own figures disagree with it, or its chain does not link up.

`VerifyResult.checked` is the number of rows before the break that are sound. Without a `--control`
filter an export holds every record of its span, so a gap is located exactly; with one, the manifest's
count is what is compared.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any

from responders.evidence.verify import Break, VerifyResult
from schemas.evidence import EvidenceRecord


def verify_records(manifest: dict[str, Any], data: bytes, records: list[EvidenceRecord]) -> VerifyResult:
    """The checks in order, the first break reported: manifest chain, rows, completeness, figures, hash."""
    chain: list[list[Any]] = manifest["chain"]
    if not chain:
        if records:
            return VerifyResult(
                0, Break(records[0].sequence, "extra: rows in a file whose manifest lists none"), ""
            )
        return _check_figures(manifest, data, records, 0, "")
    broken, last_hash = _check_segment(chain)
    if broken is not None:
        return VerifyResult(0, broken, last_hash)
    sound, broken = _check_rows(manifest, chain, records)
    if broken is not None:
        return VerifyResult(sound, broken, "")
    return _check_figures(manifest, data, records, sound, last_hash)


def _check_segment(chain: list[list[Any]]) -> tuple[Break | None, str]:
    """The manifest's chain segment links up: the first break (if any), and the hash reached."""
    expected, previous = chain[0][0], chain[0][1]
    for sequence, previous_hash, content_hash in chain:
        if sequence != expected:
            return Break(expected, "manifest altered: its chain skips this sequence"), previous
        if previous_hash != previous:
            what = (
                "manifest altered: its chain does not link up here (or the store was altered before export)"
            )
            return Break(sequence, what), previous
        previous, expected = content_hash, expected + 1
    return None, previous


def _row_problem(
    record: EvidenceRecord, tenant: str, links: dict[int, tuple[str, str]], seen: set[int]
) -> str | None:
    if record.tenant != tenant:
        return f"extra: a record of tenant {record.tenant!r} in {tenant!r}'s export"
    if record.sequence not in links:
        return "extra: not in the manifest's chain (inserted)"
    if record.sequence in seen:
        return "extra: the same sequence twice (duplicated)"
    if record.compute_hash() != record.content_hash:
        return "altered: the row's content does not match its hash"
    if (record.previous_hash, record.content_hash) != links[record.sequence]:
        return "replaced: a valid record, but not the one the manifest's chain holds here"
    return None


def _check_rows(
    manifest: dict[str, Any], chain: list[list[Any]], records: list[EvidenceRecord]
) -> tuple[int, Break | None]:
    """Each row in file order: is it the chain's record at its number, in order, with none skipped?"""
    tenant, every = manifest["tenant"], not manifest.get("control")
    links = {s: (p, h) for s, p, h in chain}
    order = [s for s, _, _ in chain]
    seen: set[int] = set()
    rows_of = {r.sequence: row for row, r in reversed(list(enumerate(records)))}
    for row, record in enumerate(records):
        problem = _row_problem(record, tenant, links, seen)
        if problem is not None:
            return row, Break(record.sequence, problem)
        if row and record.sequence < records[row - 1].sequence:
            first = next(i for i, r in enumerate(records) if r.sequence > record.sequence)
            what = (
                f"reordered: row {first + 1} holds sequence {records[first].sequence}, "
                f"row {row + 1} sequence {record.sequence}, which comes before it"
            )
            return first, Break(records[first].sequence, what)
        if every and record.sequence != order[row]:
            expected = order[row]
            if expected in rows_of:  # it is in the file, elsewhere
                what = (
                    f"reordered: row {row + 1} holds sequence {record.sequence}, "
                    f"sequence {expected} is in row {rows_of[expected] + 1}"
                )
                return row, Break(record.sequence, what)
            return row, Break(expected, "missing: this sequence is not in the file (deleted)")
        seen.add(record.sequence)
    if every and len(records) < len(order):
        gone = order[len(records)]
        return len(records), Break(gone, "missing: this sequence and those after it are not in the file")
    return len(records), None


def _check_figures(
    manifest: dict[str, Any], data: bytes, records: list[EvidenceRecord], sound: int, last_hash: str
) -> VerifyResult:
    """The manifest's count, per-type counts and span against the rows; the file against its hash."""
    file_intact = hashlib.sha256(data).hexdigest() == manifest["file_sha256"]
    figures = {
        "records": len(records),
        "by_record_type": dict(Counter(r.record_type.value for r in records)),
        "first_sequence": records[0].sequence if records else None,
        "last_sequence": records[-1].sequence if records else None,
    }
    wrong = [name for name, value in figures.items() if manifest.get(name) != value]
    where = manifest.get("first_sequence") or 0
    if wrong and file_intact:
        said = ", ".join(f"{name} {manifest.get(name)!r} (the file: {figures[name]!r})" for name in wrong)
        return VerifyResult(sound, Break(where, f"manifest altered: it says {said}"), "")
    if wrong:
        count = manifest.get("records")
        what = f"missing: the file holds {len(records)} records, the manifest {count} (deleted)"
        return VerifyResult(sound, Break(where, what), "")
    if not file_intact:
        what = (
            "altered: every row checks out, but the file does not match the manifest's file_sha256 "
            "(the file was reformatted, or the manifest's hash altered)"
        )
        return VerifyResult(sound, Break(where, what), "")
    return VerifyResult(sound, None, last_hash)
