"""The compliance evidence store: append-only, hash-chained per tenant, written at most once per subject.

Writing a batch of a tenant's items:

1. The chain head is settled (chain.py): a block a crashed writer claimed but did not finish is written
   now, and its keys marked done, so a replay after that crash finds its keys done instead of waiting for
   their claims to go stale.
2. Each item's *evidence key* (deterministic from the subject: `detection:<id>`,
   `incident:<id>:v<version>`, `notice:<id>:<status>`, `triage:<id>:v<version>`) is claimed in the
   tenant's state index with `op_type=create`, all in one bulk request. A key already done means a
   replay: nothing is written for it. A key another worker holds is left to it until this call's own
   records are written (3), then waited for (claims.py says why not before).
3. The claimed items are appended to the chain as blocks (chain.py): one versioned write of the chain
   head takes the block's sequence numbers and carries its sealed records (write-ahead), then one bulk
   request creates the records and marks their keys done with their sequence numbers.

A crash after 2 but before 3 leaves claimed keys with no record: after the claim timeout a worker takes
them over, re-reads and completes the chain head (the dead writer's block may hold them), and looks the
keys up among the records (the only search on this path) before appending those not there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from elasticsearch import Elasticsearch

from responders.config import ControlsConfig
from responders.evidence.chain import CHAIN_HEAD_ID, ChainWriter, key_doc_id
from responders.evidence.claims import Claimed, Claims
from responders.evidence.documents import record_id
from schemas.evidence import EvidenceRecord, EvidenceType
from socpipe.es import bulk, tenant_indices
from socpipe.logging import get_logger
from socpipe.settings import Settings

__all__ = ["CHAIN_HEAD_ID", "EvidenceItem", "EvidenceStore", "key_doc_id", "record_id"]

log = get_logger(__name__)


@dataclass
class EvidenceItem:
    """A record to write, before it has a place in the chain."""

    key: str
    record_type: EvidenceType
    subject_id: str
    occurred_at: datetime
    details: dict[str, Any] = field(default_factory=dict)
    personal_data: bool = False


class EvidenceStore:
    def __init__(
        self,
        es: Elasticsearch,
        settings: Settings,
        controls: ControlsConfig,
        claims: Claims,
        chain: ChainWriter | None = None,
    ) -> None:
        self.es = es
        self.settings = settings
        self.controls = controls
        self.claims = claims
        self.chain = chain or ChainWriter(es, settings, claims.stamp)

    def record(self, tenant: str, items: list[EvidenceItem]) -> list[EvidenceRecord]:
        """Write each item once (a replayed key is skipped); return the records written now.

        Keys another worker holds are waited for only after this call's own are written (claims.py says
        why); most then turn out done, a stale one is taken over and written here.
        """
        unique = list({item.key: item for item in reversed(items)}.values())[::-1]
        if not unique:
            return []
        self.chain.settled_head(tenant)
        order = {item.key: i for i, item in enumerate(unique)}
        written: list[EvidenceRecord] = []
        by_doc = {key_doc_id(item.key): item for item in unique}
        wait = False
        while by_doc:
            claimed = self.claims.claim(
                tenant_indices(self.settings, tenant).state,
                {doc_id: {"kind": "evidence_key", "key": item.key} for doc_id, item in by_doc.items()},
                is_done=lambda source: source.get("sequence") is not None,
                wait=wait,
            )
            todo = self._todo(tenant, claimed, by_doc)
            todo.sort(key=lambda item: order[item.key])
            written += self.chain.append(tenant, [self._draft(tenant, item) for item in todo])
            by_doc = {c.id: by_doc[c.id] for c in claimed.values() if c.state == "theirs"}
            wait = True
        return written

    def _todo(
        self, tenant: str, claimed: dict[str, Claimed], by_doc: dict[str, EvidenceItem]
    ) -> list[EvidenceItem]:
        """The items this worker must append: its own claims, and taken-over ones not in the chain."""
        todo = [by_doc[c.id] for c in claimed.values() if c.state == "ours"]
        recovered = [by_doc[c.id] for c in claimed.values() if c.state == "recovered"]
        if recovered:
            # The dead writer may have claimed a block holding these keys: have it written, then look.
            self.chain.forget(tenant)
            self.chain.settled_head(tenant)
            already = self._find_keys(tenant, [item.key for item in recovered])
            todo += [item for item in recovered if item.key not in already]
            self._mark_done(tenant_indices(self.settings, tenant).state, already)
        return todo

    def _draft(self, tenant: str, item: EvidenceItem) -> EvidenceRecord:
        """The record without its place in the chain (sequence, previous hash, seal: chain.py sets them)."""
        return EvidenceRecord(
            tenant=tenant,
            sequence=0,
            record_type=item.record_type,
            subject_id=item.subject_id,
            occurred_at=item.occurred_at,
            controls=self.controls.for_record(item.record_type, personal_data=item.personal_data),
            details=item.details,
            evidence_key=item.key,
            previous_hash="",
        )

    def _find_keys(self, tenant: str, keys: list[str]) -> dict[str, int]:
        index = tenant_indices(self.settings, tenant).evidence
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
