"""Verifying an export offline: each kind of break is named, where it is, with the sound rows before it."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from responders.evidence.audit import manifest_path, render, verify_export
from responders.evidence.verify import VerifyResult
from schemas.evidence import EvidenceRecord
from tests.unit.responders.evidence.test_evidence_chain import _chain


def _export(tmp_path: Path, records: list[EvidenceRecord], fmt: str = "jsonl") -> tuple[Path, list[bytes]]:
    """An export of `records` with the manifest `export` would write (no control filter)."""
    out = tmp_path / f"acme.{fmt}"
    data = render(records, fmt)  # type: ignore[arg-type]
    out.write_bytes(data)
    manifest: dict[str, Any] = {
        "tenant": "acme", "control": None, "format": fmt, "file_sha256": hashlib.sha256(data).hexdigest(),
        "records": len(records), "by_record_type": dict(Counter(r.record_type.value for r in records)),
        "first_sequence": records[0].sequence, "last_sequence": records[-1].sequence,
        "chain": [[r.sequence, r.previous_hash, r.content_hash] for r in records],
    }  # fmt: skip
    manifest_path(out).write_bytes(orjson.dumps(manifest))
    return out, data.splitlines(keepends=True)


def _broken(result: VerifyResult) -> tuple[int, str, int]:
    assert result.first_break is not None
    return result.first_break.sequence, result.first_break.problem.split(":")[0], result.checked


def test_an_untouched_export_verifies(tmp_path: Path) -> None:
    """Every row, the chain, the figures and the file hash check out."""
    out, _ = _export(tmp_path, _chain(30))
    assert verify_export(out).ok and verify_export(out).checked == 30


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_two_swapped_rows_are_reported_as_reordered_where_the_first_is(tmp_path: Path, fmt: str) -> None:
    """Rows 11 and 21 (sequences 10 and 20) swapped: reordered at sequence 20, 10 sound rows before it
    (not 'the file does not match its hash' at sequence 0)."""
    out, lines = _export(tmp_path, _chain(30), fmt)
    head = 1 if fmt == "csv" else 0
    lines[head + 10], lines[head + 20] = lines[head + 20], lines[head + 10]
    out.write_bytes(b"".join(lines))
    assert _broken(verify_export(out)) == (20, "reordered", 10)


def test_a_deleted_row_is_reported_at_its_own_sequence(tmp_path: Path) -> None:
    """Row 5 (sequence 4) deleted: missing at sequence 4, with the 4 rows before it sound."""
    out, lines = _export(tmp_path, _chain(30))
    out.write_bytes(b"".join(lines[:4] + lines[5:]))
    assert _broken(verify_export(out)) == (4, "missing", 4)
    out.write_bytes(b"".join(lines[:-2]))  # the tail
    assert _broken(verify_export(out)) == (28, "missing", 28)


def test_a_manifest_whose_count_alone_was_edited_is_reported_as_altered(tmp_path: Path) -> None:
    """The file matches the manifest's file hash, only `records` changed: manifest altered, not deleted."""
    out, _ = _export(tmp_path, _chain(30))
    manifest = orjson.loads(manifest_path(out).read_bytes())
    manifest["records"] = 31
    manifest_path(out).write_bytes(orjson.dumps(manifest))
    _, kind, sound = _broken(verify_export(out))
    assert (kind, sound) == ("manifest altered", 30)
    assert "records 31 (the file: 30)" in verify_export(out).first_break.problem  # type: ignore[union-attr]


def test_altered_extra_and_replaced_rows_are_named(tmp_path: Path) -> None:
    """An edited row (hash kept), a duplicated row and a resealed row each get their own kind."""
    records = _chain(10)
    out, lines = _export(tmp_path, records)
    out.write_bytes(b"".join(lines).replace(b'"d3"', b'"d99"', 1))
    assert _broken(verify_export(out)) == (3, "altered", 3)
    out.write_bytes(b"".join([*lines[:6], lines[5], *lines[6:]]))
    assert _broken(verify_export(out)) == (5, "extra", 6)
    resealed = records[7].model_copy(update={"subject_id": "forged"}).sealed()
    out.write_bytes(b"".join([*lines[:7], render([resealed], "jsonl"), *lines[8:]]))
    assert _broken(verify_export(out)) == (7, "replaced", 7)


def test_a_manifest_chain_that_does_not_link_is_manifest_altered(tmp_path: Path) -> None:
    """A hash edited in the manifest's chain: manifest altered at that sequence, nothing checked as sound."""
    out, _ = _export(tmp_path, _chain(10))
    manifest = orjson.loads(manifest_path(out).read_bytes())
    manifest["chain"][6][1] = "f" * 64
    manifest_path(out).write_bytes(orjson.dumps(manifest))
    assert _broken(verify_export(out)) == (6, "manifest altered", 0)
