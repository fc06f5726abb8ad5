"""Detector state that survives a restart and follows partitions between workers.

Stateful detection (Sigma correlation windows, heuristic baselines) is kept per input partition:
events are keyed by tenant, so one partition holds every event its state needs. After each batch the
stage emits a snapshot of each touched partition to a compacted topic (key = group|topic|partition),
as an ordinary output: the worker loop flushes it before it commits the input offsets, so the stored
state always covers at least the committed input. A snapshot records the next input offset it covers;
events below it that come again after a crash are still matched by the stateless rules (idempotent
ids) but are not fed to the stateful components twice.

A partition's state is (re)loaded whenever the stage sees a gap in that partition's offsets: at
start, and after a rebalance gave the partition to another worker and back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from kafka import KafkaConsumer, TopicPartition

from schemas.detection import Detection, EventRef
from schemas.event import EcsEvent
from socpipe.bus import MAX_MESSAGE_BYTES, Outbound
from socpipe.logging import get_logger
from socpipe.settings import Settings

log = get_logger(__name__)

# Snapshot size ceiling; the state topic is created with a matching max.message.bytes.
MAX_SNAPSHOT_BYTES = MAX_MESSAGE_BYTES


class StatefulComponent(Protocol):
    """Correlation or heuristics, behind one face: detect on an event, snapshot, restore."""

    def detect(self, event: EcsEvent, flat: Mapping[str, Any], matches: list[Any], ref: EventRef) -> list[Detection]: ...

    def snapshot(self) -> dict[str, Any]: ...

    def restore(self, state: Mapping[str, Any]) -> None: ...


@dataclass
class PartitionState:
    """The stateful components of one input partition and how far their state reaches."""

    components: dict[str, StatefulComponent]
    next_offset: int = 0
    dirty: bool = False

    def covers(self, offset: int) -> bool:
        return offset < self.next_offset


def snapshot_key(group: str, topic: str, partition: int) -> bytes:
    return f"{group}|{topic}|{partition}".encode()


def encode_snapshot(state: PartitionState) -> bytes:
    body = {"next_offset": state.next_offset, "components": {k: c.snapshot() for k, c in state.components.items()}}
    data = orjson.dumps(body)
    if len(data) > MAX_SNAPSHOT_BYTES:
        raise ValueError(f"state snapshot of {len(data)} bytes exceeds {MAX_SNAPSHOT_BYTES}: lower the state caps")
    return data


def decode_into(data: bytes, state: PartitionState) -> None:
    body = orjson.loads(data)
    state.next_offset = int(body["next_offset"])
    for name, component in state.components.items():
        if name in body["components"]:
            component.restore(body["components"][name])


@dataclass
class StateStore:
    """Reads and writes partition snapshots on the compacted state topic."""

    settings: Settings
    group: str
    make_components: Callable[[], dict[str, StatefulComponent]]
    _states: dict[tuple[str, int], PartitionState] = field(default_factory=dict)
    _last_offset: dict[tuple[str, int], int] = field(default_factory=dict)

    @property
    def topic(self) -> str:
        return self.settings.topics.detector_state

    def state_for(self, topic: str, partition: int, offset: int) -> PartitionState:
        """The partition's state, reloaded from Kafka when its offsets are not contiguous."""
        key = (topic, partition)
        if self._last_offset.get(key) != offset - 1 or key not in self._states:
            self._states[key] = self._load(topic, partition)
        self._last_offset[key] = offset
        return self._states[key]

    def snapshots(self) -> list[Outbound]:
        """Snapshots of the partitions whose state changed since the last call."""
        out = []
        for (topic, partition), state in self._states.items():
            if state.dirty:
                value = encode_snapshot(state)
                out.append(Outbound(self.topic, value, key=snapshot_key(self.group, topic, partition)))
                state.dirty = False
        return out

    def _load(self, topic: str, partition: int) -> PartitionState:
        state = PartitionState(self.make_components())
        wanted = snapshot_key(self.group, topic, partition)
        latest = self._read_latest(wanted)
        if latest is not None:
            decode_into(latest, state)
        log.info("detector state loaded", topic=topic, partition=partition,
                 found=latest is not None, next_offset=state.next_offset)
        return state

    def _read_latest(self, wanted: bytes) -> bytes | None:
        consumer = KafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers.split(","),
            enable_auto_commit=False,
            group_id=None,
            fetch_max_bytes=MAX_SNAPSHOT_BYTES * 2,
            max_partition_fetch_bytes=MAX_SNAPSHOT_BYTES,
        )
        try:
            partitions = consumer.partitions_for_topic(self.topic) or set()
            tps = [TopicPartition(self.topic, p) for p in partitions]
            if not tps:
                return None
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            end = consumer.end_offsets(tps)
            latest: bytes | None = None
            while any(consumer.position(tp) < end[tp] for tp in tps):
                for records in consumer.poll(timeout_ms=500).values():
                    for record in records:
                        if record.key == wanted:
                            latest = record.value
            return latest
        finally:
            consumer.close()
