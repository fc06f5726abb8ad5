"""Events held in events.ecs for the retro-hunt tests: ECS envelopes published with a chosen record time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from schemas.detection import Detection
from schemas.envelope import Envelope
from schemas.event import EcsEvent, Ingest
from socpipe.bus import KafkaBus
from socpipe.settings import Settings
from tests.integration.ingest.ingest_helpers import read_topic


def event(tenant: str, when: datetime, n: int, **original: Any) -> Envelope[EcsEvent]:
    payload = EcsEvent.model_validate(
        {
            "@timestamp": when,
            "tenant": tenant,
            "host": {"name": f"host-{n}"},
            "ingest": Ingest(source="test", parser="windows", received_at=when),
            "original": {"EventID": 3, "n": n, **original},
        }
    )
    return Envelope[EcsEvent](kind="event", tenant=tenant, id=payload.event_id(), payload=payload)


def hold(settings: Settings, envelopes: list[tuple[Envelope[EcsEvent], datetime]]) -> None:
    """Publish to events.ecs, each record stamped with the given time (what offsets_for_times reads)."""
    bus = KafkaBus(settings)
    bus.ensure_pipeline_topics()
    publisher = bus.publisher()
    pending = list(envelopes)
    try:
        for _ in range(5):  # a send refused for a moment (a topic just created, a busy broker) is sent again
            futures = [
                publisher.producer.send(
                    settings.topics.ecs,
                    value=envelope.model_dump_json().encode(),
                    key=envelope.tenant.encode(),
                    timestamp_ms=int(record_time.timestamp() * 1000),
                )
                for envelope, record_time in pending
            ]
            publisher.producer.flush()
            pending = [item for item, future in zip(pending, futures, strict=True) if future.failed()]
            if not pending:
                return
        raise AssertionError(f"{len(pending)} held events could not be published to {settings.topics.ecs}")
    finally:
        publisher.close()


def detections(settings: Settings, at_least: int = 0) -> list[Detection]:
    records = read_topic(
        settings, settings.topics.detections, at_least=at_least, timeout_s=5 if not at_least else 30
    )
    return [Envelope[Detection].model_validate_json(r.value).payload for r in records]


NOW = datetime.now(UTC)
