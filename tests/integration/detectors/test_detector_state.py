"""Detector state through real Kafka: a correlation window survives a worker restart."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from detectors.build import build_detector_stage
from detectors.worker import DetectionEnvelope
from schemas import EcsEvent, Envelope
from socpipe.bus import KafkaBus, Outbound
from socpipe.settings import Settings
from socpipe.worker import run_worker

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


def _event(minute: int) -> Outbound:
    original = {
        "EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "WS-1",
        "Image": "C:\\Users\\Public\\m.exe", "CommandLine": f"m.exe sekurlsa::logonpasswords #{minute}",
    }
    event = EcsEvent.model_validate({
        "@timestamp": T0 + timedelta(minutes=minute), "tenant": "acme", "host": {"name": "WS-1"},
        "ingest": {"source": "test", "parser": "windows", "received_at": T0}, "original": original,
    })
    envelope = Envelope[EcsEvent](kind="event", tenant="acme", id=event.event_id(), payload=event)
    return Outbound("", envelope.model_dump_json(by_alias=True).encode(), key=b"acme")


def _produce(bus: KafkaBus, minutes: list[int]) -> None:
    publisher = bus.publisher()
    for minute in minutes:
        message = _event(minute)
        publisher.send(Outbound(bus.topics.ecs, message.value, key=message.key))
    publisher.flush()
    publisher.close()


def _run_detector(settings: Settings) -> None:
    """A fresh worker process, as after a restart: new stage, new engine, state only from Kafka."""
    bus = KafkaBus(settings)
    consumer = bus.consumer(settings.detector_group, [settings.topics.ecs])
    publisher = bus.publisher()
    try:
        run_worker(build_detector_stage(settings), consumer, publisher, settings.topics.dlq,
                   stop=threading.Event(), poll_timeout_ms=300, idle_polls_before_exit=4)
    finally:
        consumer.close()
        publisher.close()


def _detections(bus: KafkaBus) -> list[DetectionEnvelope]:
    consumer = bus.consumer("reader", [bus.topics.detections])
    out = []
    for _ in range(15):
        for records in consumer.poll(timeout_ms=200).values():
            out += [DetectionEnvelope.model_validate_json(r.value) for r in records]
    consumer.close()
    return out


def test_correlation_window_survives_a_restart(settings: Settings, tmp_path: Path) -> None:
    """Two events before a restart and one after still make three in the window: the correlation fires once."""
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
    assert len(sigma) == 3
    assert len(correlations) == 1, detections
    assert correlations[0].rule.id == "7b0e5a1c-1111-4c2d-9e3f-0a1b2c3d4e5f"
    assert correlations[0].matched["value"] == 3
