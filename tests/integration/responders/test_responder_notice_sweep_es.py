"""The notice sweep (`socpipe notice retry`, and the responder's periodic one) on real Elasticsearch, with
the real SMTP server and webhook receiver: notices a crash left pending are delivered, once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from click.testing import Result
from elasticsearch import Elasticsearch
from responder_helpers import SmtpSink, WebhookSink, count, detection, inbound, sources

from responders.evidence.audit import verify_live
from responders.evidence.documents import notice_doc
from responders.notices import sweep as sweep_module
from responders.notices.channels import Message
from responders.notices.sweep import SweepResult, sweep_round
from responders.worker import Responders
from schemas.incident import Verdict
from schemas.notice import Notice
from socpipe.es import tenant_indices
from socpipe.settings import Settings

pytestmark = pytest.mark.elasticsearch


class _Crash(BaseException):
    """The process dying after the notice was claimed, before it was sent."""


class _CrashBeforeSend:
    def send(self, message: Message) -> str:
        raise _Crash


def _notices(es: Elasticsearch, settings: Settings) -> dict[tuple[str, str], dict[str, Any]]:
    """(channel, incident state) -> red's notice document."""
    return {
        (n["notice"]["channel"], n["notice"]["incident_state"]): n
        for n in sources(es, settings, "notices", "red")
    }


def _crashed_close(rsettings: Settings, responders: Responders) -> str:
    """An incident of red, notified on open; then `incident close` dies after claiming its close notices
    (webhook and email), before sending either."""
    responders.stage().process(inbound([detection(1)]))
    [incident] = responders.triage().list("red")
    crashing = Responders(rsettings)
    crashing.notifier.channels["webhook"] = _CrashBeforeSend()
    crashing.notifier.channels["email"] = _CrashBeforeSend()
    with pytest.raises(_Crash):
        crashing.triage().act(incident.id, "close", "ann", reason="contained", verdict=Verdict.true_positive)
    crashing.close()
    return incident.id


def _crashed_opens(rsettings: Settings) -> None:
    """Three incidents of red whose open notices (webhook and email each) a worker claimed and then died
    before sending."""
    crashing = Responders(rsettings)
    crashing.notifier.channels["webhook"] = _CrashBeforeSend()
    crashing.notifier.channels["email"] = _CrashBeforeSend()
    with pytest.raises(_Crash):
        crashing.stage().process(inbound([detection(n, host=f"ws-{n}") for n in range(3)]))
    crashing.close()


def _closes(webhooks: WebhookSink) -> list[dict[str, Any]]:
    return [orjson.loads(r.body) for r in webhooks.at("/red") if b"incident.close" in r.body]


def _age_claims(es: Elasticsearch, settings: Settings, ids: list[str]) -> None:
    """Make these notices' claims (or last tries) a day old, older than any claim timeout here (the CLI's
    is the default 60 s), as time would."""
    index = tenant_indices(settings, "red").notices
    old = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    for nid in ids:
        es.update(index=index, id=nid, doc={"claim": {"owner": "gone", "at": old}})
    es.indices.refresh(index=index)


def test_a_close_notice_left_pending_by_a_crashed_command_is_delivered_once_by_notice_retry(
    socpipe: Callable[..., Result],
    rsettings: Settings,
    responders: Responders,
    webhooks: WebhookSink,
    smtp: SmtpSink,
    es: Elasticsearch,
) -> None:
    """`incident close` dies after claiming the webhook's close notice: it stays pending, nothing sent.
    `socpipe notice retry` (once the claim is older than the claim timeout) sends it once, under its
    notice id, records it sent with its notice_sent evidence; a second retry sends nothing."""
    incident_id = _crashed_close(rsettings, responders)
    assert _closes(webhooks) == []
    close = _notices(es, rsettings)[("webhook", "close")]
    assert close["notice"]["status"] == "pending"

    closes = [n["notice"]["id"] for (_, state), n in _notices(es, rsettings).items() if state == "close"]
    _age_claims(es, rsettings, closes)  # the crashed command's claims went stale
    ran = socpipe("notice", "retry", "--tenant", "red")
    assert ran.exit_code == 0, ran.output
    assert "red: sent 2, failed 0" in ran.output  # the webhook's and the email's close notices
    [sent] = _closes(webhooks)
    assert (
        sent["data"]["incident"]["id"] == incident_id and sent["data"]["notice_id"] == close["notice"]["id"]
    )
    assert [r.headers["webhook-id"] for r in webhooks.at("/red") if b"incident.close" in r.body] == [
        close["notice"]["id"]
    ]
    after = _notices(es, rsettings)[("webhook", "close")]["notice"]
    assert after["status"] == "sent" and after["receipt"].startswith("http 200")
    evidence = [e["evidence"] for e in sources(es, rsettings, "evidence", "red")]
    assert [e["subject_id"] for e in evidence if e["record_type"] == "notice_sent"].count(after["id"]) == 1
    [mail] = [m for m in smtp.to("soc@red.example") if "closed" in m["Subject"]]
    email = _notices(es, rsettings)[("email", "close")]["notice"]
    assert mail["Message-ID"] == f"<{email['id']}@socpipe>" and email["status"] == "sent"

    _age_claims(es, rsettings, closes)
    again = socpipe("notice", "retry", "--older-than", "1s")
    assert again.exit_code == 0 and "red: sent 0" in again.output and "blue: sent 0" in again.output
    assert len(_closes(webhooks)) == 1
    assert verify_live(es, rsettings, "red").ok


def test_two_sweeps_racing_over_the_same_stale_notices_send_each_once(
    rsettings: Settings, webhooks: WebhookSink, smtp: SmtpSink, es: Elasticsearch
) -> None:
    """Three incidents' open notices (webhook and email each) left pending by a crashed worker; two
    sweepers (separate processes' worth of clients and owners) start at the same moment: every notice
    reaches its receiver exactly once, and every document ends sent."""
    _crashed_opens(rsettings)
    docs = sources(es, rsettings, "notices", "red")
    assert len(docs) == 6 and {d["notice"]["status"] for d in docs} == {"pending"}

    stale = rsettings.model_copy(update={"claim_timeout_s": 0.5})
    time.sleep(0.7)
    es.indices.refresh(index=tenant_indices(rsettings, "red").notices)
    sweepers = [Responders(stale) for _ in range(2)]
    start = threading.Barrier(2)
    results: list[SweepResult] = []
    errors: list[BaseException] = []

    def sweep(r: Responders) -> None:
        try:
            start.wait()
            results.append(r.sweep().sweep("red"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sweep, args=(r,)) for r in sweepers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for r in sweepers:
        r.close()
    assert errors == []
    assert len(webhooks.at("/red")) == 3
    assert len({r.headers["webhook-id"] for r in webhooks.at("/red")}) == 3
    assert len(smtp.to("soc@red.example")) == 3
    assert len({m["Message-ID"] for m in smtp.messages}) == 3
    assert sum(len(r.delivered.sent) for r in results) == 6
    assert {d["notice"]["status"] for d in sources(es, rsettings, "notices", "red")} == {"sent"}
    assert count(es, rsettings, "evidence", "red", {"term": {"evidence.record_type": "notice_sent"}}) == 6


def test_a_fresh_claim_of_a_live_worker_is_left_alone_until_it_goes_stale(
    responders: Responders, rsettings: Settings, webhooks: WebhookSink, es: Elasticsearch
) -> None:
    """A notice claimed just now by another (live) worker: a sweep, even asked for everything older than
    0 s, neither sends it nor takes its claim; once the claim is older than the timeout, a sweep sends it."""
    responders.stage().process(inbound([detection(1)]))
    [incident] = responders.triage().list("red")
    destination = webhooks.url("/red")
    nid = Notice.make_id("red", incident.id, "acknowledge", "webhook", destination)
    held = Notice(
        id=nid,
        tenant="red",
        incident_id=incident.id,
        incident_state="acknowledge",
        channel="webhook",
        destination=destination,
        subject="",
    )
    index = tenant_indices(rsettings, "red").notices
    es.create(
        index=index, id=nid, document=notice_doc(held, owner="live", claimed_at=datetime.now(UTC).isoformat())
    )
    es.indices.refresh(index=index)
    hooks_before = len(webhooks.at("/red"))

    result = responders.sweep().sweep("red", older_than=timedelta(0))
    assert result.delivered.sent == [] and len(webhooks.at("/red")) == hooks_before
    doc = es.get(index=index, id=nid)["_source"]
    assert doc["claim"]["owner"] == "live" and doc["notice"]["status"] == "pending"

    _age_claims(es, rsettings, [nid])
    result = responders.sweep().sweep("red")
    assert [n.id for n in result.delivered.sent] == [nid]
    assert webhooks.at("/red")[-1].headers["webhook-id"] == nid


def test_a_transient_failure_is_retried_by_the_sweep_a_permanent_one_never(
    responders: Responders, rsettings: Settings, webhooks: WebhookSink, smtp: SmtpSink, es: Elasticsearch
) -> None:
    """Red's webhook answers 503 to all three attempts (failed, transient) and its email 550 (failed,
    permanent). Once the failure is older than the claim timeout, the sweep delivers the webhook (its
    attempts add up to 4, a notice_sent record joins the notice_failed one) and leaves the email alone."""
    webhooks.responses["/red"] = [503, 503, 503]
    smtp.fail_next.append("550 5.1.1 no such mailbox")
    responders.stage().process(inbound([detection(1)]))
    notices = _notices(es, rsettings)
    assert notices[("webhook", "open")]["notice"]["error"].startswith("gave up after 3 attempts")
    assert notices[("email", "open")]["notice"]["error"].startswith("permanent")

    _age_claims(es, rsettings, [n["notice"]["id"] for n in notices.values()])
    result = responders.sweep().sweep("red")
    assert [(n.channel, n.attempts) for n in result.delivered.sent] == [("webhook", 4)]
    assert len(webhooks.at("/red")) == 4 and len(smtp.messages) == 0
    after = _notices(es, rsettings)
    assert after[("webhook", "open")]["notice"]["status"] == "sent"
    assert after[("email", "open")]["notice"]["status"] == "failed"
    evidence = [e["evidence"]["record_type"] for e in sources(es, rsettings, "evidence", "red")]
    assert evidence.count("notice_failed") == 2 and evidence.count("notice_sent") == 1


def test_the_responder_sweeps_its_tenants_between_batches(
    rsettings: Settings, responders: Responders, webhooks: WebhookSink, es: Elasticsearch
) -> None:
    """The periodic sweep the worker starts (every notice_sweep_interval_s) delivers a close notice a
    crashed command left pending, once, while the worker is idle; it waits for a batch in progress."""
    _crashed_close(rsettings, responders)
    quick = rsettings.model_copy(update={"claim_timeout_s": 0.5, "notice_sweep_interval_s": 0.2})
    worker = Responders(quick)
    stage = worker.stage()
    periodic = worker.periodic_sweep(stage)
    with stage.busy:  # a batch in progress: no sweep meanwhile, even once the claim is stale
        periodic.start()
        time.sleep(1.5)
        assert _closes(webhooks) == []
    deadline = time.monotonic() + 20
    while not _closes(webhooks) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # a few more sweeps: nothing more is sent
    periodic.stop(timeout_s=10)
    worker.close()
    assert len(_closes(webhooks)) == 1
    assert _notices(es, rsettings)[("webhook", "close")]["notice"]["status"] == "sent"


def test_the_worker_sweep_takes_a_few_notices_per_round(
    rsettings: Settings,
    webhooks: WebhookSink,
    smtp: SmtpSink,
    es: Elasticsearch,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A round of the worker's sweep delivers at most PERIODIC_LIMIT notices of a tenant, holding the
    batch lock for that tenant only: the next round takes the rest, and nothing is sent twice."""
    _crashed_opens(rsettings)
    stale = rsettings.model_copy(update={"claim_timeout_s": 0.5})
    time.sleep(0.7)
    es.indices.refresh(index=tenant_indices(rsettings, "red").notices)
    monkeypatch.setattr(sweep_module, "PERIODIC_LIMIT", 4)
    worker = Responders(stale)
    sweeper, busy = worker.sweep(), worker.stage().busy
    try:
        first = sum(len(r.delivered.sent) for r in sweep_round(sweeper, busy))
        es.indices.refresh(index=tenant_indices(rsettings, "red").notices)
        second = sum(len(r.delivered.sent) for r in sweep_round(sweeper, busy))
        es.indices.refresh(index=tenant_indices(rsettings, "red").notices)
        third = sum(len(r.delivered.sent) for r in sweep_round(sweeper, busy))
    finally:
        worker.close()
    assert (first, second, third) == (4, 2, 0)
    assert len(webhooks.at("/red")) == 3 and len(smtp.to("soc@red.example")) == 3
    assert {d["notice"]["status"] for d in sources(es, rsettings, "notices", "red")} == {"sent"}


def test_a_notice_that_gave_up_is_resent_once_with_include_failed(
    socpipe: Callable[..., Result],
    responders: Responders,
    rsettings: Settings,
    webhooks: WebhookSink,
    smtp: SmtpSink,
    es: Elasticsearch,
) -> None:
    """Red's email relay refuses (550, permanent) and its webhook fails until its give-up age (503s, then
    expired): a plain `notice retry` leaves both failed, as before. Once the cause is fixed,
    `notice retry --include-failed` sends each once, under its notice id; a second one sends nothing."""
    webhooks.responses["/red"] = [503, 503, 503]
    smtp.fail_next.append("550 5.1.1 relay refused")
    responders.stage().process(inbound([detection(1)]))
    notices = _notices(es, rsettings)
    hook_id = notices[("webhook", "open")]["notice"]["id"]
    index = tenant_indices(rsettings, "red").notices
    expired = {"error": "expired: not delivered within notice_give_up_after_s=86400 s", "retry_at": None}
    es.update(index=index, id=hook_id, doc={"notice": expired})  # failed for good at the give-up age
    _age_claims(es, rsettings, [n["notice"]["id"] for n in notices.values()])

    plain = socpipe("notice", "retry", "--tenant", "red")
    assert plain.exit_code == 0 and "red: sent 0, failed 0" in plain.output
    assert len(webhooks.at("/red")) == 3 and smtp.messages == []

    resent = socpipe("notice", "retry", "--tenant", "red", "--include-failed")
    assert resent.exit_code == 0, resent.output
    assert "red: sent 2, failed 0" in resent.output
    assert [r.headers["webhook-id"] for r in webhooks.at("/red")][3:] == [hook_id]
    email_id = notices[("email", "open")]["notice"]["id"]
    assert [m["Message-ID"] for m in smtp.to("soc@red.example")] == [f"<{email_id}@socpipe>"]
    assert {n["notice"]["status"] for n in _notices(es, rsettings).values()} == {"sent"}

    _age_claims(es, rsettings, [hook_id, email_id])
    again = socpipe("notice", "retry", "--tenant", "red", "--include-failed")
    assert again.exit_code == 0 and "red: sent 0, failed 0" in again.output
    assert len(webhooks.at("/red")) == 4 and len(smtp.to("soc@red.example")) == 1
