"""Verifying a tenant's live evidence chain: every record's hash, every link, and the tail against the head.

Every document is checked whole first: what its hash does not cover (`@timestamp`, `organization.id`,
`event.action`, its id) must be what the record derives (documents.evidence_doc_problem).

The records prove each other (content hash, previous hash); the chain head (`P-state-T/chain-head`,
chain.py) says how many there must be, so a deleted tail is found too. The head is moved *before* a block
of records is written (write-ahead), and read here *after* the records: so a record the head never
handed out is an insertion, and a record the head counts but the index lacks is either deleted or in the
head's last block, not yet written (its writer crashed, or is writing it at this moment); the problem
names both, since from the outside they look the same. The next append to the tenant writes such a block.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from elasticsearch import Elasticsearch

from responders.evidence.chain import read_head
from responders.evidence.documents import evidence_doc_problem, evidence_from_doc
from schemas.evidence import GENESIS_HASH, EvidenceRecord
from socpipe.es import tenant_indices
from socpipe.settings import Settings


@dataclass
class Break:
    sequence: int
    problem: str

    def __str__(self) -> str:
        return f"sequence {self.sequence}: {self.problem}"


@dataclass
class VerifyResult:
    checked: int
    first_break: Break | None
    last_hash: str

    @property
    def ok(self) -> bool:
        return self.first_break is None


def verify_chain(
    records: Iterable[EvidenceRecord],
    *,
    tenant: str,
    start_sequence: int = 0,
    start_previous: str = GENESIS_HASH,
) -> VerifyResult:
    """Check contents, sequence numbers and links in order; stop at the first broken link."""
    expected, previous, checked = start_sequence, start_previous, 0
    for record in records:
        problem: Break | None = None
        if record.tenant != tenant:
            problem = Break(
                record.sequence, f"a record of tenant {record.tenant!r} in the chain of {tenant!r}"
            )
        elif record.sequence > expected:
            problem = Break(
                expected, f"missing: sequences {expected}..{record.sequence - 1} are absent (deleted)"
            )
        elif record.sequence < expected:
            problem = Break(record.sequence, "sequence number seen twice or out of order (inserted)")
        elif record.compute_hash() != record.content_hash:
            problem = Break(record.sequence, "content does not match its content_hash (record altered)")
        elif record.previous_hash != previous:
            problem = Break(
                record.sequence,
                f"previous_hash does not match the record before it (sequence {record.sequence - 1} was "
                "altered or replaced, or this one inserted)",
            )
        if problem:
            return VerifyResult(checked, problem, previous)
        previous, expected, checked = record.content_hash, expected + 1, checked + 1
    return VerifyResult(checked, None, previous)


def search_sorted(
    es: Elasticsearch, index: str, query: dict[str, Any], fields: list[str] | None = None
) -> Iterator[dict[str, Any]]:
    """Every hit of the query in sequence order, a page of 1,000 at a time (search_after)."""
    after: list[Any] | None = None
    while True:
        page = es.search(
            index=index,
            query=query,
            sort=[{"evidence.sequence": "asc"}],
            size=1000,
            source_includes=fields,
            search_after=after,
        )["hits"]["hits"]
        yield from page
        if len(page) < 1000:
            return
        after = page[-1]["sort"]


def live_hits(es: Elasticsearch, settings: Settings, tenant: str, start: int = 0) -> Iterator[dict[str, Any]]:
    """The tenant's evidence documents (id and source) from sequence `start` on, in order."""
    index = tenant_indices(settings, tenant).evidence
    es.indices.refresh(index=index)
    query = {"range": {"evidence.sequence": {"gte": start}}} if start else {"match_all": {}}
    yield from search_sorted(es, index, query)


def live_records(
    es: Elasticsearch, settings: Settings, tenant: str, start: int = 0
) -> Iterator[EvidenceRecord]:
    for hit in live_hits(es, settings, tenant, start):
        yield evidence_from_doc(hit["_source"])


def chain_head(es: Elasticsearch, settings: Settings, tenant: str) -> dict[str, Any] | None:
    """The head as an anchor for a manifest: next sequence and last hash (the block's records left out)."""
    head = read_head(es, settings, tenant)
    if head.seq_no is None:
        return None
    summary: dict[str, Any] = {
        "kind": "chain_head",
        "next_sequence": head.next_sequence,
        "last_hash": head.last_hash,
    }
    if head.block:
        summary["last_block"] = [head.block[0].sequence, head.block[-1].sequence]
    return summary


def verify_live(es: Elasticsearch, settings: Settings, tenant: str, *, settle_s: float = 1.0) -> VerifyResult:
    """The whole chain of a tenant, then the tail against the head (read after the records).

    A tail the head counts but the index lacks, within the head's last block, may be a block being
    written right now: after `settle_s` the records from there on are read and checked once more.
    """
    result, pending = _verify_from(es, settings, tenant, 0, GENESIS_HASH)
    if pending:
        time.sleep(settle_s)
        more, pending = _verify_from(es, settings, tenant, result.checked, result.last_hash)
        result = VerifyResult(result.checked + more.checked, more.first_break, more.last_hash)
    return result


def _verify_from(
    es: Elasticsearch, settings: Settings, tenant: str, start: int, previous: str
) -> tuple[VerifyResult, bool]:
    """Verify from `start` on; also say whether the only problem may be a block not yet written."""
    stored: dict[int, str] = {}
    altered: list[str] = []

    def kept(hits: Iterable[dict[str, Any]]) -> Iterator[EvidenceRecord]:
        """The records, each document first checked whole (documents.evidence_doc_problem)."""
        for hit in hits:
            problem = evidence_doc_problem(hit["_source"], hit.get("_id"))
            if problem is not None:
                altered.append(problem)
                return
            record = evidence_from_doc(hit["_source"])
            stored[record.sequence] = record.content_hash
            yield record

    records = kept(live_hits(es, settings, tenant, start))
    result = verify_chain(records, tenant=tenant, start_sequence=start, start_previous=previous)
    end = start + result.checked
    if altered and result.ok:  # the chain was sound up to the document that is not
        return VerifyResult(result.checked, Break(end, altered[0]), result.last_hash), False
    head = read_head(es, settings, tenant)
    if not result.ok or head.seq_no is None:
        return result, False
    problem: Break | None = None
    pending = ""
    if head.next_sequence > end:
        if head.block and head.block[0].sequence <= end:
            pending = (
                f", or not yet written: {end}..{head.next_sequence - 1} are in the head's last block, "
                "whose writer crashed or is writing it now (the next append to the tenant writes it)"
            )
        what = f"missing: the chain head counts {head.next_sequence} records (tail deleted{pending})"
        problem = Break(end, what)
    elif head.block and end > head.next_sequence:
        what = f"inserted: the chain head handed out {head.next_sequence} sequence numbers, not {end}"
        problem = Break(head.next_sequence, what)
    else:
        rewritten = [
            r.sequence for r in head.block if stored.get(r.sequence, r.content_hash) != r.content_hash
        ]
        if rewritten:
            what = "differs from the chain head's copy of its block (the chain was rewritten here or before)"
            problem = Break(rewritten[0], what)
    return (VerifyResult(result.checked, problem, result.last_hash) if problem else result), bool(pending)
