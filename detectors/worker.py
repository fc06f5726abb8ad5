"""The detector stage: ECS events in; Sigma detections and contributions out. Stateless.

Each event goes through the one `Detector` (detectors/detector.py): its Sigma detections go to the
detections topic, and its contributions to the stateful components go to the repartition topic, keyed
by (tenant, component, key), for the stateful stage (detectors/correlate.py). The stage keeps no state
of its own, so any worker can take any partition of events.ecs, and one tenant's events (keyed by
tenant and host, see ingest/normalise.py) spread over every worker of the group. A reloaded rule set
(detectors/reload.py) is taken at the start of a batch, never inside one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import structlog
from pydantic import ValidationError

from detectors.detector import Detector
from detectors.event_context import attach_event
from detectors.intel.reload import IntelHolder
from detectors.sigma.engine import Engine
from schemas.contribution import Contribution, Origin
from schemas.detection import Detection, EventRef
from schemas.envelope import Envelope
from schemas.event import EcsEvent
from schemas.topics import Topics
from socpipe.bus import Inbound, Outbound
from socpipe.heap import settle
from socpipe.logging import get_logger
from socpipe.worker import StageOutput, dead_letter

log = get_logger(__name__)

EventEnvelope = Envelope[EcsEvent]
DetectionEnvelope = Envelope[Detection]
_RECORD_CONTEXT = ("topic", "partition", "offset", "tenant")


class RuleSource(Protocol):
    def take(self) -> Engine | None:
        """A new, validated engine when a reload was asked for and succeeded; else None."""
        ...


class DetectorStage:
    name = "detector"

    def __init__(
        self,
        detector: Detector,
        topics: Topics,
        rules: RuleSource | None = None,
        intel: IntelHolder | None = None,
    ) -> None:
        self.detector = detector
        self.topics = topics
        self.rules = rules
        self.intel = intel

    def process(self, batch: Sequence[Inbound]) -> StageOutput:
        if self.rules is not None and (fresh := self.rules.take()) is not None:
            self.detector.use(fresh)
            settle()  # the replaced rules freed, the new ones frozen (socpipe/heap.py)
        if self.intel is not None:
            self.intel.take()  # a due feed refresh: the new indicators are `current` from this batch on
        out = StageOutput()
        try:
            for record in batch:
                # Bound per record, cleared once per batch: a context manager per record costs 15% here.
                structlog.contextvars.bind_contextvars(
                    topic=record.topic, partition=record.partition, offset=record.offset, tenant=None
                )
                try:
                    envelope = EventEnvelope.model_validate_json(record.value)
                except ValidationError as exc:
                    out.dead_letters.append(dead_letter(record, self.name, exc))
                    continue
                structlog.contextvars.bind_contextvars(tenant=envelope.tenant)
                detections, contributions = self.detect(envelope, record)
                out.messages.extend(detection_message(d, self.topics) for d in detections)
                out.messages.extend(contribution_message(c, self.topics) for c in contributions)
        finally:
            structlog.contextvars.unbind_contextvars(*_RECORD_CONTEXT)
        return out

    def detect(
        self, envelope: Envelope[EcsEvent], record: Inbound
    ) -> tuple[list[Detection], list[Contribution]]:
        event = envelope.payload
        ref = EventRef(
            event_id=envelope.id,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            received_at=event.ingest.received_at,
        )
        origin = Origin(topic=record.topic, partition=record.partition, offset=record.offset)
        detections, contributions = self.detector.detect(
            event.flat(), tenant=event.tenant, time=event.timestamp, ref=ref, origin=origin
        )
        attach_event(event, detections, contributions)
        for detection in detections:
            log.info("detection", rule=detection.rule.id, kind=detection.kind, detection=detection.id)
        return detections, contributions


def detection_message(detection: Detection, topics: Topics) -> Outbound:
    """A detection for the responders, keyed by tenant: one tenant's incidents are grouped in order."""
    message = DetectionEnvelope(kind="detection", tenant=detection.tenant, id=detection.id, payload=detection)
    return Outbound(topics.detections, message.model_dump_json().encode(), key=detection.tenant.encode())


def contribution_message(contribution: Contribution, topics: Topics) -> Outbound:
    return Outbound(
        topics.contributions, contribution.model_dump_json().encode(), key=contribution.partition_key()
    )
