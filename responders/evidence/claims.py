"""Claims: "I am doing this" documents, so a replay or a second worker never does a thing twice.

A claim is a document with a deterministic id created with `op_type=create`: exactly one writer gets it.
The others find it and either see it done (nothing to do), or in flight. An in-flight claim older than
the claim timeout belongs to a worker that crashed: it is taken over with a versioned write
(`if_seq_no`/`if_primary_term`), so of several workers noticing the same stale claim only one wins.
A fresh foreign claim is waited for (the other worker is normally finishing its batch right now).

A caller that claims several things must not wait for another worker's claims while holding unfinished
claims of its own: two workers that each got part of one batch's claims would wait for each other until
both claims went stale, then each take the other's over and both do everything (twice). So callers
claim with `wait=False`, finish what is theirs, and only then wait for the rest (`"theirs"`, by claiming
those again with `wait=True`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from elasticsearch import ConflictError, Elasticsearch

from socpipe.es import bulk, mget_docs
from socpipe.logging import get_logger

log = get_logger(__name__)


@dataclass
class Claimed:
    id: str
    state: Literal["ours", "done", "recovered", "theirs"]
    source: dict[str, Any] | None = None


def _now() -> datetime:
    return datetime.now(UTC)


class Claims:
    def __init__(self, es: Elasticsearch, owner: str, timeout_s: float, poll_s: float = 0.25) -> None:
        self.es = es
        self.owner = owner
        self.timeout = timedelta(seconds=timeout_s)
        self.poll_s = poll_s

    def stamp(self) -> dict[str, str]:
        return {"owner": self.owner, "at": _now().isoformat()}

    def claim(
        self,
        index: str,
        docs: dict[str, dict[str, Any]],
        is_done: Callable[[dict[str, Any]], bool],
        *,
        wait: bool = True,
    ) -> dict[str, Claimed]:
        """Claim every doc (each body gets a fresh `claim` stamp); return who does what. Without `wait`,
        a fresh claim of another worker is returned as "theirs" instead of waited for."""
        ours, pending = self._create(index, docs)
        out = {doc_id: Claimed(doc_id, "ours") for doc_id in ours}
        while pending:
            missing: list[str] = []
            waiting: list[str] = []
            for doc in mget_docs(self.es, index=index, ids=pending):
                doc_id, source = doc["_id"], doc.get("_source") or {}
                if not doc.get("found"):
                    missing.append(doc_id)  # deleted meanwhile: create it again
                elif is_done(source):
                    out[doc_id] = Claimed(doc_id, "done", source)
                elif self._stale(source) and self._take_over(index, doc_id, docs[doc_id], doc):
                    log.warning("took over a stale claim", index=index, id=doc_id, owner=source["claim"])
                    out[doc_id] = Claimed(doc_id, "recovered", source)
                else:
                    waiting.append(doc_id)
            ours, taken = self._create(index, {doc_id: docs[doc_id] for doc_id in missing})
            out |= {doc_id: Claimed(doc_id, "ours") for doc_id in ours}
            pending = waiting + taken
            if pending and not wait:
                out |= {doc_id: Claimed(doc_id, "theirs") for doc_id in pending}
                break
            if pending:
                time.sleep(self.poll_s)
        return out

    def _create(self, index: str, docs: dict[str, dict[str, Any]]) -> tuple[list[str], list[str]]:
        """Create every doc with a fresh stamp, in one bulk request: (ids created, ids that exist)."""
        ops: list[dict[str, Any]] = []
        for doc_id, body in docs.items():
            ops += [{"create": {"_index": index, "_id": doc_id}}, {**body, "claim": self.stamp()}]
        created: list[str] = []
        existing: list[str] = []
        for doc_id, result in zip(docs, bulk(self.es, ops), strict=True):
            (existing if result.get("status") == 409 else created).append(doc_id)
        return created, existing

    def _stale(self, source: dict[str, Any]) -> bool:
        claim = source.get("claim") or {}
        at = claim.get("at")
        return at is None or datetime.fromisoformat(at) + self.timeout <= _now()

    def _take_over(self, index: str, doc_id: str, body: dict[str, Any], doc: dict[str, Any]) -> bool:
        try:
            self.es.index(
                index=index,
                id=doc_id,
                document={**body, "claim": self.stamp()},
                if_seq_no=doc["_seq_no"],
                if_primary_term=doc["_primary_term"],
            )
        except ConflictError:
            return False
        return True
