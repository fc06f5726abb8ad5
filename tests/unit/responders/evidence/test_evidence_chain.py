"""The evidence hash chain, offline: what verify catches, and exports that round-trip byte for byte."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from responders.evidence.audit import parse, render, verify_chain
from schemas.evidence import GENESIS_HASH, EvidenceRecord, EvidenceType

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def _chain(n: int, tenant: str = "acme") -> list[EvidenceRecord]:
    records, previous = [], GENESIS_HASH
    for i in range(n):
        record = EvidenceRecord(
            tenant=tenant,
            sequence=i,
            record_type=EvidenceType.detection,
            subject_id=f"d{i}",
            occurred_at=T0 + timedelta(seconds=i),
            controls=["SOC2:CC7.2"],
            details={"n": i, "x": [1.5, "é"]},
            evidence_key=f"detection:d{i}",
            recorded_at=T0,
            previous_hash=previous,
        ).sealed()
        records.append(record)
        previous = record.content_hash
    return records


def test_an_intact_chain_verifies() -> None:
    """Contents, sequence numbers and links all check out."""
    result = verify_chain(_chain(5), tenant="acme")
    assert result.ok and result.checked == 5


def test_an_altered_record_is_named() -> None:
    """Changing a field without resealing breaks that record's own hash."""
    records = _chain(5)
    records[2] = records[2].model_copy(update={"details": {"n": 99}})
    result = verify_chain(records, tenant="acme")
    assert result.first_break is not None and result.first_break.sequence == 2
    assert "altered" in result.first_break.problem


def test_an_altered_and_resealed_record_breaks_the_next_link() -> None:
    """Recomputing the altered record's hash is caught by the next record's previous_hash."""
    records = _chain(5)
    records[2] = records[2].model_copy(update={"details": {"n": 99}}).sealed()
    result = verify_chain(records, tenant="acme")
    assert result.first_break is not None and result.first_break.sequence == 3
    assert "previous_hash" in result.first_break.problem


def test_deleted_and_inserted_records_are_named() -> None:
    """A gap names the first missing sequence; a duplicate number is an insertion."""
    records = _chain(5)
    gone = verify_chain(records[:2] + records[3:], tenant="acme")
    assert (
        gone.first_break is not None
        and gone.first_break.sequence == 2
        and "missing" in gone.first_break.problem
    )
    extra = [*records[:3], records[2].model_copy(update={"subject_id": "forged"}).sealed(), *records[3:]]
    inserted = verify_chain(extra, tenant="acme")
    assert inserted.first_break is not None and inserted.first_break.sequence == 2
    assert "inserted" in inserted.first_break.problem


def test_another_tenants_record_in_the_chain_is_named() -> None:
    """A chain is one tenant's: a record of another tenant breaks it."""
    mixed = [*_chain(2), _chain(3, tenant="globex")[2]]
    result = verify_chain(mixed, tenant="acme")
    assert result.first_break is not None and "globex" in result.first_break.problem


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_formats_round_trip_to_the_same_hashes(fmt: str) -> None:
    """What is written to jsonl or csv parses back to records whose hashes still verify."""
    records = _chain(4)
    back = parse(render(records, fmt), fmt)  # type: ignore[arg-type]
    assert back == records
    assert verify_chain(back, tenant="acme").ok
