"""The notice sweep: deliver the notices a crash left pending, and retry those that failed transiently.

A process that crashes after claiming a notice but before recording its outcome (a worker mid-batch, or
`socpipe incident close` mid-send) leaves a `pending` notice document. Without the sweep it waits until
the incident is touched again. `sweep(tenant)` finds a tenant's notices that are

- `pending`, claimed longer ago than the claim timeout (its claimer is gone), or
- `failed` transiently (every attempt of its round timed out or got a 5xx / SMTP 4xx) and due again: its
  `retry_at` has come (retry.py: bounded, jittered backoff between rounds, until it is delivered or
  reaches the give-up age `notice_give_up_after_s`, when it is failed for good, counted and logged),

and hands them to `Notifier.redeliver`, which takes each over with a versioned write (claims.py) and sends
it under its deterministic id (the webhook-id / Message-ID receivers deduplicate on). Of two sweepers (or
a sweeper and a worker) only one wins each take-over; a claim fresher than the timeout is a live worker's
and is never touched. Permanent failures (4xx, bad address, missing secret) are never retried.

`socpipe notice retry` runs a sweep on demand; the responder worker runs one for its tenants every
`notice_sweep_interval_s` seconds, between batches or when idle (`sweep_round`, repeated by
`socpipe.periodic.Periodic`).

A notice that gave up (every round failed, or a permanent failure) is resent only when an operator asks,
after fixing the cause: `socpipe notice retry --include-failed` (`include_failed=True`) takes every failed
notice whose last try is older than the claim timeout, still under its own id and by one sweeper only.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch

from responders.evidence.claims import Claims
from responders.evidence.documents import incident_from_doc, notice_from_doc
from responders.notices.notifier import Notifier, NotifyResult
from responders.notices.retry import retryable
from schemas.common import utc_now
from schemas.incident import Incident
from schemas.notice import Notice, NoticeStatus
from socpipe.es import mget_docs, tenant_indices
from socpipe.logging import get_logger
from socpipe.settings import Settings

log = get_logger(__name__)

PAGE = 500  # notices per tenant and sweep; the rest wait for the next one


@dataclass
class SweepResult:
    tenant: str
    delivered: NotifyResult = field(default_factory=NotifyResult)
    left: list[Notice] = field(default_factory=list)  # held by a live claimer, or without a route now


class NoticeSweep:
    def __init__(
        self, es: Elasticsearch, settings: Settings, notifier: Notifier, *, owner: str | None = None
    ) -> None:
        self.es = es
        self.settings = settings
        self.notifier = notifier
        self.owner = owner or f"sweep-{uuid.uuid4().hex[:12]}"

    def tenants(self) -> list[str]:
        """The configured tenants that have notice routes (no route, no notice)."""
        return [t.id for t in self.notifier.config.tenants.values() if t.routes]

    def sweep(
        self,
        tenant: str,
        older_than: timedelta | None = None,
        *,
        limit: int = PAGE,
        include_failed: bool = False,
        due_only: bool = False,
    ) -> SweepResult:
        """Deliver the tenant's stale and transiently failed notices older than `older_than`, each once;
        with `include_failed`, every failed notice too (those that gave up, and permanent failures).
        With `due_only` (the worker's periodic sweep), a transient failure is taken only once its
        `retry_at` has come; without (an operator's `notice retry`), now.

        `older_than` never goes below the claim timeout: a fresher claim may be a live worker's.
        """
        timeout = timedelta(seconds=self.settings.claim_timeout_s)
        age = max(older_than or timeout, timeout)
        claims = Claims(self.es, owner=self.owner, timeout_s=age.total_seconds())
        found = self._candidates(tenant, age, limit, include_failed=include_failed, due_only=due_only)
        result = SweepResult(tenant)
        if not found:
            return result
        incidents = self._incidents(tenant, {n.incident_id for n in found})
        stale = [(n, incidents[n.incident_id]) for n in found if n.incident_id in incidents]
        result.left += [n for n in found if n.incident_id not in incidents]
        is_done = _sent if include_failed else _not_due if due_only else _final
        result.delivered, left = self.notifier.redeliver(tenant, stale, claims, is_done=is_done)
        result.left += left
        log.info(
            "notice sweep",
            tenant=tenant,
            found=len(found),
            sent=len(result.delivered.sent),
            failed=len(result.delivered.failed),
            superseded=len(result.delivered.superseded),
            left=len(result.left),
        )
        return result

    def _candidates(
        self, tenant: str, age: timedelta, limit: int, *, include_failed: bool, due_only: bool
    ) -> list[Notice]:
        """Pending or failed notices whose last claim is older than `age` (near-real-time search; the
        take-over re-reads each one in real time)."""
        now = utc_now()
        before = (now - age).isoformat()
        stale = {"range": {"claim.at": {"lte": before}}}
        if include_failed:
            query: dict[str, Any] = {
                "bool": {
                    "filter": [
                        {"terms": {"notice.status": [NoticeStatus.pending, NoticeStatus.failed]}},
                        stale,
                    ]
                }
            }
        else:
            # Only what may be retried is asked for (a transient failure has a retry_at): failures given up
            # for good, or permanent, never fill the page ahead of those, however many accumulate.
            retry = {"range": {"notice.retry_at": {"lte": now.isoformat()}}} if due_only else stale
            query = {
                "bool": {
                    "should": [
                        {"bool": {"filter": [{"term": {"notice.status": NoticeStatus.pending}}, stale]}},
                        {
                            "bool": {
                                "filter": [
                                    {"term": {"notice.status": NoticeStatus.failed}},
                                    {"exists": {"field": "notice.retry_at"}},
                                    retry,
                                ]
                            }
                        },
                    ],
                    "minimum_should_match": 1,
                }
            }
        hits = self.es.search(
            index=tenant_indices(self.settings, tenant).notices,
            query=query,
            sort=[{"claim.at": "asc"}],
            size=limit,
            ignore_unavailable=True,
        )["hits"]["hits"]
        notices = [notice_from_doc(h["_source"]) for h in hits]
        return [
            n
            for n in notices
            if n.status == NoticeStatus.pending or include_failed or _retry_due(n, now, due_only=due_only)
        ]

    def _incidents(self, tenant: str, ids: Iterable[str]) -> dict[str, Incident]:
        docs = mget_docs(self.es, index=tenant_indices(self.settings, tenant).incidents, ids=sorted(ids))
        found = {d["_id"]: incident_from_doc(d["_source"]) for d in docs if d.get("found")}
        for missing in set(ids) - found.keys():
            log.warning("notice of an incident that does not exist", tenant=tenant, incident=missing)
        return found


def _retry_due(notice: Notice, now: datetime, *, due_only: bool = True) -> bool:
    """A transient failure that may be retried: at its retry_at (the worker), or now (an operator)."""
    if not retryable(notice) or notice.retry_at is None:
        return False
    return not due_only or notice.retry_at <= now


def _final(source: dict[str, Any]) -> bool:
    """For the take-over: a notice is final when sent, superseded, or failed beyond a sweep's help."""
    notice = notice_from_doc(source)
    return notice.status != NoticeStatus.pending and not (
        notice.status == NoticeStatus.failed and retryable(notice)
    )


def _not_due(source: dict[str, Any]) -> bool:
    """For the worker's sweep: final, or a transient failure whose retry_at has not come (the search that
    found it is near-real-time; the take-over reads in real time)."""
    if _final(source):
        return True
    notice = notice_from_doc(source)
    return notice.status == NoticeStatus.failed and not _retry_due(notice, utc_now())


def _sent(source: dict[str, Any]) -> bool:
    """For an operator's resend of failed notices: only a sent or superseded notice is final."""
    return notice_from_doc(source).status in (NoticeStatus.sent, NoticeStatus.superseded)


PERIODIC_LIMIT = 8  # notices per tenant per round of the worker's sweep (the CLI takes up to PAGE)


def sweep_round(
    sweeper: NoticeSweep,
    busy: AbstractContextManager[Any],
    *,
    on_result: Callable[[SweepResult], None] | None = None,
) -> list[SweepResult]:
    """One round of the worker's sweep (run every `notice_sweep_interval_s` by `socpipe.periodic.Periodic`).

    `busy` is the lock the stage holds while it processes a batch: taken per tenant, so the sweep runs
    between batches or while the worker is idle, and a batch waits at most for one small sweep. A
    tenant's sweep is capped (`PERIODIC_LIMIT` notices, delivered 4 at a time) and takes only notices
    due for a retry, so a dead endpoint cannot hold the worker past Kafka's poll interval; the rest waits
    for the next round. `on_result` gets each tenant's outcome (the worker counts it in its metrics).
    """
    results = []
    for tenant in sweeper.tenants():
        with busy:
            result = sweeper.sweep(tenant, limit=PERIODIC_LIMIT, due_only=True)
        results.append(result)
        if on_result:
            on_result(result)
    return results
