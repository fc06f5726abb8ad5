"""Client notices against a real SMTP server (aiosmtpd) and a real HTTP receiver, state in Elasticsearch."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import orjson
import pytest
from elasticsearch import Elasticsearch
from responder_helpers import (
    BLUE_SECRET,
    RED_SECRET,
    SmtpSink,
    WebhookSink,
    count,
    detection,
    inbound,
    sources,
)

from responders.evidence.documents import notice_doc
from responders.notices import signing
from responders.notices.channels import Channel, Message
from responders.notices.notifier import NotifyResult
from responders.worker import Responders
from schemas.common import Severity
from schemas.detection import Entity
from schemas.incident import Incident
from schemas.notice import Notice
from socpipe.es import tenant_indices
from socpipe.settings import Settings

pytestmark = pytest.mark.elasticsearch


def test_webhooks_are_signed_and_emails_sent_both_redacted(
    responders: Responders, smtp: SmtpSink, webhooks: WebhookSink, es: Elasticsearch, rsettings: Settings
) -> None:
    """The webhook verifies with the tenant's secret (Standard Webhooks) and its id is the notice id; the
    email's Message-ID is too; red's sensitive field (user) appears in neither, not even inside the title."""
    responders.stage().process(inbound([detection(1, user="alice.secret", host="")]))
    [hook] = webhooks.at("/red")
    signing.verify(RED_SECRET, hook.headers, hook.body)
    payload = orjson.loads(hook.body)
    assert payload["type"] == "incident.open" and payload["data"]["tenant"]["id"] == "red"
    assert hook.headers["webhook-id"] == payload["data"]["notice_id"]
    [mail] = smtp.to("soc@red.example")
    email_notice = [
        n["notice"] for n in sources(es, rsettings, "notices", "red") if n["notice"]["channel"] == "email"
    ]
    assert mail["Message-ID"] == f"<{email_notice[0]['id']}@socpipe>"
    assert mail["Subject"].startswith("[HIGH] New incident")
    text = mail.get_payload(decode=True).decode()  # type: ignore[union-attr]
    for leaked in (hook.body.decode(), text, mail["Subject"]):
        assert "alice.secret" not in leaked
    assert "[redacted]" in text and "GDPR article 33" in text


def test_each_tenant_is_notified_of_its_own_incidents_above_its_thresholds(
    responders: Responders, smtp: SmtpSink, webhooks: WebhookSink, es: Elasticsearch, rsettings: Settings
) -> None:
    """Red (email >= high, webhook >= medium) and blue (email >= medium, webhook >= low) each get only
    their own notices, and only at their thresholds."""
    responders.stage().process(
        inbound([detection(1, "red", level="medium"), detection(2, "blue", level="low")])
    )
    assert len(webhooks.at("/red")) == 1 and len(webhooks.at("/blue")) == 1
    assert smtp.messages == []  # medium < red's email threshold, low < blue's
    signing.verify(BLUE_SECRET, webhooks.at("/blue")[0].headers, webhooks.at("/blue")[0].body)
    assert orjson.loads(webhooks.at("/blue")[0].body)["data"]["tenant"]["id"] == "blue"
    for tenant in ("red", "blue"):
        notices = sources(es, rsettings, "notices", tenant)
        assert {n["notice"]["tenant"] for n in notices} == {tenant}


def test_transient_failures_are_retried_and_the_receipt_kept_as_evidence(
    responders: Responders, smtp: SmtpSink, webhooks: WebhookSink, es: Elasticsearch, rsettings: Settings
) -> None:
    """HTTP 503 twice then 200, SMTP 451 once then 250: both delivered; attempts and the server's answer
    are kept on the notice and in its notice_sent evidence record."""
    webhooks.responses["/red"] = [503, 503]
    smtp.fail_next.append("451 4.3.0 try again later")
    responders.stage().process(inbound([detection(1)]))
    assert len(webhooks.at("/red")) == 3
    assert len({r.headers["webhook-id"] for r in webhooks.at("/red")}) == 1  # same id on every attempt
    notices = {n["notice"]["channel"]: n["notice"] for n in sources(es, rsettings, "notices", "red")}
    assert notices["webhook"]["status"] == "sent" and notices["webhook"]["attempts"] == 3
    assert notices["webhook"]["receipt"].startswith("http 200")
    assert notices["email"]["status"] == "sent" and notices["email"]["attempts"] == 2
    assert "queued as test" in notices["email"]["receipt"]
    evidence = [e["evidence"] for e in sources(es, rsettings, "evidence", "red")]
    receipts = [e["details"]["receipt"] for e in evidence if e["record_type"] == "notice_sent"]
    assert sorted(receipts) == sorted(n["receipt"] for n in notices.values())


def test_a_permanent_failure_is_recorded_dead_lettered_and_not_retried_on_replay(
    responders: Responders, webhooks: WebhookSink, es: Elasticsearch, rsettings: Settings
) -> None:
    """HTTP 400 is not retried: the notice is failed, a dead letter says why, a notice_failed evidence
    record is written, and processing the detection again sends nothing."""
    webhooks.responses["/red"] = [400]
    stage = responders.stage()
    output = stage.process(inbound([detection(1)]))
    assert len(webhooks.at("/red")) == 1
    [dead] = output.dead_letters
    assert "HTTP 400" in dead.reason and dead.tenant == "red"
    failed = count(es, rsettings, "evidence", "red", {"term": {"evidence.record_type": "notice_failed"}})
    assert failed == 1
    assert stage.process(inbound([detection(1)])).dead_letters == []
    assert len(webhooks.at("/red")) == 1


class _Crash(BaseException):
    """The process dying right after a send, before it could record it."""


class _CrashAfterSend:
    def __init__(self, inner: Channel) -> None:
        self.inner = inner

    def send(self, message: Message) -> str:
        self.inner.send(message)
        raise _Crash


def test_a_crash_mid_send_is_resent_once_under_the_same_id(
    rsettings: Settings, webhooks: WebhookSink, es: Elasticsearch
) -> None:
    """A worker dies after its webhook went out but before recording it. The replay (another worker, after
    the claim timeout) sends it again under the same webhook-id, so the receiver can drop the duplicate,
    and the store ends with one notice and one notice_sent record."""
    crashing = Responders(rsettings)
    crashing.notifier.channels["webhook"] = _CrashAfterSend(crashing.notifier.channels["webhook"])
    with pytest.raises(_Crash):
        crashing.stage().process(inbound([detection(1)]))
    crashing.close()
    [notice] = [
        n["notice"] for n in sources(es, rsettings, "notices", "red") if n["notice"]["channel"] == "webhook"
    ]
    assert notice["status"] == "pending"

    replay = Responders(rsettings.model_copy(update={"claim_timeout_s": 0.0}))
    replay.stage().process(inbound([detection(1)]))
    replay.close()
    hooks = webhooks.at("/red")
    assert len(hooks) == 2 and hooks[0].headers["webhook-id"] == hooks[1].headers["webhook-id"]
    notices = [
        n["notice"] for n in sources(es, rsettings, "notices", "red") if n["notice"]["channel"] == "webhook"
    ]
    assert [n["status"] for n in notices] == ["sent"]
    sent = count(es, rsettings, "evidence", "red", {"term": {"evidence.record_type": "notice_sent"}})
    assert sent == 2  # the webhook and the email, once each


def test_a_notifier_sends_its_own_notices_before_waiting_for_anothers(
    responders: Responders, smtp: SmtpSink, webhooks: WebhookSink, es: Elasticsearch, rsettings: Settings
) -> None:
    """With an incident's webhook notice freshly claimed by another worker, the notifier first sends and
    records the email (so that other worker, were it waiting for it, could go on: no deadlock until the
    claim timeout), then waits; when the other claim goes away it sends the webhook, each once."""
    now = datetime.now(UTC)
    incident = Incident(
        id="inc-1",
        tenant="red",
        title="Incident on ws-1",
        severity=Severity.high,
        group_key="host=ws-1",
        entity=Entity(host="ws-1"),
        first_seen=now,
        last_seen=now,
        updated_at=now,
    )
    hook_id = Notice.make_id("red", "inc-1", "open", "webhook", webhooks.url("/red"))
    held = Notice(
        id=hook_id,
        tenant="red",
        incident_id="inc-1",
        incident_state="open",
        channel="webhook",
        destination=webhooks.url("/red"),
        subject="",
    )
    index = tenant_indices(rsettings, "red").notices
    es.create(index=index, id=hook_id, document=notice_doc(held, owner="other", claimed_at=now.isoformat()))
    results: list[NotifyResult] = []
    notifying = threading.Thread(target=lambda: results.append(responders.notifier.notify("red", [incident])))
    notifying.start()
    deadline = time.monotonic() + 20
    while not smtp.messages and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(smtp.to("soc@red.example")) == 1 and webhooks.at("/red") == [] and notifying.is_alive()
    es.delete(index=index, id=hook_id)  # the other worker gave up its claim
    notifying.join(timeout=20)
    assert len(webhooks.at("/red")) == 1 and len(smtp.messages) == 1
    assert [n.channel for n in results[0].sent] == ["email", "webhook"]


def _notices(es: Elasticsearch, settings: Settings, tenant: str) -> dict[tuple[str, str], str]:
    """(channel, incident state) -> status of every notice document of the tenant."""
    return {
        (n["notice"]["channel"], n["notice"]["incident_state"]): n["notice"]["status"]
        for n in sources(es, settings, "notices", tenant)
    }


def test_an_incident_jumping_past_the_threshold_gets_one_notice_then_real_escalations(
    responders: Responders, smtp: SmtpSink, webhooks: WebhookSink, es: Elasticsearch, rsettings: Settings
) -> None:
    """Red's webhook (>= medium, escalate on) and email (>= high). An incident opened at low (no notice)
    that jumps to high calls for webhook open and escalate:high at once: only the open is sent, announcing
    high, and the escalation is recorded superseded (no evidence of a send). A replay sends nothing. A later
    jump to critical, after the open notices were sent, is a real escalation: sent on both routes, once."""
    stage = responders.stage()
    stage.process(inbound([detection(1, level="low")]))
    assert webhooks.requests == [] and smtp.messages == []

    stage.process(inbound([detection(1, level="low"), detection(2, level="high")]))
    [hook] = webhooks.at("/red")
    payload = orjson.loads(hook.body)
    assert payload["type"] == "incident.open" and payload["data"]["incident"]["severity"] == "high"
    [mail] = smtp.to("soc@red.example")
    assert mail["Subject"].startswith("[HIGH] New incident")
    assert _notices(es, rsettings, "red") == {
        ("webhook", "open"): "sent",
        ("webhook", "escalate:high"): "superseded",
        ("email", "open"): "sent",
    }

    replayed = Responders(rsettings)  # another worker: nothing cached
    replayed.stage().process(inbound([detection(1, level="low"), detection(2, level="high")]))
    replayed.close()
    assert len(webhooks.requests) == 1 and len(smtp.messages) == 1

    stage.process(inbound([detection(3, level="critical")], start_offset=2))
    escalations = [orjson.loads(r.body) for r in webhooks.at("/red")[1:]]
    assert [(e["type"], e["data"]["incident"]["severity"]) for e in escalations] == [
        ("incident.escalate", "critical")
    ]
    assert len(smtp.to("soc@red.example")) == 2
    assert _notices(es, rsettings, "red") == {
        ("webhook", "open"): "sent",
        ("webhook", "escalate:high"): "superseded",
        ("webhook", "escalate:critical"): "sent",
        ("email", "open"): "sent",
        ("email", "escalate:critical"): "sent",
    }
    stage.process(inbound([detection(n, level=lv) for n, lv in ((1, "low"), (2, "high"), (3, "critical"))]))
    assert len(webhooks.requests) == 2 and len(smtp.messages) == 2
    evidence = [e["evidence"] for e in sources(es, rsettings, "evidence", "red")]
    notice_records = sorted(
        e["details"]["incident_state"] for e in evidence if e["record_type"].startswith("notice")
    )
    assert notice_records == ["escalate:critical", "escalate:critical", "open", "open"]
    assert all(e["record_type"] == "notice_sent" for e in evidence if e["record_type"].startswith("notice"))


HOSTILE_HOST = "ws-1\r\nBcc: victim@blue.example\x85Please call +1 555 0100\u2028\x0bnow\x0c\x1c\x1d\x1e"
HOSTILE_USER = 'bob"\nSubject: urgent\u2029' + "x" * 5000


def test_hostile_event_values_stay_one_quoted_line_in_emails_and_webhooks(
    responders: Responders, smtp: SmtpSink, webhooks: WebhookSink
) -> None:
    """A host and a user name carrying CR/LF, NEL, U+2028/2029, VT, FF, FS/GS/RS and a quote add no line
    to the email or the webhook's message: they are escaped, cut to a bounded length, and printed quoted."""
    responders.stage().process(inbound([detection(1, "blue", host=HOSTILE_HOST, user=HOSTILE_USER)]))
    [mail] = smtp.to("alerts@blue.example")
    [hook] = webhooks.at("/blue")
    text = mail.get_payload(decode=True).decode()  # type: ignore[union-attr]
    message = orjson.loads(hook.body)["data"]["message"]
    entity = orjson.loads(hook.body)["data"]["incident"]["entity"]
    for body in (text, message):
        lines = body.splitlines()
        assert not any(line.startswith(("Bcc:", "Please call", "Subject:", "now")) for line in lines)
        [host_line] = [line for line in lines if line.startswith("Host:")]
        assert host_line.endswith('"ws-1\\x0d\\x0aBcc: victim@blue.example\\x85Please call +1 555 0100'
                                  '\\u2028\\x0bnow\\x0c\\x1c\\x1d\\x1e"')  # fmt: skip
        [user_line] = [line for line in lines if line.startswith("User:")]
        assert user_line.startswith('User:       "bob\\"\\x0aSubject: urgent\\u2029xxx')
        assert len(user_line) < 300
        assert "copied from your logs" in body
    for value in (entity["host"], entity["user"]):  # the payload's fields: one line each, bounded
        assert len(value.splitlines()) == 1 and len(value) <= 200


def test_notice_outcomes_become_metrics(
    responders: Responders, smtp: SmtpSink, webhooks: WebhookSink
) -> None:
    """The stage handed the worker's metrics counts each notice it sent, per tenant."""
    from socpipe.metrics import InMemoryMetrics

    metrics = InMemoryMetrics()
    stage = responders.stage()
    stage.use_metrics(metrics)
    stage.process(inbound([detection(1)]))
    sent = metrics.counts[("notices", (("result", "sent"), ("stage", "responder"), ("tenant", "red")))]
    assert sent == len(webhooks.at("/red")) + len(smtp.to("soc@red.example")) > 0
