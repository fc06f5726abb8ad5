"""Stateful detection through real Kafka: the detector publishes contributions, the correlate stage keeps
the windows; they survive worker restarts, one state record per tenant."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from kafka import KafkaConsumer, TopicPartition

from detectors.build import build_correlate_stage, build_detector_stage, build_engine
from detectors.correlate import CorrelateStage
from detectors.correlation_component import CorrelationComponent
from detectors.detector import StatefulComponent
from detectors.state import StateStore
from detectors.worker import DetectionEnvelope
from schemas import EcsEvent, Envelope
from socpipe.bus import KafkaBus, Outbound
from socpipe.settings import Settings
from socpipe.worker import Stage, run_worker

pytestmark = pytest.mark.kafka

CORRELATION = """\
title: Repeated Mimikatz On One Host
id: 7b0e5a1c-1111-4c2d-9e3f-0a1b2c3d4e5f
status: test
author: socpipe tests
correlation:
  type: event_count
  rules:
    - 0d1c3b7e-8a52-4d4e-b1f2-7e4c2b9a0c02
  group-by:
    - Computer
  timespan: 10m
  condition:
    gte: 3
level: critical
"""

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def _event(minute: int, tenant: str = "acme") -> Outbound:
    original = {
        "EventID": 1,
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "Computer": "WS-1",
        "Image": "C:\\Users\\Public\\m.exe",
        "CommandLine": f"m.exe sekurlsa::logonpasswords #{minute}",
    }
    event = EcsEvent.model_validate(
        {
            "@timestamp": T0 + timedelta(minutes=minute),
            "tenant": tenant,
            "host": {"name": "WS-1"},
            "ingest": {"source": "test", "parser": "windows", "received_at": T0},
            "original": original,
        }
    )
    envelope = Envelope[EcsEvent](kind="event", tenant=tenant, id=event.event_id(), payload=event)
    return Outbound("", envelope.model_dump_json(by_alias=True).encode(), key=tenant.encode())


def _produce(bus: KafkaBus, minutes: list[int], tenant: str = "acme") -> None:
    publisher = bus.publisher()
    for minute in minutes:
        message = _event(minute, tenant)
        publisher.send(Outbound(bus.topics.ecs, message.value, key=message.key))
    publisher.flush()
    publisher.close()


def _run(settings: Settings, stage: Stage, group: str, topic: str) -> None:
    bus = KafkaBus(settings)
    consumer = bus.consumer(group, [topic])
    publisher = bus.publisher()
    try:
        run_worker(
            stage,
            consumer,
            publisher,
            settings.topics.dlq,
            stop=threading.Event(),
            poll_timeout_ms=300,
            idle_polls_before_exit=4,
        )
    finally:
        consumer.close()
        publisher.close()


def _run_detector(settings: Settings, correlate: CorrelateStage | None = None) -> None:
    """Fresh worker processes, as after a restart: the stateless detector, then the correlate stage with
    a new engine and its state only from Kafka."""
    _run(settings, build_detector_stage(settings), settings.detector_group, settings.topics.ecs)
    stage = correlate or build_correlate_stage(settings)
    _run(settings, stage, settings.correlate_group, settings.topics.contributions)


def _detections(bus: KafkaBus) -> list[DetectionEnvelope]:
    consumer = bus.consumer("reader", [bus.topics.detections])
    out = []
    for _ in range(15):
        for records in consumer.poll(timeout_ms=200).values():
            out += [DetectionEnvelope.model_validate_json(r.value) for r in records]
    consumer.close()
    return out


def test_correlation_window_survives_a_restart(settings: Settings, tmp_path: Path) -> None:
    """Two events before a restart and one after make three in the window: the correlation fires once."""
    (tmp_path / "corr.yml").write_text(CORRELATION)
    settings = settings.model_copy(update={"rules_dirs": [tmp_path]})
    bus = KafkaBus(settings)
    bus.ensure_pipeline_topics()
    _produce(bus, [0, 1])
    _run_detector(settings)
    _produce(bus, [2])
    _run_detector(settings)
    detections = [d.payload for d in _detections(bus)]
    sigma = [d for d in detections if d.kind == "sigma"]
    correlations = [d for d in detections if d.kind == "correlation"]
    assert sigma == []  # the correlation has no `generate: true`: its base rule only feeds it
    assert len(correlations) == 1, detections
    assert correlations[0].rule.id == "7b0e5a1c-1111-4c2d-9e3f-0a1b2c3d4e5f"
    assert correlations[0].matched["value"] == 3


def _state_records(settings: Settings) -> list[tuple[int, bytes, bytes | None]]:
    """Every record of the state topic as (partition * 10**9 + offset, key, value), in write order."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers.split(","), group_id=None)
    try:
        topic = settings.topics.detector_state
        for _ in range(50):  # a new consumer may not have the topic's metadata yet
            if partitions := consumer.partitions_for_topic(topic):
                break
            consumer.poll(timeout_ms=100)
        tps = [TopicPartition(topic, p) for p in sorted(partitions or ())]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        out = []
        while any(consumer.position(tp) < end[tp] for tp in tps):
            for records in consumer.poll(timeout_ms=500).values():
                out += [(r.partition * 10**9 + r.offset, r.key, r.value) for r in records]
        return sorted(out)
    finally:
        consumer.close()


def test_two_tenants_on_one_partition_resume_from_their_own_records(
    settings: Settings, tmp_path: Path
) -> None:
    """Two tenants share one input partition: each gets its own state record; a batch of tenant A's
    events writes A's record only; after restarts both tenants' windows carry on and fire once each."""
    (tmp_path / "corr.yml").write_text(CORRELATION)
    settings = settings.model_copy(update={"rules_dirs": [tmp_path], "topic_partitions": 1})
    bus = KafkaBus(settings)
    bus.ensure_pipeline_topics()
    prefix = f"{settings.correlate_group}|{settings.topics.contributions}|0|".encode()
    _produce(bus, [0, 1], "acme")
    _produce(bus, [0, 1], "globex")
    _run_detector(settings)
    first = _state_records(settings)
    assert {key for _, key, _ in first} == {prefix + b"acme", prefix + b"globex"}
    last = {key: orjson.loads(value) for _, key, value in first if value is not None}
    # Each event gives two contributions (the correlation's and rare_lineage's): acme's are offsets 0-3.
    assert last[prefix + b"acme"]["next_offset"] == 4
    assert last[prefix + b"globex"]["next_offset"] == 8
    assert last[prefix + b"acme"]["components"]["correlation"]["groups"][0]["group"] == {"Computer": "WS-1"}

    _produce(bus, [2], "acme")  # contributions 8 and 9: only acme is touched
    _run_detector(settings)
    second = _state_records(settings)[len(first) :]
    assert [key for _, key, _ in second] == [prefix + b"acme"]
    ((_, _, value),) = second
    assert value is not None and orjson.loads(value)["next_offset"] == 10

    _produce(bus, [2], "globex")
    _run_detector(settings)
    correlations = [d.payload for d in _detections(bus) if d.payload.kind == "correlation"]
    assert sorted((c.tenant, c.matched["value"]) for c in correlations) == [("acme", 3), ("globex", 3)]


def _correlation_only_stage(settings: Settings) -> CorrelateStage:
    """A stage whose only stateful component is the correlation: a tenant's state empties when it fires."""
    engine = build_engine(settings)

    def components() -> dict[str, StatefulComponent]:
        return {"correlation": CorrelationComponent(engine.ruleset)}

    return CorrelateStage(StateStore(settings, settings.correlate_group, components), settings.topics)


def test_an_emptied_tenant_is_tombstoned_once_committed(settings: Settings, tmp_path: Path) -> None:
    """A tenant whose window fired and closed is stored as an empty record, then deleted with a
    tombstone (a null value) once a later batch shows its offsets committed; a restart carries on."""
    (tmp_path / "corr.yml").write_text(CORRELATION)
    settings = settings.model_copy(update={"rules_dirs": [tmp_path], "topic_partitions": 1})
    bus = KafkaBus(settings)
    bus.ensure_pipeline_topics()
    acme = f"{settings.correlate_group}|{settings.topics.contributions}|0|acme".encode()
    _produce(bus, [0, 1, 2], "acme")
    _run_detector(settings, _correlation_only_stage(settings))
    *_, (_, key, value) = _state_records(settings)
    assert key == acme and value is not None
    # Contributions 0-5 (two per event; the heuristics' are fed to no component here); the last fed is
    # event 2's second.
    origins = {f"{settings.topics.ecs}/0": [2, 1]}
    assert orjson.loads(value) == {"version": 1, "next_offset": 6, "origins": origins, "components": {}}

    _produce(bus, [0], "globex")
    _run_detector(settings, _correlation_only_stage(settings))
    latest = {key: value for _, key, value in _state_records(settings)}
    assert latest[acme] is None
    assert set(latest) == {acme, acme.replace(b"acme", b"globex")}
