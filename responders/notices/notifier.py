"""Which notices an incident's current state calls for, and their delivery: at most once per change.

Notices are derived from the incident's *state*, not from the transition that led to it, so a replay
after a crash computes the same notices again: open (severity at or above the route's threshold),
escalate:<severity> (above both the threshold and the severity it opened with), acknowledge, close.
Each notice has a deterministic id (tenant, incident, state, channel, destination) and is claimed by
creating its document (`op_type=create`) before anything is sent: a second worker or a replay finds it
and sends nothing (it waits for the other worker's notices to be final only once its own are: two
workers waiting for each other would both take the other's over at the claim timeout and send twice).
A worker that crashed mid-send leaves a stale claim; whoever takes it over sends again
under the same id (the webhook-id / Message-ID a receiver deduplicates on).

One change, one message: an incident opened below a route's threshold that jumps straight above it
(or one whose severity rose before its first notice) calls for "open" and "escalate:<severity>" at once.
When a round claims both for the first time, only "open" is sent (it announces the current severity);
the escalation is recorded with status `superseded` (`superseded_now`), so a replay finds it final and
sends nothing. A later escalation, once "open" is final, is a notice of its own. (Two workers that split
one incident's first claims between them each send theirs: a duplicate, never a lost notice.)
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from elasticsearch import Elasticsearch
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential, wait_random

from responders.config import ConfigError, ResponderConfig
from responders.evidence.claims import Claims
from responders.evidence.documents import notice_doc, notice_from_doc
from responders.evidence.recorder import EvidenceItem, EvidenceStore
from responders.notices.channels import Channel, Message, PermanentDeliveryError, TransientDeliveryError
from responders.notices.render import Renderer, notice_context
from responders.notices.retry import after_transient_failure, expired
from schemas.common import utc_now
from schemas.deadletter import DeadLetter
from schemas.evidence import EvidenceType
from schemas.incident import Incident, IncidentStatus
from schemas.notice import Notice, NoticeStatus
from schemas.tenant import NoticeRoute, Tenant
from socpipe.es import BulkError, bulk_items, tenant_indices
from socpipe.logging import get_logger
from socpipe.settings import Settings

log = get_logger(__name__)

ESCALATE = "escalate:"
SLA_BREACH = "sla_breach:"  # a provider-side escalation: `sla_breach:<clock>` to the on-call routes


def notice_states(incident: Incident, route: NoticeRoute) -> list[str]:
    """The notice-worthy states this incident is in, for this route."""
    if incident.severity.rank < route.min_severity.rank:
        return []
    states = []
    if "open" in route.notify_on:
        states.append("open")
    initial = incident.initial_severity or incident.severity
    if "escalate" in route.notify_on and incident.severity.rank > max(initial.rank, route.min_severity.rank):
        states.append(f"{ESCALATE}{incident.severity.value}")
    if "acknowledge" in route.notify_on and (
        incident.status == IncidentStatus.acknowledged
        or any(h.action == "acknowledge" for h in incident.history)
    ):
        states.append("acknowledge")
    if "close" in route.notify_on and incident.status == IncidentStatus.closed:
        states.append("close")
    return states


def superseded_now(claimed: list[Notice]) -> set[str]:
    """The ids of the escalations that an "open" notice claimed in the same round already announces.

    `claimed` are the notices one round claimed for the first time (or took over): an "escalate:<sev>"
    among them is superseded when the same incident's "open" to the same channel and destination is
    among them too, since that open notice is rendered from the incident as it is now.
    """
    opening = {(n.incident_id, n.channel, n.destination) for n in claimed if n.incident_state == "open"}
    return {
        n.id
        for n in claimed
        if n.incident_state.startswith(ESCALATE) and (n.incident_id, n.channel, n.destination) in opening
    }


@dataclass
class NotifyResult:
    """The notices delivered (or given up on, or superseded) by this call; those done before are not
    repeated here."""

    sent: list[Notice] = field(default_factory=list)
    failed: list[Notice] = field(default_factory=list)
    superseded: list[Notice] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)

    @property
    def expired(self) -> list[Notice]:
        """The failed notices given up for good at the give-up age (retry.py), not to be retried."""
        return [n for n in self.failed if expired(n)]

    def counts(self) -> dict[str, int]:
        """Outcome -> how many, for the `notices` metric (an expired notice is counted as expired only)."""
        return {
            "sent": len(self.sent),
            "failed": len(self.failed) - len(self.expired),
            "superseded": len(self.superseded),
            "expired": len(self.expired),
        }


@dataclass
class _Planned:
    notice: Notice
    incident: Incident
    route: NoticeRoute
    extra: dict[str, Any] = field(default_factory=dict)  # more template context (an escalation's clock)


def _planned(
    tenant: Tenant, incident: Incident, state: str, route: NoticeRoute, extra: dict[str, Any] | None = None
) -> _Planned:
    """The notice of this incident state to this route, under its deterministic id."""
    notice = Notice(
        id=Notice.make_id(tenant.id, incident.id, state, route.channel, route.destination),
        tenant=tenant.id,
        incident_id=incident.id,
        incident_state=state,
        channel=route.channel,
        destination=route.destination,
        subject="",
    )
    return _Planned(notice, incident, route, extra or {})


class Notifier:
    def __init__(
        self,
        es: Elasticsearch,
        settings: Settings,
        config: ResponderConfig,
        *,
        claims: Claims,
        evidence: EvidenceStore,
        channels: dict[str, Channel],
        renderer: Renderer,
    ) -> None:
        self.es = es
        self.settings = settings
        self.config = config
        self.claims = claims
        self.evidence = evidence
        self.channels = channels
        self.renderer = renderer

    def notify(self, tenant_id: str, incidents: list[Incident]) -> NotifyResult:
        tenant = self.config.tenant(tenant_id)
        planned = {p.notice.id: p for incident in incidents for p in self._plan(tenant, incident)}
        return self._claim_and_send(tenant, planned)

    def escalate(self, tenant_id: str, incident: Incident, clock: str, extra: dict[str, Any]) -> NotifyResult:
        """The provider's on-call hears that `clock` of this incident breached: once per route, under the
        deterministic id of (tenant, incident, `sla_breach:<clock>`, route), claimed like client notices."""
        tenant = self.config.tenant(tenant_id)
        state = f"{SLA_BREACH}{clock}"
        plans = [_planned(tenant, incident, state, route, extra) for route in self.config.provider.oncall]
        return self._claim_and_send(tenant, {p.notice.id: p for p in plans})

    def _claim_and_send(self, tenant: Tenant, planned: dict[str, _Planned]) -> NotifyResult:
        """Claim each planned notice (`op_type=create`), send those this call won, record the outcomes."""
        tenant_id = tenant.id
        if not planned:
            return NotifyResult()
        index = tenant_indices(self.settings, tenant_id).notices
        now = utc_now().isoformat()
        docs = {
            nid: {k: v for k, v in notice_doc(p.notice).items() if k != "claim"} | {"@timestamp": now}
            for nid, p in planned.items()
        }
        finals: dict[str, Notice] = {}
        to_send: list[_Planned] = []
        wait = False  # another worker's claims are waited for only once ours are final (claims.py)
        while docs:
            claimed = self.claims.claim(
                index,
                docs,
                is_done=lambda source: source["notice"]["status"] != NoticeStatus.pending,
                wait=wait,
            )
            finals |= {
                c.id: notice_from_doc(c.source) for c in claimed.values() if c.state == "done" and c.source
            }
            ours = [planned[c.id] for c in claimed.values() if c.state in ("ours", "recovered")]
            finals |= self._send(
                tenant, index, ours, now, superseded=superseded_now([p.notice for p in ours])
            )
            to_send += ours
            docs = {c.id: docs[c.id] for c in claimed.values() if c.state == "theirs"}
            wait = True
        return self._finish(tenant_id, planned, finals, to_send)

    def redeliver(
        self,
        tenant_id: str,
        stale: list[tuple[Notice, Incident]],
        claims: Claims,
        is_done: Callable[[dict[str, Any]], bool],
    ) -> tuple[NotifyResult, list[Notice]]:
        """Deliver notices left pending by a crash (or failed transiently), each under its own id, once.

        The notices' documents exist: each is taken over through `claims` (a versioned write: of several
        sweepers, or a sweeper and a worker, only one wins) when `is_done` says it is not final and its
        claim is older than `claims`' timeout; a fresh claim (a live worker's) is left alone, never
        waited for. Returns what this call delivered, and the notices it left (no route for them any
        more, or held by someone else).
        """
        tenant = self.config.tenant(tenant_id)
        routes: dict[tuple[str, str], NoticeRoute] = {(r.channel, r.destination): r for r in tenant.routes}
        oncall = {(r.channel, r.destination): r for r in self.config.provider.oncall}
        planned: dict[str, _Planned] = {}
        left: list[Notice] = []
        for notice, incident in stale:
            escalation = notice.incident_state.startswith(SLA_BREACH)
            route = (oncall if escalation else routes).get((notice.channel, notice.destination))
            if route is None:
                log.warning("stale notice has no route any more", tenant=tenant_id, notice=notice.id)
                left.append(notice)
                continue
            pending = notice.model_copy(update={"status": NoticeStatus.pending, "error": None})
            planned[notice.id] = _Planned(pending, incident, route)
        if not planned:
            return NotifyResult(), left
        index = tenant_indices(self.settings, tenant_id).notices
        now = utc_now().isoformat()
        docs = {
            nid: {k: v for k, v in notice_doc(p.notice).items() if k != "claim"} | {"@timestamp": now}
            for nid, p in planned.items()
        }
        claimed = claims.claim(index, docs, is_done=is_done, wait=False)
        ours = [planned[c.id] for c in claimed.values() if c.state in ("ours", "recovered")]
        left += [planned[c.id].notice for c in claimed.values() if c.state == "theirs"]
        finals = self._send(tenant, index, ours, now, superseded=superseded_now([p.notice for p in ours]))
        return self._finish(tenant_id, planned, finals, ours), left

    def _finish(
        self,
        tenant_id: str,
        planned: dict[str, _Planned],
        finals: dict[str, Notice],
        to_send: list[_Planned],
    ) -> NotifyResult:
        """Evidence of the final notices; what this call delivered, with dead letters of the failed."""
        result = NotifyResult()
        # Evidence of every final notice, also those done before (a crash may have come before their record);
        # a superseded one was never sent: the open notice's record stands for it.
        self.evidence.record(
            tenant_id,
            [
                self._evidence(n, planned[nid].incident)
                for nid, n in finals.items()
                if n.status != NoticeStatus.superseded
            ],
        )
        outcome = {
            NoticeStatus.sent: result.sent,
            NoticeStatus.failed: result.failed,
            NoticeStatus.superseded: result.superseded,
        }
        for p in to_send:
            final = finals[p.notice.id]
            outcome[final.status].append(final)
        for p in to_send:
            final = finals[p.notice.id]
            if final.status == NoticeStatus.failed:
                result.dead_letters.append(
                    DeadLetter(
                        reason=f"notice not delivered: {final.error}",
                        stage="responder",
                        tenant=tenant_id,
                        error_type="NoticeDeliveryError",
                        original=final.model_dump_json().encode(),
                    )
                )
        return result

    def _send(
        self, tenant: Tenant, index: str, to_send: list[_Planned], now: str, *, superseded: set[str]
    ) -> dict[str, Notice]:
        """Deliver the claimed notices (4 at a time) but the superseded ones, and record each one's final
        state: one bulk request."""
        finals: dict[str, Notice] = {}
        deliver = [p for p in to_send if p.notice.id not in superseded]
        with ThreadPoolExecutor(max_workers=4) as pool:
            for notice in pool.map(lambda p: self._deliver(tenant, p), deliver):
                finals[notice.id] = notice
        for p in to_send:
            if p.notice.id in superseded:
                finals[p.notice.id] = p.notice.model_copy(update={"status": NoticeStatus.superseded})
                log.info(
                    "notice superseded by the open notice claimed with it",
                    tenant=tenant.id,
                    incident=p.notice.incident_id,
                    state=p.notice.incident_state,
                    channel=p.notice.channel,
                )
        bases = {p.notice.id: p.notice.attempts for p in to_send}
        rounds = [(final, bases[final.id]) for final in finals.values()]
        return record_rounds(self.es, index, rounds, owner=self.claims.owner, claimed_at=now)

    def _plan(self, tenant: Tenant, incident: Incident) -> list[_Planned]:
        return [
            _planned(tenant, incident, state, route)
            for route in tenant.routes
            for state in notice_states(incident, route)
        ]

    def _deliver(self, tenant: Tenant, planned: _Planned) -> Notice:
        notice, route = planned.notice, planned.route
        context = notice_context(planned.incident, tenant, notice.incident_state) | planned.extra
        kind = "escalation" if notice.incident_state.startswith(SLA_BREACH) else "notice"
        rendered = self.renderer.render(tenant.id, context, kind=kind)
        attempts = 0
        first_tried_at = notice.first_tried_at or utc_now()
        update: dict[str, object] = {
            "subject": rendered.subject,
            "first_tried_at": first_tried_at,
            "retry_at": None,
        }
        try:
            secret = self.config.route_secret(tenant.id, route)
            message = Message(
                notice_id=notice.id,
                tenant=tenant.id,
                destination=route.destination,
                subject=rendered.subject,
                body=rendered.body,
                secret=secret,
                payload={
                    "type": f"incident.{context['change']}",
                    "timestamp": utc_now().isoformat(),
                    "data": {
                        **context,
                        "notice_id": notice.id,
                        "subject": rendered.subject,
                        "message": rendered.body,
                    },
                },
            )
            channel = self.channels[route.channel]

            def attempt() -> str:
                nonlocal attempts
                attempts += 1
                return channel.send(message)

            backoff = self.settings.notice_backoff_s
            retrying = Retrying(
                stop=stop_after_attempt(self.settings.notice_attempts),
                # Capped exponential backoff plus up to one base delay of jitter.
                wait=wait_exponential(multiplier=backoff, max=backoff * 16) + wait_random(0, backoff),
                retry=retry_if_exception_type(TransientDeliveryError),
                reraise=True,
            )
            receipt = retrying(attempt)
            update |= {"status": NoticeStatus.sent, "sent_at": utc_now(), "receipt": receipt}
        except TransientDeliveryError as exc:
            total = notice.attempts + attempts
            update |= after_transient_failure(
                notice, total, str(exc), first_tried_at=first_tried_at, now=utc_now(), settings=self.settings
            )
        except (PermanentDeliveryError, ConfigError) as exc:
            update |= {"status": NoticeStatus.failed, "error": f"permanent: {exc}"}
        # Attempts add up over rounds: a notice retried by the sweep keeps its earlier ones.
        final = notice.model_copy(update={**update, "attempts": notice.attempts + attempts})
        (log.error if expired(final) else log.info)(
            "notice given up for good" if expired(final) else "notice",
            tenant=tenant.id,
            incident=notice.incident_id,
            state=notice.incident_state,
            channel=notice.channel,
            status=final.status.value,
            attempts=attempts,
            error=final.error,
        )
        return final

    @staticmethod
    def _evidence(notice: Notice, incident: Incident) -> EvidenceItem:
        sent = notice.status == NoticeStatus.sent
        occurred: datetime = notice.sent_at or utc_now()
        return EvidenceItem(
            key=f"notice:{notice.id}:{notice.status.value}",
            record_type=EvidenceType.notice_sent if sent else EvidenceType.notice_failed,
            subject_id=notice.id,
            occurred_at=occurred,
            details={
                "incident_id": notice.incident_id,
                "incident_state": notice.incident_state,
                "channel": notice.channel,
                "destination": notice.destination,
                "subject": notice.subject,
                "attempts": notice.attempts,
                "receipt": notice.receipt,
                "error": notice.error,
            },
            personal_data=incident.personal_data,
        )


RECORD_TRIES = 10  # writes of a notice that keeps losing races to other rounds (two, in practice)


class _RacedError(Exception):
    """Writes that lost a race to another round of the same notices: read and made again."""


def record_rounds(
    es: Elasticsearch, index: str, rounds: list[tuple[Notice, int]], *, owner: str, claimed_at: str
) -> dict[str, Notice]:
    """Record each notice's state after a round of delivery that started from `base` attempts, and
    return the notices as recorded.

    The round's attempts are added to those the index holds, not written over them: a round that
    outlived its claim (claim_timeout_s) may have been taken over by a sweep and run beside another
    round of the same notice, and both rounds' attempts must count (the rest of the document is the
    last writer's). Each write is conditional on the document read (optimistic concurrency:
    if_seq_no); a write that lost a race is read and made again, a little later. No script: the
    local Elasticsearch has no Painless."""
    pending = {final.id: (final, base) for final, base in rounds}
    recorded: dict[str, Notice] = {}
    if not pending:
        return recorded
    retrying = Retrying(
        stop=stop_after_attempt(RECORD_TRIES),
        wait=wait_random(0, 0.05),  # apart from the rounds it raced with
        retry=retry_if_exception_type(_RacedError),
        reraise=True,
    )
    try:
        for attempt in retrying:
            with attempt:
                pending = _write_rounds(es, index, pending, recorded, owner=owner, claimed_at=claimed_at)
                if pending:
                    raise _RacedError(next(iter(pending)))
    except _RacedError as raced:
        raise BulkError(
            f"{len(pending)} notices changed under each of {RECORD_TRIES} writes; first: {raced}"
        ) from None
    return recorded


def _write_rounds(
    es: Elasticsearch,
    index: str,
    pending: dict[str, tuple[Notice, int]],
    recorded: dict[str, Notice],
    *,
    owner: str,
    claimed_at: str,
) -> dict[str, tuple[Notice, int]]:
    """One read and one conditional write of the pending notices (into `recorded`); those whose
    write lost a race (409) are returned."""
    found = {d["_id"]: d for d in es.mget(index=index, ids=list(pending))["docs"] if d.get("found")}
    ops: list[dict[str, Any]] = []
    for nid, (final, base) in pending.items():
        held = found.get(nid)
        before = notice_from_doc(held["_source"]).attempts if held else base
        recorded[nid] = final.model_copy(update={"attempts": before + final.attempts - base})
        guard = {"if_seq_no": held["_seq_no"], "if_primary_term": held["_primary_term"]} if held else {}
        ops += [
            {"index" if held else "create": {"_index": index, "_id": nid, **guard}},
            notice_doc(recorded[nid], owner=owner, claimed_at=claimed_at),
        ]
    results = bulk_items(es, ops)
    failed = [r for r in results if r.get("error") and r.get("status") != 409]
    if failed:
        raise BulkError(f"{len(failed)} notice writes failed; first: {failed[0]['error']}")
    return {nid: pending[nid] for nid, r in zip(pending, results, strict=True) if r.get("status") == 409}
