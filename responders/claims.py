"""Claims: "I am doing this" documents, so a replay or a second worker never does a thing twice.

A claim is a document with a deterministic id created with `op_type=create`: exactly one writer gets it.
The others find it and either see it done (nothing to do), or in flight. An in-flight claim older than
the claim timeout belongs to a worker that crashed: it is taken over with a versioned write
(`if_seq_no`/`if_primary_term`), so of several workers noticing the same stale claim only one wins.
A fresh foreign claim is waited for (the other worker is normally finishing its batch right now).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from elasticsearch import ConflictError, Elasticsearch

from socpipe.logging import get_logger

log = get_logger(__name__)


class BulkError(RuntimeError):
    """Elasticsearch refused a write for another reason than a version conflict: a broken program."""


def bulk(es: Elasticsearch, operations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run a bulk request; return one result per action (conflicts included), raise on other errors."""
    if not operations:
        return []
    response = es.bulk(operations=operations)
    results = [next(iter(item.values())) for item in response["items"]]
    errors = [r for r in results if r.get("error") and r.get("status") != 409]
    if errors:
        raise BulkError(f"{len(errors)} bulk writes failed; first: {errors[0]['error']}")
    return results


@dataclass
class Claimed:
    id: str
    state: Literal["ours", "done", "recovered"]
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
    ) -> dict[str, Claimed]:
        """Claim every doc (each body gets a fresh `claim` stamp); return who does what."""
        ops: list[dict[str, Any]] = []
        for doc_id, body in docs.items():
            ops += [{"create": {"_index": index, "_id": doc_id}}, {**body, "claim": self.stamp()}]
        results = bulk(self.es, ops)
        out: dict[str, Claimed] = {}
        pending = []
        for doc_id, result in zip(docs, results, strict=True):
            if result.get("status") == 409:
                pending.append(doc_id)
            else:
                out[doc_id] = Claimed(doc_id, "ours")
        while pending:
            found = self.es.mget(index=index, ids=pending)["docs"]
            waiting = []
            for doc in found:
                doc_id, source = doc["_id"], doc.get("_source") or {}
                if not doc.get("found"):
                    waiting.append(doc_id)  # deleted meanwhile: try to create it again below
                elif is_done(source):
                    out[doc_id] = Claimed(doc_id, "done", source)
                elif self._stale(source):
                    if self._take_over(index, doc_id, docs[doc_id], doc):
                        log.warning("took over a stale claim", index=index, id=doc_id, owner=source["claim"])
                        out[doc_id] = Claimed(doc_id, "recovered", source)
                    else:
                        waiting.append(doc_id)
                else:
                    waiting.append(doc_id)
            pending = waiting
            if pending:
                time.sleep(self.poll_s)
                for doc_id in list(pending):
                    try:
                        self.es.create(
                            index=index, id=doc_id, document={**docs[doc_id], "claim": self.stamp()}
                        )
                    except ConflictError:
                        continue
                    out[doc_id] = Claimed(doc_id, "ours")
                    pending.remove(doc_id)
        return out

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
