"""The responder stage against real Elasticsearch: grouping, replays, concurrency, documents, bad input."""

from __future__ import annotations

import threading

import pytest
from elasticsearch import BadRequestError, Elasticsearch
from responder_helpers import SmtpSink, WebhookSink, count, detection, inbound, sources

from responders.evidence.audit import verify_live
from responders.worker import Responders
from schemas.envelope import Envelope
from socpipe.bus import Inbound
from socpipe.es import tenant_indices
from socpipe.settings import Settings

pytestmark = pytest.mark.elasticsearch

KINDS = ("incidents", "detections", "notices", "evidence")


def _counts(es: Elasticsearch, settings: Settings, tenant: str) -> dict[str, int]:
    return {kind: count(es, settings, kind, tenant) for kind in KINDS}


def _batch() -> list:
    return [
        detection(1),
        detection(2, level="critical", tags=("attack.t1003.001",)),
        detection(3),
        detection(4, host="ws-2"),
        detection(5, "blue", level="medium"),
        detection(6, "blue", level="medium"),
    ]


def test_grouped_incidents_and_replays_duplicate_nothing(
    responders: Responders, es: Elasticsearch, rsettings: Settings, smtp: SmtpSink, webhooks: WebhookSink
) -> None:
    """Same rule+entity within the window -> one incident with count, times, techniques, highest severity;
    the same detections processed twice more (whole, then split and reordered) add no incident, detection,
    notice or evidence record, and send nothing again."""
    stage = responders.stage()
    assert stage.process(inbound(_batch())).dead_letters == []
    first = {t: _counts(es, rsettings, t) for t in ("red", "blue")}
    sent = (len(smtp.messages), len(webhooks.requests))
    batch = _batch()
    stage.process(inbound(batch))
    stage.process(inbound(batch[3:][::-1]))
    stage.process(inbound(batch[:3][::-1]))
    assert {t: _counts(es, rsettings, t) for t in ("red", "blue")} == first
    assert (len(smtp.messages), len(webhooks.requests)) == sent

    assert first["red"]["incidents"] == 2 and first["blue"]["incidents"] == 1
    assert first["red"]["detections"] == 4 and first["blue"]["detections"] == 2
    incidents = {
        s["incident"]["entity"]["host"]: s["incident"] for s in sources(es, rsettings, "incidents", "red")
    }
    ws1 = incidents["ws-1"]
    assert ws1["detection_count"] == 3 and len(ws1["detection_ids"]) == 3
    assert ws1["severity"] == "critical" and ws1["techniques"] == ["T1003.001", "T1059.001"]
    assert ws1["first_seen"] == "2026-11-30T08:01:00Z" and ws1["last_seen"] == "2026-11-30T08:03:00Z"
    assert ws1["personal_data"] and ws1["gdpr_deadline"]  # red's incidents touch personal data
    # Evidence: one record per detection and per incident version, chained, nothing of blue in red's chain.
    assert first["red"]["evidence"] == 4 + 2 + first["red"]["notices"]
    assert verify_live(es, rsettings, "red").ok and verify_live(es, rsettings, "blue").ok


def test_window_and_closed_incidents_open_new_ones(
    responders: Responders, es: Elasticsearch, rsettings: Settings
) -> None:
    """Past the window the group's next incident opens; after closing, a new detection opens a new one;
    within the window an update of an existing incident is a new version, evidenced as incident_updated."""
    stage = responders.stage()
    stage.process(inbound([detection(1)]))
    stage.process(inbound([detection(30)]))  # 29 minutes later: same incident, version 2
    stage.process(inbound([detection(200)]))  # past the 1h window: the next incident
    incidents = sorted(sources(es, rsettings, "incidents", "red"), key=lambda s: s["incident"]["first_seen"])
    assert [s["incident"]["detection_count"] for s in incidents] == [2, 1]
    assert incidents[0]["incident"]["version"] == 2
    updated = count(es, rsettings, "evidence", "red", {"term": {"evidence.record_type": "incident_updated"}})
    assert updated == 1
    responders.triage().act(
        incidents[1]["incident"]["id"],
        "close",
        "ann",
        verdict="benign",
        reason="test",  # type: ignore[arg-type]
    )
    stage.process(inbound([detection(201)]))
    assert count(es, rsettings, "incidents", "red") == 3


def test_documents_are_ecs_aligned_and_mappings_strict(
    responders: Responders, es: Elasticsearch, rsettings: Settings
) -> None:
    """Incident and detection documents carry ECS fields; a field nobody mapped is refused."""
    responders.stage().process(inbound([detection(1)]))
    incident = sources(es, rsettings, "incidents", "red")[0]
    assert incident["organization"]["id"] == "red" and incident["host"]["name"] == "ws-1"
    assert incident["user"]["name"] == "alice" and incident["source"]["ip"] == "192.0.2.10"
    assert incident["event"]["kind"] == "alert" and incident["threat"]["technique"]["id"] == ["T1059.001"]
    det = sources(es, rsettings, "detections", "red")[0]
    assert det["incident"]["id"] == incident["incident"]["id"] and det["rule"]["id"] == "rule-a"
    with pytest.raises(BadRequestError, match="strict"):
        es.index(index=tenant_indices(rsettings, "red").incidents, document={"surprise": 1})


def test_two_responders_racing_on_one_batch_neither_duplicate_nor_lose(
    rsettings: Settings, es: Elasticsearch, webhooks: WebhookSink
) -> None:
    """Two responder processes handling the same detections at once (a rebalance): one incident per group,
    every detection counted once, one evidence record per subject in an unforked chain, one notice each."""
    batch = [detection(n, host=f"ws-{n % 3}", level="critical" if n == 7 else "high") for n in range(12)]
    workers = [Responders(rsettings) for _ in range(2)]
    errors: list[BaseException] = []

    def run(r: Responders) -> None:
        try:
            r.stage().process(inbound(batch))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for w in workers:
        w.close()
    assert errors == []
    incidents = sources(es, rsettings, "incidents", "red")
    assert len(incidents) == 3
    assert sum(s["incident"]["detection_count"] for s in incidents) == 12
    evidence = sources(es, rsettings, "evidence", "red")
    keys = [s["evidence"]["evidence_key"] for s in evidence]
    assert len(keys) == len(set(keys))
    assert sum(k.startswith("detection:") for k in keys) == 12
    assert verify_live(es, rsettings, "red").ok
    ids = [r.headers["webhook-id"] for r in webhooks.at("/red")]
    assert (
        len(ids)
        == len(set(ids))
        == count(es, rsettings, "notices", "red", {"term": {"notice.channel": "webhook"}})
    )


def test_bad_messages_become_dead_letters_and_the_rest_is_processed(responders: Responders) -> None:
    """Not JSON, not a detection, a tenant mismatch between key, envelope and payload: dead letters with
    the reason and position; the good detection in the same batch is processed."""
    good = detection(1)
    other = detection(2, "blue")
    mismatched = (
        Envelope(kind="detection", tenant="red", id=other.id, payload=other).model_dump_json().encode()
    )
    wrong_kind = Envelope(kind="event", tenant="red", id=good.id, payload=good).model_dump_json().encode()
    batch = [
        Inbound(topic="detections", partition=1, offset=10, value=b"{not json", key=b"red"),
        Inbound(topic="detections", partition=1, offset=11, value=mismatched, key=b"red"),
        Inbound(topic="detections", partition=1, offset=12, value=wrong_kind, key=b"red"),
        Inbound(topic="detections", partition=1, offset=13, value=inbound([good])[0].value, key=b"blue"),
        *inbound([good], start_offset=14),
    ]
    output = responders.stage().process(batch)
    assert [d.position.offset for d in output.dead_letters] == [10, 11, 12, 13]
    assert all(d.stage == "responder" and d.original for d in output.dead_letters)
    assert "tenant mismatch" in output.dead_letters[1].reason
    assert "expected kind 'detection'" in output.dead_letters[2].reason
