"""Retro-hunt: the events still held in Kafka (events.ecs), matched against indicators, from a time on.

A hunt starts, in every partition, at the first offset whose record time is at or after `since`
(Kafka's offsets_for_times) and ends at the partition's end offset when the hunt began. Each hit
becomes a Detection like the live detector's, with the same deterministic id (tenant, indicator,
event), the event's own time, and the `socpipe.retrospective` tag, published to the detections topic.

Restart-safe: the hunt's progress (the next offset per partition, and the end offsets it aims at) is a
checkpoint on the compacted `intel.hunts` topic, keyed by the hunt id, written only after the
detections before it are acknowledged. A restarted hunt with the same id carries on from there; a hunt
already done is not run again. A match is never reported twice: offsets below the checkpoint are not
read again, and a detection published again after a crash between publish and checkpoint has the same
id, which the responders write once.

The hunt id is derived from the indicator set (and the tenant filter), so the same hunt asked again after
a crash is recognised, while a hunt after new indicators arrived is a new hunt.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaTimeoutError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from detectors.event_context import attach_event
from detectors.intel.feeds import iter_indicators
from detectors.intel.index import IndicatorIndex
from detectors.intel.matcher import IndicatorMatcher
from detectors.intel.model import Indicator
from detectors.intel.nested import lookup_view
from schemas.detection import Detection, EventRef
from schemas.envelope import Envelope
from schemas.event import EcsEvent
from socpipe.bus import KafkaBus, Outbound, Publisher
from socpipe.logging import get_logger
from socpipe.settings import Settings

log = get_logger(__name__)

CHECKPOINT_EVERY_S = 2.0
METADATA_WAIT_S = 15.0
_POLL_MS = 500


class HuntCheckpoint(BaseModel):
    """How far one hunt got; `next` and `end` are keyed by partition number (as text, for JSON)."""

    model_config = ConfigDict(extra="forbid")

    version: int = 1
    hunt_id: str
    since: datetime
    started_at: datetime
    end: dict[str, int]
    next: dict[str, int]
    done: bool = False
    events: int = Field(default=0, ge=0)
    detections: int = Field(default=0, ge=0)


@dataclass
class HuntResult:
    hunt_id: str
    events: int = 0
    detections: int = 0
    resumed: bool = False
    already_done: bool = False
    by_tenant: dict[str, int] = field(default_factory=dict)


def hunt_id(matcher: IndicatorMatcher, tenants: Sequence[str] = ()) -> str:
    """Stable for the same indicators (and tenant filter): a re-run after a crash is the same hunt.

    Each indicator counts by its scope, key, source and own id: what `Indicator.id()` is made of, without
    making it (a derived id per indicator was 2.8 s of CPU for a million)."""
    digest = hashlib.sha256()
    for scope, indicator in iter_indicators(matcher):
        digest.update(
            f"{scope}\x1f{indicator.key}\x1f{indicator.provenance.source}\x1f{indicator.ref}\n".encode()
        )
    digest.update(",".join(sorted(tenants)).encode())
    return digest.hexdigest()[:24]


# Parametrised once: in a hunt's profile pydantic built the `Envelope[Detection]` class anew for 165 of
# 370 detections (its cache of generic classes did not keep it), about 3 ms each.
_DetectionEnvelope = Envelope[Detection]


def detection_outbound(settings: Settings, detection: Detection) -> Outbound:
    message = _DetectionEnvelope(
        kind="detection", tenant=detection.tenant, id=detection.id, payload=detection
    )
    return Outbound(
        settings.topics.detections, message.model_dump_json().encode(), key=detection.tenant.encode()
    )


def partitions(consumer: KafkaConsumer, topic: str, wait_s: float = METADATA_WAIT_S) -> list[TopicPartition]:
    """The topic's partitions. Kafka's metadata can lack a topic for a moment (just created, a broker
    just back): asked again for `wait_s`, then KafkaTimeoutError, an outage to wait out. Never an
    empty list: a hunt over no partitions would be recorded as done and never run again."""
    deadline = time.monotonic() + wait_s
    while True:
        found = consumer.partitions_for_topic(topic)
        if found:
            return [TopicPartition(topic, p) for p in sorted(found)]
        if time.monotonic() >= deadline:
            raise KafkaTimeoutError(f"Kafka's metadata has no partitions of {topic}")
        time.sleep(0.5)


class Checkpoints:
    """Hunt checkpoints on the compacted intel.hunts topic."""

    def __init__(self, bus: KafkaBus) -> None:
        self.bus = bus
        self.topic = bus.topics.intel_hunts
        bus.ensure_topics([self.topic], compacted=[self.topic])

    def load(self, hunt: str) -> HuntCheckpoint | None:
        consumer = self.bus.reader()
        key = hunt.encode()
        latest: bytes | None = None
        try:
            tps = partitions(consumer, self.topic)
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            end = consumer.end_offsets(tps)
            deadline = time.monotonic() + 60
            while any(consumer.position(tp) < end[tp] for tp in tps):
                if time.monotonic() > deadline:  # Kafka is away (an outage to wait out, not a bug)
                    raise KafkaTimeoutError(f"reading {self.topic} took over 60 s")
                for tp, batch in consumer.poll(timeout_ms=_POLL_MS).items():
                    for record in batch:
                        if record.offset < end[tp] and record.key == key:
                            latest = record.value
        finally:
            consumer.close()
        return None if latest is None else HuntCheckpoint.model_validate_json(latest)

    def outbound(self, checkpoint: HuntCheckpoint) -> Outbound:
        return Outbound(self.topic, checkpoint.model_dump_json().encode(), key=checkpoint.hunt_id.encode())


class Hunter:
    """Runs one hunt of `matcher` over events.ecs from `since`, for the given tenants (all if none)."""

    def __init__(
        self,
        settings: Settings,
        matcher: IndicatorMatcher,
        *,
        tenants: Sequence[str] = (),
        hunt: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.bus = KafkaBus(settings)
        self.matcher = matcher.as_retrospective()
        self.tenants = frozenset(tenants)
        self.hunt_id = hunt or hunt_id(matcher, tenants)
        self.clock = clock
        self.checkpoints = Checkpoints(self.bus)

    def run(self, since: datetime, *, stop_after: int | None = None) -> HuntResult:
        """Hunt to the end (or, for tests of a crash, stop after `stop_after` events without finishing)."""
        result = HuntResult(self.hunt_id)
        saved = self.checkpoints.load(self.hunt_id)
        if saved is not None and saved.done:
            result.already_done = True
            return result
        # Large fetches: a hunt reads whole partitions, and kafka-python's cost per fetch is not small.
        consumer = self.bus.reader(
            max_poll_records=5000,
            fetch_max_bytes=64 * 1024 * 1024,
            max_partition_fetch_bytes=16 * 1024 * 1024,
        )
        publisher = self.bus.publisher()
        try:
            topic = self.settings.topics.ecs
            tps = partitions(consumer, topic)
            if saved is None:
                saved = self._start(consumer, tps, since)
            else:
                result.resumed = True
                result.events, result.detections = saved.events, saved.detections
                log.info("retro-hunt resumed", hunt=self.hunt_id, next=saved.next)
            self._hunt(consumer, publisher, tps, checkpoint=saved, result=result, stop_after=stop_after)
        finally:
            consumer.close()
            publisher.close()
        return result

    def _start(self, consumer: KafkaConsumer, tps: list[TopicPartition], since: datetime) -> HuntCheckpoint:
        end = consumer.end_offsets(tps)
        found = consumer.offsets_for_times({tp: int(since.timestamp() * 1000) for tp in tps})
        start = {str(tp.partition): (found[tp].offset if found.get(tp) else end[tp]) for tp in tps}
        log.info(
            "retro-hunt started",
            hunt=self.hunt_id,
            since=since.isoformat(),
            events=sum(end[tp] - start[str(tp.partition)] for tp in tps),
            partitions={str(tp.partition): [start[str(tp.partition)], end[tp]] for tp in tps},
        )
        return HuntCheckpoint(
            hunt_id=self.hunt_id,
            since=since,
            started_at=datetime.now(UTC),
            end={str(tp.partition): end[tp] for tp in tps},
            next=start,
        )

    def _hunt(
        self,
        consumer: KafkaConsumer,
        publisher: Publisher,
        tps: list[TopicPartition],
        *,
        checkpoint: HuntCheckpoint,
        result: HuntResult,
        stop_after: int | None,
    ) -> None:
        c = consumer
        todo = [
            tp
            for tp in tps
            if checkpoint.next.get(str(tp.partition), 0) < checkpoint.end.get(str(tp.partition), 0)
        ]
        c.assign(todo)
        for tp in todo:
            c.seek(tp, checkpoint.next[str(tp.partition)])
        last_save = self.clock()
        while todo:
            for tp, records in c.poll(timeout_ms=_POLL_MS).items():
                key = str(tp.partition)
                for record in records:
                    if record.offset >= checkpoint.end[key]:
                        break
                    for detection in self._match(record):
                        publisher.send(detection_outbound(self.settings, detection))
                        result.detections += 1
                        result.by_tenant[detection.tenant] = result.by_tenant.get(detection.tenant, 0) + 1
                    result.events += 1
                    checkpoint.next[key] = record.offset + 1
                    if stop_after is not None and result.events >= stop_after:
                        self._save(publisher, checkpoint, result)
                        return
            for tp in todo:  # offsets that held no event for us: transaction markers, or deleted meanwhile
                key = str(tp.partition)
                position = c.position(tp)
                if position is not None and position > checkpoint.next[key]:
                    if position - checkpoint.next[key] > 1:
                        log.warning(
                            "retro-hunt passed offsets without events (deleted by retention meanwhile?)",
                            hunt=self.hunt_id,
                            partition=tp.partition,
                            offsets=[checkpoint.next[key], position],
                        )
                    checkpoint.next[key] = min(position, checkpoint.end[key])
            todo = [
                tp for tp in todo if checkpoint.next[str(tp.partition)] < checkpoint.end[str(tp.partition)]
            ]
            if self.clock() - last_save >= CHECKPOINT_EVERY_S:
                self._save(publisher, checkpoint, result)
                last_save = self.clock()
            if todo:
                c.assign(todo)  # finished partitions are left
        checkpoint.done = True
        self._save(publisher, checkpoint, result)
        log.info("retro-hunt done", hunt=self.hunt_id, events=result.events, detections=result.detections)

    def _save(self, publisher: Publisher, checkpoint: HuntCheckpoint, result: HuntResult) -> None:
        """Detections first, acknowledged; then the checkpoint that says they are out."""
        publisher.flush()
        checkpoint.events, checkpoint.detections = result.events, result.detections
        publisher.send(self.checkpoints.outbound(checkpoint))
        publisher.flush()

    def _match(self, record: ConsumerRecord) -> list[Detection]:
        """Only the fields indicators appear in are decoded first and matched (the matcher's HitFilter
        answers most from its memo); the few events that hit are validated and flattened whole, as
        the detector does."""
        seen = lookup_view(record.value)
        if seen is None:
            return []  # not an event envelope: the detector dead-letters those, the hunt passes them
        if self.tenants and seen.tenant not in self.tenants:
            return []
        if not self.matcher.hits(seen.fields, seen.tenant):
            return []
        try:
            event = EcsEvent.model_validate(orjson.loads(record.value)["payload"])
        except (ValidationError, orjson.JSONDecodeError, KeyError, TypeError):
            return []
        ref = EventRef(
            event_id=str(seen.event_id),
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
        )
        found = self.matcher.match(event.flat(), event.tenant, event.timestamp, ref)
        attach_event(event, found, [])
        return found


def only_new(old: IndicatorMatcher, new: IndicatorMatcher) -> IndicatorMatcher | None:
    """A matcher of the indicators `new` has and `old` had not (per scope), for the automatic hunt after
    a feed refresh; None when nothing is new."""
    seen = {(scope, indicator.key) for scope, indicator in iter_indicators(old)}
    fresh: dict[str, list[Indicator]] = {}
    for scope, indicator in iter_indicators(new):
        if (scope, indicator.key) not in seen:
            fresh.setdefault(scope, []).append(indicator)
    if not fresh:
        return None
    now = time.time()
    return IndicatorMatcher(
        IndicatorIndex.build(fresh.pop("global", []), now),
        {tenant: IndicatorIndex.build(found, now) for tenant, found in fresh.items()},
        new.allow,
        severity=new.severity,
    )
