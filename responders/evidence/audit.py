"""What auditors run: export one tenant's evidence with a manifest; verify an export (live chains: verify.py).

The manifest carries the chain segment the export spans, as (sequence, previous hash, content hash) for
*every* record of the tenant in that range, even those a `--control` filter left out (hashes only, so
nothing of their content is disclosed). Verifying an export therefore detects a record altered, removed
or inserted in the file, and also one altered, removed or inserted in the store before the export.
The manifest also carries an anchor of the whole chain (anchors.py): the chain head's last record.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import orjson
from elasticsearch import Elasticsearch

from responders.evidence.anchors import head_anchor
from responders.evidence.documents import evidence_from_doc
from responders.evidence.export_check import verify_records
from responders.evidence.verify import (
    Break,
    VerifyResult,
    chain_head,
    search_sorted,
    verify_chain,
    verify_live,
)
from schemas.common import utc_now
from schemas.evidence import EvidenceRecord
from socpipe.es import tenant_indices
from socpipe.settings import Settings

# Verifying a live chain lives in verify.py; callers keep importing it from here, beside the export's.
__all__ = [
    "Break",
    "VerifyResult",
    "export",
    "manifest_path",
    "parse",
    "render",
    "verify_chain",
    "verify_export",
    "verify_live",
]

CSV_COLUMNS = [
    "tenant",
    "sequence",
    "record_type",
    "subject_id",
    "occurred_at",
    "controls",
    "details",
    "evidence_key",
    "recorded_at",
    "previous_hash",
    "content_hash",
]


def control_query(control: str) -> dict[str, Any]:
    """A control named whole (SOC2:CC7.3) or by a prefix (SOC2, PCI-DSS-4.0:12.10)."""
    boundary = "." if ":" in control else ":"
    return {
        "bool": {
            "should": [
                {"term": {"evidence.controls": control}},
                {"prefix": {"evidence.controls": control + boundary}},
            ],
            "minimum_should_match": 1,
        }
    }


def _to_row(record: EvidenceRecord) -> dict[str, str]:
    data = record.model_dump(mode="json")
    row = {k: ("" if data[k] is None else str(data[k])) for k in CSV_COLUMNS}
    row["controls"] = ";".join(record.controls)
    row["details"] = orjson.dumps(record.details, option=orjson.OPT_SORT_KEYS).decode()
    return row


def _from_row(row: dict[str, str]) -> EvidenceRecord:
    data: dict[str, Any] = {k: (v if v != "" else None) for k, v in row.items()}
    data["controls"] = row["controls"].split(";") if row["controls"] else []
    data["details"] = orjson.loads(row["details"])
    return EvidenceRecord.model_validate(data)


def render(records: list[EvidenceRecord], fmt: Literal["jsonl", "csv"]) -> bytes:
    if fmt == "jsonl":
        return b"".join(orjson.dumps(r.model_dump(mode="json")) + b"\n" for r in records)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(_to_row(r) for r in records)
    return text.getvalue().encode()


def parse(data: bytes, fmt: Literal["jsonl", "csv"]) -> list[EvidenceRecord]:
    if fmt == "jsonl":
        return [EvidenceRecord.model_validate_json(line) for line in data.splitlines() if line.strip()]
    return [_from_row(row) for row in csv.DictReader(io.StringIO(data.decode()))]


def export(
    es: Elasticsearch,
    settings: Settings,
    tenant: str,
    out: Path,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    control: str | None = None,
    fmt: Literal["jsonl", "csv"] = "jsonl",
    end_inclusive: bool = False,
) -> dict[str, Any]:
    """Write the tenant's records (occurred in [start, end), or [start, end] with `end_inclusive`,
    supporting `control`) and a manifest."""
    index = tenant_indices(settings, tenant).evidence
    es.indices.refresh(index=index)
    filters: list[dict[str, Any]] = [{"term": {"evidence.tenant": tenant}}]
    if start or end:
        bounds = {"gte": start.isoformat()} if start else {}
        if end:
            bounds["lte" if end_inclusive else "lt"] = end.isoformat()
        filters.append({"range": {"evidence.occurred_at": bounds}})
    if control:
        filters.append(control_query(control))
    records = [
        evidence_from_doc(h["_source"]) for h in search_sorted(es, index, {"bool": {"filter": filters}})
    ]
    chain: list[list[Any]] = []
    if records:
        span = {"range": {"evidence.sequence": {"gte": records[0].sequence, "lte": records[-1].sequence}}}
        fields = ["evidence.sequence", "evidence.previous_hash", "evidence.content_hash"]
        for hit in search_sorted(es, index, {"bool": {"filter": [filters[0], span]}}, fields):
            e = hit["_source"]["evidence"]
            chain.append([e["sequence"], e["previous_hash"], e["content_hash"]])
    data = render(records, fmt)
    out.write_bytes(data)
    manifest = {
        "tenant": tenant,
        "from": start.isoformat() if start else None,
        "to": end.isoformat() if end else None,
        "to_inclusive": end_inclusive,
        "control": control,
        "format": fmt,
        "exported_at": utc_now().isoformat(),
        "file": out.name,
        "file_sha256": hashlib.sha256(data).hexdigest(),
        "records": len(records),
        "by_record_type": dict(Counter(r.record_type.value for r in records)),
        "by_control": dict(Counter(c for r in records for c in r.controls)),
        "first_sequence": records[0].sequence if records else None,
        "last_sequence": records[-1].sequence if records else None,
        "chain": chain,
        "chain_head": chain_head(es, settings, tenant),
        # For `evidence verify --tenant T --anchor THIS.manifest.json` later (anchors.py).
        "anchor": head_anchor(es, settings, tenant),
    }
    manifest_path(out).write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    return manifest


def manifest_path(export_file: Path) -> Path:
    return export_file.with_name(export_file.name + ".manifest.json")


def verify_export(export_file: Path) -> VerifyResult:
    """Re-check an export against its manifest: file hash, chain segment links, every record's hash."""
    manifest = orjson.loads(manifest_path(export_file).read_bytes())
    data = export_file.read_bytes()
    try:
        records = parse(data, manifest["format"])
    except (ValueError, KeyError) as exc:
        what = f"altered: the file cannot be read: {exc}"
        return VerifyResult(0, Break(manifest["first_sequence"] or 0, what), "")
    return verify_records(manifest, data, records)
