"""External anchors of a tenant's evidence chain: what an auditor keeps so that a whole rewrite shows.

The hash chain finds any record altered, deleted or inserted *unless* the writer recomputes every hash
after it and the chain head too: the rewritten chain is consistent, and `verify` passes. An anchor is a
(sequence, content hash) of the chain taken at some moment and kept where that writer cannot reach: the
manifest `socpipe evidence export` writes carries one (`anchor`: tenant, sequence and hash of the chain
head's last record, and when). Since each record's hash covers its `previous_hash`, a live chain that
verifies and still holds the anchored hash at the anchored sequence holds every record up to it
unchanged; one that does not was rewritten at or before that sequence (or cut short before it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from elasticsearch import Elasticsearch

from responders.evidence.chain import read_head
from responders.evidence.verify import Break
from schemas.common import utc_now
from socpipe.es import tenant_indices
from socpipe.settings import Settings


class AnchorError(ValueError):
    """An anchor that cannot be used: not a manifest, no anchor in it, or another tenant's."""


@dataclass(frozen=True)
class Anchor:
    tenant: str
    sequence: int
    hash: str
    at: str | None  # when it was taken (the export's time)
    source: str  # where it came from (the manifest's path), to name it

    def __str__(self) -> str:
        return f"{self.source} (sequence {self.sequence}, taken {self.at or 'at an unknown time'})"


def head_anchor(es: Elasticsearch, settings: Settings, tenant: str) -> dict[str, Any] | None:
    """The anchor a manifest carries: the chain head's last record, now; None for an empty chain."""
    head = read_head(es, settings, tenant)
    if head.seq_no is None or head.next_sequence == 0:
        return None
    return {
        "tenant": tenant,
        "sequence": head.next_sequence - 1,
        "hash": head.last_hash,
        "at": utc_now().isoformat(),
    }


def load_anchor(path: Path) -> Anchor:
    """The anchor of an export manifest (or, in a manifest from before anchors, its chain head's)."""
    try:
        manifest = orjson.loads(path.read_bytes())
        tenant = str(manifest["tenant"])
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise AnchorError(f"{path}: not a socpipe export manifest ({exc})") from None
    anchor = manifest.get("anchor")
    head = manifest.get("chain_head")
    if anchor is None and head and int(head.get("next_sequence", 0)) > 0:
        anchor = {
            "tenant": tenant,
            "sequence": int(head["next_sequence"]) - 1,
            "hash": head["last_hash"],
            "at": manifest.get("exported_at"),
        }
    if anchor is None:
        raise AnchorError(f"{path}: the manifest carries no anchor (the chain of {tenant} was empty)")
    if anchor.get("tenant", tenant) != tenant:
        raise AnchorError(f"{path}: its anchor names tenant {anchor['tenant']!r}, the manifest {tenant!r}")
    return Anchor(tenant, int(anchor["sequence"]), str(anchor["hash"]), anchor.get("at"), str(path))


def check_anchors(
    es: Elasticsearch, settings: Settings, tenant: str, anchors: list[Anchor]
) -> tuple[Break | None, Anchor | None]:
    """The first anchor (by sequence) the live chain no longer holds, with its break; (None, None) when
    all hold. Raise AnchorError for an anchor of another tenant, before anything is read."""
    for anchor in anchors:
        if anchor.tenant != tenant:
            raise AnchorError(
                f"{anchor.source}: an anchor of tenant {anchor.tenant!r}, not {tenant!r}: "
                "a manifest anchors only its own tenant's chain"
            )
    if not anchors:
        return None, None
    index = tenant_indices(settings, tenant).evidence
    es.indices.refresh(index=index)
    sequences = sorted({a.sequence for a in anchors})
    hits = es.search(
        index=index,
        query={"terms": {"evidence.sequence": sequences}},
        size=2 * len(sequences),  # a doubled sequence shows as two hits
        source_includes=["evidence.sequence", "evidence.content_hash"],
    )["hits"]["hits"]
    stored: dict[int, set[str]] = {}
    for hit in hits:
        e = hit["_source"]["evidence"]
        stored.setdefault(int(e["sequence"]), set()).add(str(e["content_hash"]))
    for anchor in sorted(anchors, key=lambda a: a.sequence):
        found = stored.get(anchor.sequence, set())
        if found == {anchor.hash}:
            continue
        if not found:
            what = "the record is gone from the chain (the chain was cut short or rewritten before it)"
        else:
            hashes = ", ".join(sorted(h[:16] for h in found))
            what = (
                f"the chain holds hash {hashes} there, the anchor {anchor.hash[:16]} "
                f"(the chain was rewritten at or before sequence {anchor.sequence})"
            )
        return Break(anchor.sequence, f"anchor {anchor} no longer holds: {what}"), anchor
    return None, None
