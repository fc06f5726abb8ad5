"""Responder workers on real Kafka and Elasticsearch: two in one consumer group, then a full replay."""

from __future__ import annotations

import threading

import pytest
from click.testing import CliRunner
from elasticsearch import Elasticsearch
from responder_helpers import WebhookSink, count, detection, envelope_bytes, sources

from cli.main import cli
from responders.evidence.audit import verify_live
from responders.worker import Responders
from schemas.deadletter import DeadLetter
from socpipe.bus import KafkaBus, Outbound
from socpipe.settings import Settings, get_settings
from socpipe.worker import WorkerStats, run_worker

pytestmark = [pytest.mark.kafka, pytest.mark.elasticsearch]

TENANTS = ("red", "blue", "green")  # green is not configured: incidents and evidence, no notices


def _detections() -> list:
    return [
        detection(n, tenant, host=f"{tenant}-host-{n % 2}", level="critical" if n % 5 == 0 else "high")
        for tenant in TENANTS
        for n in range(8)
    ]


def _produce(bus: KafkaBus, topic: str, values: list[tuple[bytes, bytes]]) -> None:
    publisher = bus.publisher()
    publisher.send_all(Outbound(topic, value, key=key) for key, value in values)
    publisher.flush()
    publisher.close()


def _workers(settings: Settings, group: str, n: int) -> list[WorkerStats]:
    """Run n responder workers in one consumer group until the topic is drained."""
    bus = KafkaBus(settings)
    stats: list[WorkerStats] = []
    errors: list[BaseException] = []

    def work() -> None:
        responders = Responders(settings)
        consumer = bus.consumer(group, [settings.topics.detections])
        publisher = bus.publisher()
        try:
            stats.append(
                run_worker(
                    responders.stage(),
                    consumer,
                    publisher,
                    settings.topics.dlq,
                    poll_timeout_ms=300,
                    max_records=5,
                    idle_polls_before_exit=12,
                )
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            consumer.close()
            publisher.close()
            responders.close()

    threads = [threading.Thread(target=work) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert errors == []
    return stats


def _snapshot(es: Elasticsearch, settings: Settings) -> dict[str, dict[str, int]]:
    return {
        t: {k: count(es, settings, k, t) for k in ("incidents", "detections", "notices", "evidence")}
        for t in TENANTS
    }


def test_two_workers_in_one_group_then_a_full_replay_duplicate_nothing(
    rsettings: Settings, es: Elasticsearch, webhooks: WebhookSink
) -> None:
    """Every detection produced twice; two workers share the partitions; then a new consumer group reads
    the whole topic again. Incidents, detections, notices and evidence are the same after the replay as
    before it, each detection is counted once, every chain verifies, each webhook was sent once, and the
    one bad message went to the dead-letter topic (again on the replay, same position)."""
    bus = KafkaBus(rsettings)
    bus.ensure_pipeline_topics()
    messages = [(d.tenant.encode(), envelope_bytes(d)) for d in _detections()]
    _produce(bus, rsettings.topics.detections, [*messages, (b"red", b"not a detection"), *messages])

    stats = _workers(rsettings, "responders", 2)
    assert sum(s.records for s in stats) == 2 * len(messages) + 1
    after_first = _snapshot(es, rsettings)
    hooks = len(webhooks.requests)
    _workers(rsettings, "replay", 1)
    assert _snapshot(es, rsettings) == after_first
    assert len(webhooks.requests) == hooks

    for tenant in TENANTS:
        incidents = sources(es, rsettings, "incidents", tenant)
        assert len(incidents) == 2 and sum(i["incident"]["detection_count"] for i in incidents) == 8
        assert {i["incident"]["tenant"] for i in incidents} == {tenant}
        assert verify_live(es, rsettings, tenant).ok
    assert after_first["green"]["notices"] == 0 and after_first["red"]["notices"] > 0
    ids = [r.headers["webhook-id"] for r in webhooks.requests]
    assert len(ids) == len(set(ids))

    reader = bus.consumer("dlq-reader", [rsettings.topics.dlq])
    dead: list[DeadLetter] = []
    for _ in range(30):
        dead += [
            DeadLetter.model_validate_json(r.value) for rs in reader.poll(timeout_ms=300).values() for r in rs
        ]
        if len(dead) >= 2:
            break
    reader.close()
    # Once from the group, once from the replay: the same record, at the same position.
    assert [d.original for d in dead] == [b"not a detection"] * 2
    assert len({(d.position.topic, d.position.partition, d.position.offset) for d in dead}) == 1
    assert dead[0].stage == "responder" and dead[0].position.topic == rsettings.topics.detections


def test_socpipe_responder_run_from_the_command_line(
    rsettings: Settings, es: Elasticsearch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`socpipe responder run --exit-when-idle N` consumes the detections topic and writes the incidents."""
    bus = KafkaBus(rsettings)
    bus.ensure_pipeline_topics()
    _produce(
        bus, rsettings.topics.detections, [(b"blue", envelope_bytes(detection(n, "blue"))) for n in range(3)]
    )
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": rsettings.kafka_bootstrap_servers,
        "ELASTICSEARCH_URL": rsettings.elasticsearch_url,
        "SOCPIPE_TOPIC_PREFIX": rsettings.topic_prefix,
        "SOCPIPE_INDEX_PREFIX": rsettings.index_prefix,
        "SOCPIPE_TENANTS_FILE": str(rsettings.tenants_file),
        "SOCPIPE_SMTP_PORT": str(rsettings.smtp_port),
        "SOCPIPE_POLL_TIMEOUT_MS": "300",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            cli, ["responder", "run", "--exit-when-idle", "5"], catch_exceptions=False
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0 and "responder: 3 records" in result.output, result.output
    [incident] = sources(es, rsettings, "incidents", "blue")
    assert incident["incident"]["detection_count"] == 3
