"""`socpipe responder run` through an Elasticsearch outage of 40 s: it waits, resumes, and every detection is
counted once, with its evidence, and every chain verifies (issue 17 item 1: it used to exit after three
quick retries with an elastic_transport.ConnectionError)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from fault_helpers import log_lines, socpipe_process, stop_process, wait_for

from devtools.private import ELASTICSEARCH, PrivatePair
from responders.evidence.audit import verify_live
from schemas.common import Severity
from schemas.detection import Detection, Entity, EventRef, RuleRef
from schemas.envelope import Envelope
from socpipe.bus import KafkaBus, Outbound
from socpipe.es import IndexKind, tenant_indices
from socpipe.settings import Settings

pytestmark = [pytest.mark.kafka, pytest.mark.elasticsearch, pytest.mark.faults]

OUTAGE_S = 40
TENANTS = ("red", "blue")
T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def _detection(n: int, tenant: str) -> Detection:
    return Detection(
        id=Detection.make_id(tenant, "rule-a", f"evt-{n}"),
        tenant=tenant,
        rule=RuleRef(id="rule-a", title="Rule a", level=Severity.high, tags=["attack.t1059.001"]),
        event_time=T0 + timedelta(minutes=n),
        entity=Entity(host=f"{tenant}-host-{n % 3}", user="alice"),
        event_ref=EventRef(event_id=f"evt-{n}", topic="events.ecs", partition=0, offset=n),
    )


def _produce(settings: Settings, numbers: range) -> None:
    publisher = KafkaBus(settings).publisher()
    for tenant in TENANTS:
        for n in numbers:
            d = _detection(n, tenant)
            value = Envelope[Detection](kind="detection", tenant=tenant, id=d.id, payload=d).model_dump_json()
            publisher.send(Outbound(settings.topics.detections, value.encode(), tenant.encode()))
    publisher.flush()
    publisher.close()


def _count(es: Elasticsearch, settings: Settings, kind: IndexKind, tenant: str) -> int:
    index = tenant_indices(settings, tenant).of(kind)
    try:
        es.indices.refresh(index=index)
        return int(es.count(index=index)["count"])
    except Exception:
        return -1


def test_responder_waits_out_an_elasticsearch_outage(
    pair: PrivatePair, fault_settings: Settings, tenants_file: Path, tmp_path: Path
) -> None:
    """Detections sent before and during the outage are all counted once after it; the responder never
    exits, logs the outage once and its end once, and the evidence chains verify."""
    KafkaBus(fault_settings).ensure_pipeline_topics()
    _produce(fault_settings, range(0, 20))
    log = tmp_path / "responder.log"
    responder = socpipe_process(
        fault_settings, "responder", "run", log=log,
        SOCPIPE_TENANTS_FILE=str(tenants_file), SOCPIPE_NOTICE_SWEEP_INTERVAL_S="0",
    )  # fmt: skip
    es = Elasticsearch(fault_settings.elasticsearch_url, request_timeout=10)
    try:
        first = {t: 20 for t in TENANTS}
        wait_for(
            lambda: {t: _count(es, fault_settings, "detections", t) for t in TENANTS} == first,
            120, "the first 40 detections",
        )  # fmt: skip
        pair.stop(ELASTICSEARCH)
        _produce(fault_settings, range(20, 40))
        for _ in range(OUTAGE_S):
            assert responder.poll() is None, "the responder exited during the Elasticsearch outage"
            time.sleep(1)
        pair.start()
        es.close()
        es = Elasticsearch(fault_settings.elasticsearch_url, request_timeout=10)
        every = {t: 40 for t in TENANTS}
        wait_for(
            lambda: {t: _count(es, fault_settings, "detections", t) for t in TENANTS} == every,
            180, "all 80 detections after the outage",
        )  # fmt: skip
        assert responder.poll() is None, "the responder exited after the outage"
        time.sleep(3)  # the last batch's evidence and commit
        for tenant in TENANTS:
            incidents = es.search(index=tenant_indices(fault_settings, tenant).incidents, size=100)
            counted = sum(h["_source"]["incident"]["detection_count"] for h in incidents["hits"]["hits"])
            assert counted == 40, f"{tenant}: detections counted {counted} times, not 40"
            assert verify_live(es, fault_settings, tenant).ok
    finally:
        es.close()
        code = stop_process(responder)
    assert code == 0
    events = [line.get("event") for line in log_lines(log)]
    assert events.count("elasticsearch unavailable: waiting") == 1, events
    assert events.count("elasticsearch available again: resuming") == 1, events
