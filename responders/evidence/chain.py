"""The per-tenant evidence hash chain, appended a block at a time through a write-ahead chain head.

Why blocks: taking each sequence number by creating its record cost one round trip per record (a batch
of 500 detections into 200 incidents: ~700 requests). Now a writer appends k records in two requests:

1. **Claim** the block: one versioned write (`if_seq_no`/`if_primary_term`) of the chain head
   (`P-state-T/chain-head`) moves `next_sequence` on by k, sets `last_hash` to the block's last hash and
   carries the block's sealed records (`block.records`) as a write-ahead entry. Only one writer can move
   the head from a given version, so sequence numbers are handed out exactly once: no fork. A writer
   that loses the race re-reads the head and re-seals its records after the winner's block.
2. **Write** the block: one bulk request creates the k records (`op_type=create`, ids `T-<sequence>`)
   and marks their evidence keys done.

Once the head holds a block, its records are committed: whoever next reads the head *completes* the block
first (creates what is missing, with the contents the head carries, so the creates are idempotent),
before claiming a new one. So a crash between 1 and 2, or in the middle of 2, leaves no gap once any
writer touches the tenant again, and the chain never has a record whose predecessor is unwritten for
longer than that. A record found under a number with another hash than the head's block says means a
writer outside this protocol (say an older responder during an upgrade): `ChainForkError`, never ignored.

A writer caches the head it last wrote (or read and completed): in the steady state a batch costs the
two requests above plus one real-time `mget`. A stale cache only costs a conflict, a read and a retry.

Before extending the chain a writer recomputes what it builds on (`_check_tail`), never trusting its
cache or the stored hashes alone: the head's last block as stored (and the record before it) is read
whole, each document checked against the fields its hash covers (documents.evidence_doc_problem), each
hash recomputed, each link followed, and each record compared with the head's write-ahead copy. A record
altered with its content_hash left as it was is found there, and the tenant stops (ChainTamperedError,
dead-lettered by the worker) instead of getting new records on top of it. The cost is bounded: at most
one block (MAX_BLOCK records, usually a batch's handful) plus one record per append, never the chain; the
rest of the chain is `evidence verify`'s to check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import ConflictError, Elasticsearch, NotFoundError

from responders.evidence.documents import evidence_doc, evidence_doc_problem, evidence_from_doc, record_id
from schemas.common import deterministic_id, utc_now
from schemas.evidence import GENESIS_HASH, EvidenceRecord
from socpipe.es import bulk, mget_docs, tenant_indices
from socpipe.logging import get_logger
from socpipe.settings import Settings

log = get_logger(__name__)

CHAIN_HEAD_ID = "chain-head"
MAX_BLOCK = 1000  # records per head write: bounds the head document (~1 KB per record)
MAX_ATTEMPTS = 32
CATCH_UP_WINDOW = 64


class ChainForkError(RuntimeError):
    """A sequence number holds another record than the chain head handed it to: a broken program."""


class ChainTamperedError(ChainForkError):
    """A record the next block would build on was altered after it was written: the chain stops there."""


class ChainContentionError(RuntimeError):
    """Other writers kept moving the head first: the batch is not committed and will be processed again."""


def key_doc_id(key: str) -> str:
    return "evkey-" + deterministic_id("evidence-key", key)


@dataclass
class Head:
    """The chain head as read or written: where the next block starts, and the last block claimed."""

    next_sequence: int = 0
    last_hash: str = GENESIS_HASH
    seq_no: int | None = None  # None: no head document yet (an empty chain)
    primary_term: int | None = None
    block: list[EvidenceRecord] = field(default_factory=list)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Head:
        source = doc["_source"]
        records = (source.get("block") or {}).get("records") or []
        return cls(
            int(source["next_sequence"]),
            str(source["last_hash"]),
            doc["_seq_no"],
            doc["_primary_term"],
            [EvidenceRecord.model_validate(r) for r in records],
        )


def read_head(es: Elasticsearch, settings: Settings, tenant: str) -> Head:
    """The head as stored (a real-time get), or the empty chain's."""
    try:
        doc = es.get(index=tenant_indices(settings, tenant).state, id=CHAIN_HEAD_ID)
    except NotFoundError:
        return Head()
    return Head.from_doc(dict(doc.body))


class ChainWriter:
    def __init__(
        self,
        es: Elasticsearch,
        settings: Settings,
        stamp: Callable[[], dict[str, str]],
        max_block: int = MAX_BLOCK,
    ) -> None:
        self.es = es
        self.settings = settings
        self.stamp = stamp
        self.max_block = max_block
        self._settled: dict[str, Head] = {}  # per tenant: a head whose block is known to be written

    def forget(self, tenant: str) -> None:
        """Drop the cached head: the next call reads the stored one (and completes its block)."""
        self._settled.pop(tenant, None)

    def settled_head(self, tenant: str) -> Head:
        """The chain head with its last block written: the cached one, or the stored one, completed."""
        head = self._settled.get(tenant)
        if head is None:
            head = read_head(self.es, self.settings, tenant)
            if head.block:
                self._complete(tenant, head)
            else:
                head = self._catch_up(tenant, head)
            self._settled[tenant] = head
        return head

    def check(self, tenant: str) -> Head:
        """The settled head, with what the next block would build on recomputed (ChainTamperedError)."""
        head = self.settled_head(tenant)
        self._check_tail(tenant, head)
        return head

    def append(self, tenant: str, drafts: list[EvidenceRecord]) -> list[EvidenceRecord]:
        """Chain the drafts (sequence, previous hash and seal are set here) in blocks; return them sealed."""
        written: list[EvidenceRecord] = []
        for start in range(0, len(drafts), self.max_block):
            written += self._append_block(tenant, drafts[start : start + self.max_block])
        return written

    def _append_block(self, tenant: str, drafts: list[EvidenceRecord]) -> list[EvidenceRecord]:
        for attempt in range(MAX_ATTEMPTS):
            head = self.settled_head(tenant)
            self._check_tail(tenant, head)
            records = _seal(drafts, head.next_sequence, head.last_hash)
            claimed = self._claim(tenant, head, records)
            if claimed is None:
                log.info("chain head moved meanwhile, chaining after it", tenant=tenant, attempt=attempt)
                self.forget(tenant)
                continue
            self.forget(tenant)  # until the block is written, the stored head is the truth
            self._write(tenant, records, records)
            self._settled[tenant] = claimed
            return records
        raise ChainContentionError(f"tenant {tenant}: {MAX_ATTEMPTS} block claims lost to other writers")

    def _claim(self, tenant: str, head: Head, records: list[EvidenceRecord]) -> Head | None:
        """Move the head past the block, carrying it (write-ahead); None if another writer moved it first."""
        body = {
            "kind": "chain_head",
            "next_sequence": records[-1].sequence + 1,
            "last_hash": records[-1].content_hash,
            "block": {
                "start": records[0].sequence,
                "claim": self.stamp(),
                "records": [r.model_dump(mode="json") for r in records],
            },
        }
        state = tenant_indices(self.settings, tenant).state
        try:
            if head.seq_no is None or head.primary_term is None:
                response = self.es.create(index=state, id=CHAIN_HEAD_ID, document=body)
            else:
                response = self.es.index(
                    index=state,
                    id=CHAIN_HEAD_ID,
                    document=body,
                    if_seq_no=head.seq_no,
                    if_primary_term=head.primary_term,
                )
        except ConflictError:
            return None
        return Head(
            records[-1].sequence + 1,
            records[-1].content_hash,
            response["_seq_no"],
            response["_primary_term"],
            records,
        )

    def _catch_up(self, tenant: str, head: Head) -> Head:
        """A head without a block (none yet, or written by a responder before blocks) was only a hint,
        advanced after its records: records past it are the truth, so the next block starts after them."""
        index = tenant_indices(self.settings, tenant).evidence
        hinted = head.next_sequence
        while True:
            ids = [record_id(tenant, head.next_sequence + i) for i in range(CATCH_UP_WINDOW)]
            docs = mget_docs(self.es, index=index, ids=ids, source_includes=["evidence.content_hash"])
            for doc in docs:
                if not doc.get("found"):
                    if head.next_sequence > hinted:
                        log.warning(
                            "evidence records past the chain head",
                            tenant=tenant,
                            head=hinted,
                            next_sequence=head.next_sequence,
                        )
                    return head
                head.next_sequence += 1
                head.last_hash = str(doc["_source"]["evidence"]["content_hash"])

    def _check_tail(self, tenant: str, head: Head) -> None:
        """Recompute the records the next block builds on (see the module docstring), or raise
        ChainTamperedError: the head's last block (or, for a head without one, its last record) and the
        record before it, all read in one real-time mget."""
        if head.next_sequence == 0:
            return
        first = head.block[0].sequence if head.block else head.next_sequence - 1
        sequences = list(range(max(0, first - 1), head.next_sequence))
        docs = mget_docs(
            self.es,
            index=tenant_indices(self.settings, tenant).evidence,
            ids=[record_id(tenant, s) for s in sequences],
        )
        copies = {r.sequence: r for r in head.block}
        previous: str | None = None
        for sequence, doc in zip(sequences, docs, strict=True):
            problem = self._tail_problem(doc, sequence, previous, copies.get(sequence))
            if problem is not None:
                raise ChainTamperedError(f"tenant {tenant}: sequence {sequence}: {problem}")
            previous = str(doc["_source"]["evidence"]["content_hash"])
        if previous != head.last_hash:
            raise ChainTamperedError(
                f"tenant {tenant}: sequence {head.next_sequence - 1}: its hash is not the chain head's "
                "last_hash (record replaced)"
            )

    @staticmethod
    def _tail_problem(
        doc: dict[str, Any], sequence: int, previous: str | None, copy: EvidenceRecord | None
    ) -> str | None:
        if not doc.get("found"):
            return "missing from the index (deleted)"
        problem = evidence_doc_problem(doc["_source"], str(doc["_id"]))
        if problem is not None:
            return problem
        record = evidence_from_doc(doc["_source"])
        checks = [
            (record.sequence == sequence, f"the document holds sequence {record.sequence} (moved)"),
            (record.compute_hash() == record.content_hash, "content does not match its hash (altered)"),
            (
                previous is None or record.previous_hash == previous,
                "previous_hash does not match the record before it (chain rewritten)",
            ),
            (
                copy is None or record == copy,
                "differs from the chain head's copy of its block (record altered or replaced)",
            ),
        ]
        return next((what for ok, what in checks if not ok), None)

    def _complete(self, tenant: str, head: Head) -> None:
        """Write whatever of the head's block is missing (a writer crashed, or is still writing it)."""
        stored = self._stored_hashes(tenant, head.block)
        missing = [r for r in head.block if r.sequence not in stored]
        _check_same(tenant, head.block, stored)
        if missing:
            log.warning(
                "completing an unfinished evidence block",
                tenant=tenant,
                start=head.block[0].sequence,
                records=len(head.block),
                missing=len(missing),
            )
            self._write(tenant, missing, head.block)

    def _write(self, tenant: str, creates: list[EvidenceRecord], keys: list[EvidenceRecord]) -> None:
        """One bulk request: create the records, mark the keys done; an existing record must be the same."""
        evidence = tenant_indices(self.settings, tenant).evidence
        state = tenant_indices(self.settings, tenant).state
        ops: list[dict[str, Any]] = []
        for record in creates:
            action = {"create": {"_index": evidence, "_id": record_id(tenant, record.sequence)}}
            ops += [action, evidence_doc(record)]
        stamp = self.stamp()
        for record in keys:
            if record.evidence_key is not None:
                ops += [
                    {"index": {"_index": state, "_id": key_doc_id(record.evidence_key)}},
                    {
                        "kind": "evidence_key",
                        "key": record.evidence_key,
                        "sequence": record.sequence,
                        "claim": stamp,
                    },
                ]
        results = bulk(self.es, ops)
        taken = [r for r, result in zip(creates, results, strict=False) if result.get("status") == 409]
        if taken:  # another writer completed (part of) this block first: it must hold the same records
            _check_same(tenant, taken, self._stored_hashes(tenant, taken))

    def _stored_hashes(self, tenant: str, records: list[EvidenceRecord]) -> dict[int, str]:
        docs = mget_docs(
            self.es,
            index=tenant_indices(self.settings, tenant).evidence,
            ids=[record_id(tenant, r.sequence) for r in records],
            source_includes=["evidence.sequence", "evidence.content_hash"],
        )
        return {
            int(d["_source"]["evidence"]["sequence"]): str(d["_source"]["evidence"]["content_hash"])
            for d in docs
            if d.get("found")
        }


def _seal(drafts: list[EvidenceRecord], start: int, previous: str) -> list[EvidenceRecord]:
    now, records = utc_now(), []
    for offset, draft in enumerate(drafts):
        record = draft.model_copy(
            update={"sequence": start + offset, "previous_hash": previous, "recorded_at": now}
        ).sealed()
        records.append(record)
        previous = record.content_hash
    return records


def _check_same(tenant: str, expected: list[EvidenceRecord], stored: dict[int, str]) -> None:
    for record in expected:
        found = stored.get(record.sequence)
        if found is not None and found != record.content_hash:
            raise ChainForkError(
                f"tenant {tenant}: sequence {record.sequence} holds a record with hash {found[:16]}, "
                f"the chain head's block says {record.content_hash[:16]}"
            )
