"""The compliance evidence store: append-only, hash-chained per tenant, written at most once per subject.

Writing one record:

1. Its *evidence key* (deterministic from the subject: `detection:<id>`, `incident:<id>:v<version>`,
   `notice:<id>:<status>`, `triage:<id>:v<version>`) is claimed in the tenant's state index with
   `op_type=create`. A key already done means a replay: nothing is written.
2. The record is appended to the chain: it takes the next sequence number by creating the document
   `<tenant>-<sequence>` with `op_type=create`. If another writer took that number first, the record is
   re-chained after that writer's record and the next number tried. So two workers never fork the
   chain: each sequence number has exactly one record, and each record's `previous_hash` is the hash of
   the record actually stored under the number before it.
3. The chain head (next sequence, last hash) is advanced with a versioned write; it is only a hint
   to start from, the records themselves are the truth.
4. The key is marked done with the record's sequence number.

A crash between 1 and 4 leaves a claimed key; after the claim timeout a worker takes it over, looks the
key up among the records (the only search on this path), and appends the record if it is not there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from elasticsearch import ConflictError, Elasticsearch, NotFoundError

from responders.claims import Claims, bulk
from responders.config import ControlsConfig
from responders.documents import evidence_doc
from schemas.common import deterministic_id, utc_now
from schemas.evidence import GENESIS_HASH, EvidenceRecord, EvidenceType
from socpipe.es import index_name
from socpipe.logging import get_logger
from socpipe.settings import Settings

log = get_logger(__name__)

CHAIN_HEAD_ID = "chain-head"


@dataclass
class EvidenceItem:
    """A record to write, before it has a place in the chain."""

    key: str
    record_type: EvidenceType
    subject_id: str
    occurred_at: datetime
    details: dict[str, Any] = field(default_factory=dict)
    personal_data: bool = False


def record_id(tenant: str, sequence: int) -> str:
    return f"{tenant}-{sequence:012d}"


def key_doc_id(key: str) -> str:
    return "evkey-" + deterministic_id("evidence-key", key)


class EvidenceStore:
    def __init__(
        self, es: Elasticsearch, settings: Settings, controls: ControlsConfig, claims: Claims
    ) -> None:
        self.es = es
        self.settings = settings
        self.controls = controls
        self.claims = claims

    def record(self, tenant: str, items: list[EvidenceItem]) -> list[EvidenceRecord]:
        """Write each item once (a replayed key is skipped); return the records written now."""
        unique = list({item.key: item for item in reversed(items)}.values())[::-1]
        if not unique:
            return []
        state = index_name(self.settings, "state", tenant)
        by_doc = {key_doc_id(item.key): item for item in unique}
        claimed = self.claims.claim(
            state,
            {doc_id: {"kind": "evidence_key", "key": item.key} for doc_id, item in by_doc.items()},
            is_done=lambda source: source.get("sequence") is not None,
        )
        todo = [by_doc[c.id] for c in claimed.values() if c.state == "ours"]
        recovered = [by_doc[c.id] for c in claimed.values() if c.state == "recovered"]
        if recovered:
            already = self._find_keys(tenant, [item.key for item in recovered])
            todo += [item for item in recovered if item.key not in already]
            self._mark_done(state, already)
        order = {item.key: i for i, item in enumerate(unique)}
        todo.sort(key=lambda item: order[item.key])
        written = self._append(tenant, todo)
        self._mark_done(state, {r.evidence_key or "": r.sequence for r in written})
        return written

    def _find_keys(self, tenant: str, keys: list[str]) -> dict[str, int]:
        index = index_name(self.settings, "evidence", tenant)
        self.es.indices.refresh(index=index)
        hits = self.es.search(
            index=index,
            query={"terms": {"evidence.evidence_key": keys}},
            size=len(keys),
            source_includes=["evidence.evidence_key", "evidence.sequence"],
        )["hits"]["hits"]
        return {h["_source"]["evidence"]["evidence_key"]: h["_source"]["evidence"]["sequence"] for h in hits}

    def _mark_done(self, state: str, sequences: dict[str, int]) -> None:
        ops: list[dict[str, Any]] = []
        for key, sequence in sequences.items():
            ops += [
                {"index": {"_index": state, "_id": key_doc_id(key)}},
                {"kind": "evidence_key", "key": key, "sequence": sequence, "claim": self.claims.stamp()},
            ]
        bulk(self.es, ops)

    def _head(self, tenant: str) -> tuple[int, str, dict[str, Any] | None]:
        try:
            doc = self.es.get(index=index_name(self.settings, "state", tenant), id=CHAIN_HEAD_ID)
        except NotFoundError:
            return 0, GENESIS_HASH, None
        source = doc["_source"]
        return int(source["next_sequence"]), str(source["last_hash"]), dict(doc.body)

    def _append(self, tenant: str, items: list[EvidenceItem]) -> list[EvidenceRecord]:
        if not items:
            return []
        index = index_name(self.settings, "evidence", tenant)
        sequence, previous, head_doc = self._head(tenant)
        written: list[EvidenceRecord] = []
        for item in items:
            while True:
                record = EvidenceRecord(
                    tenant=tenant,
                    sequence=sequence,
                    record_type=item.record_type,
                    subject_id=item.subject_id,
                    occurred_at=item.occurred_at,
                    controls=self.controls.for_record(item.record_type, personal_data=item.personal_data),
                    details=item.details,
                    evidence_key=item.key,
                    recorded_at=utc_now(),
                    previous_hash=previous,
                ).sealed()
                try:
                    self.es.create(index=index, id=record_id(tenant, sequence), document=evidence_doc(record))
                    break
                except ConflictError:
                    # Another writer holds this number: chain after its record instead.
                    theirs = self.es.get(index=index, id=record_id(tenant, sequence))["_source"]["evidence"]
                    previous = theirs["content_hash"]
                    sequence += 1
            written.append(record)
            previous = record.content_hash
            sequence += 1
        self._advance_head(tenant, sequence, previous, head_doc)
        return written

    def _advance_head(
        self, tenant: str, sequence: int, last_hash: str, head_doc: dict[str, Any] | None
    ) -> None:
        body = {"kind": "chain_head", "next_sequence": sequence, "last_hash": last_hash}
        state = index_name(self.settings, "state", tenant)
        try:
            if head_doc is None:
                self.es.create(index=state, id=CHAIN_HEAD_ID, document=body)
            else:
                self.es.index(
                    index=state,
                    id=CHAIN_HEAD_ID,
                    document=body,
                    if_seq_no=head_doc["_seq_no"],
                    if_primary_term=head_doc["_primary_term"],
                )
        except ConflictError:
            log.debug("chain head moved meanwhile; it is only a hint", tenant=tenant)
