"""Stateful-stage state that survives a restart and follows partitions between workers, one tenant a record.

The stateful stage (`socpipe correlate run`) consumes contributions keyed by (tenant, component, key)
(detectors/contributions.py), so one partition of the repartition topic holds everything that the
state of those keys needs. State is kept per input partition and, inside it, per tenant. After each
batch the stage emits one record per tenant the batch touched to a compacted topic (key =
group|topic|partition|tenant, value = a TenantRecord), as an ordinary output: the worker loop flushes
it before it commits the input offsets, so the stored state always covers at least the committed
input. Per tenant rather than per partition because a batch touches a few of a partition's tenants.

A record's `next_offset` is the tenant's last fed offset + 1: the tenant's contributions below it that
come again after a crash of this stage are not fed twice. `origins` holds, per events.ecs partition,
the position (offset, index) of the last contribution fed: a detector that crashed before committing
publishes its events' contributions again, and those at or below the position are skipped.

A tenant whose components hold nothing (all windows closed, or dropped by a component's own cap) is
tombstoned once every offset below its `next_offset` is committed, so that no replay can need that
offset any more; until then it is written as an empty record that keeps it. The first offset of a
partition in a batch tells: the worker loop commits a batch before it polls the next one, and a
consumer starts at the committed offset, so everything below that offset is committed.

A partition's state is (re)loaded whenever the stage sees a gap in that partition's offsets: at start,
and after a rebalance gave the partition to another worker and back. Loading reads the state topic
once and restores every tenant whose key carries the partition's prefix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from kafka import TopicPartition
from pydantic import BaseModel, ConfigDict, Field

from detectors.detector import StatefulComponent
from schemas.contribution import Origin
from socpipe.bus import MAX_MESSAGE_BYTES, KafkaBus, Outbound
from socpipe.logging import get_logger
from socpipe.settings import Settings

log = get_logger(__name__)

# Record size ceiling; the state topic is created with a matching max.message.bytes.
MAX_SNAPSHOT_BYTES = MAX_MESSAGE_BYTES
RECORD_VERSION = 1


class TenantRecord(BaseModel):
    """The value of one state record: how far the tenant's state reaches, and each component's part."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1  # RECORD_VERSION
    next_offset: int = Field(ge=0)
    origins: dict[str, tuple[int, int]] = Field(default_factory=dict)  # events.ecs partition -> position
    components: dict[str, dict[str, Any]] = Field(default_factory=dict)


class StateTooLargeError(ValueError):
    """One tenant's state does not fit in a Kafka message: a broken configuration, not bad input."""


def state_prefix(group: str, topic: str, partition: int) -> bytes:
    """The key prefix of every state record of one input partition (topic names cannot hold '|')."""
    return f"{group}|{topic}|{partition}|".encode()


def state_key(group: str, topic: str, partition: int, tenant: str) -> bytes:
    return state_prefix(group, topic, partition) + tenant.encode()


@dataclass
class PartitionState:
    """The stateful components of one input partition and, per tenant, how far their state reaches."""

    components: dict[str, StatefulComponent]
    offsets: dict[str, int] = field(default_factory=dict)  # tenant -> next input offset its state covers
    origins: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)  # tenant -> source -> pos
    touched: set[str] = field(default_factory=set)  # tenants to write with this batch
    empty: set[str] = field(default_factory=set)  # stored as an empty record, to tombstone when safe

    def covers(self, tenant: str, offset: int, origin: Origin | None = None) -> bool:
        """Whether the tenant's state already holds this input (its offset here, or its origin)."""
        if offset < self.offsets.get(tenant, 0):
            return True
        if origin is None:
            return False
        fed = self.origins.get(tenant, {}).get(origin.source())
        return fed is not None and origin.position() <= fed

    def fed(self, tenant: str, offset: int, origin: Origin | None = None) -> None:
        self.offsets[tenant] = offset + 1
        if origin is not None:
            self.origins.setdefault(tenant, {})[origin.source()] = origin.position()
        self.touched.add(tenant)

    def encode(self, tenant: str) -> tuple[bytes, bool]:
        """The tenant's record, and whether any component holds something for it."""
        parts = {}
        for name, component in self.components.items():
            part = component.snapshot_tenant(tenant)
            if part is not None:
                parts[name] = part
        body: dict[str, Any] = {"version": RECORD_VERSION, "next_offset": self.offsets.get(tenant, 0)}
        if origins := self.origins.get(tenant):
            body["origins"] = origins
        body["components"] = parts
        data = orjson.dumps(body)
        if len(data) > MAX_SNAPSHOT_BYTES:
            sizes = ", ".join(f"{name} {len(orjson.dumps(part)):,}" for name, part in parts.items())
            raise StateTooLargeError(
                f"detector state of tenant {tenant!r} is {len(data):,} bytes ({sizes}), over the "
                f"{MAX_SNAPSHOT_BYTES:,} bytes of one Kafka message: lower that tenant's state caps "
                "(heuristics max_keys, correlation timespans) in rules/"
            )
        return data, bool(parts)

    def restore(self, tenant: str, data: bytes) -> None:
        record = TenantRecord.model_validate_json(data)
        for name, part in record.components.items():
            component = self.components.get(name)
            if component is None:
                log.warning("detector state dropped: no such component", component=name, tenant=tenant)
                continue
            component.restore_tenant(tenant, part)
        self.offsets[tenant] = record.next_offset
        self.origins[tenant] = dict(record.origins)
        if not record.components:
            self.empty.add(tenant)

    def records(self, committed: int) -> list[tuple[str, bytes | None]]:
        """(tenant, value) of every record this batch changed, a None value being a tombstone.

        `committed`: every input offset below it is committed (the partition's first offset in the batch).
        """
        for component in self.components.values():
            self.touched.update(t for t in component.dropped_tenants() if t in self.offsets)
        out: list[tuple[str, bytes | None]] = []
        for tenant in sorted(self.touched | self.empty):
            data, held = self.encode(tenant)
            if held:
                self.empty.discard(tenant)
            elif self.offsets.get(tenant, 0) <= committed:
                out.append((tenant, None))
                self.offsets.pop(tenant, None)
                self.origins.pop(tenant, None)
                self.empty.discard(tenant)
                continue
            elif tenant in self.empty and tenant not in self.touched:
                continue  # its empty record is stored already
            else:
                self.empty.add(tenant)
            out.append((tenant, data))
        self.touched.clear()
        return out


@dataclass
class StateStore:
    """Reads and writes per-tenant state records on the compacted state topic."""

    settings: Settings
    group: str
    make_components: Callable[[], dict[str, StatefulComponent]]
    _states: dict[tuple[str, int], PartitionState] = field(default_factory=dict)
    _last_offset: dict[tuple[str, int], int] = field(default_factory=dict)
    _seen: dict[tuple[str, int], int] = field(default_factory=dict)  # partition -> first offset in batch

    @property
    def topic(self) -> str:
        return self.settings.topics.detector_state

    def state_for(self, topic: str, partition: int, offset: int) -> PartitionState:
        """The partition's state, reloaded from Kafka when its offsets are not contiguous.

        Call it for every record of a batch, in order, dead letters included: an offset left out
        looks like a gap and reloads the partition, losing what the batch fed so far.
        """
        key = (topic, partition)
        if self._last_offset.get(key) != offset - 1 or key not in self._states:
            self._states[key] = self._load(topic, partition)
        self._last_offset[key] = offset
        self._seen.setdefault(key, offset)
        return self._states[key]

    def partitions(self) -> list[PartitionState]:
        """Every partition state held (for a rule reload, which must reach all of them)."""
        return list(self._states.values())

    def snapshots(self) -> list[Outbound]:
        """The state records of the tenants this batch changed, of the partitions it read."""
        out = []
        for (topic, partition), first in sorted(self._seen.items()):
            for tenant, value in self._states[(topic, partition)].records(committed=first):
                key = state_key(self.group, topic, partition, tenant)
                # value None is a tombstone: kafka-python sends it as a null value, which compaction drops
                out.append(Outbound(self.topic, value, key=key))
        self._seen.clear()
        return out

    def _load(self, topic: str, partition: int) -> PartitionState:
        state = PartitionState(self.make_components())
        found = self._read_tenants(state_prefix(self.group, topic, partition))
        for tenant, data in found.items():  # oldest write first, so capped components keep the newest
            try:
                state.restore(tenant, data)
            except ValueError as exc:  # pydantic's ValidationError included: a record this code cannot read
                where = f"tenant {tenant!r} of {topic}/{partition}"
                raise ValueError(f"unreadable detector state of {where}: {exc}") from exc
        log.info("detector state loaded", topic=topic, partition=partition, tenants=len(found))
        return state

    def _read_tenants(self, prefix: bytes) -> dict[str, bytes]:
        """The latest record of each tenant under `prefix`, in the order they were last written."""
        consumer = KafkaBus(self.settings).reader(
            fetch_max_bytes=MAX_SNAPSHOT_BYTES * 2, max_partition_fetch_bytes=MAX_SNAPSHOT_BYTES
        )
        found: dict[str, bytes] = {}
        legacy = 0
        try:
            tps = [TopicPartition(self.topic, p) for p in consumer.partitions_for_topic(self.topic) or set()]
            if not tps:
                return found
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            end = consumer.end_offsets(tps)
            while any(consumer.position(tp) < end[tp] for tp in tps):
                for records in consumer.poll(timeout_ms=500).values():
                    for record in records:
                        key = record.key or b""
                        if key == prefix[:-1]:
                            legacy += 1
                        elif key.startswith(prefix):
                            tenant = key[len(prefix) :].decode()
                            found.pop(tenant, None)
                            if record.value is not None:
                                found[tenant] = record.value
        finally:
            consumer.close()
        if legacy:
            log.warning("ignored whole-partition state of an older socpipe", key=prefix[:-1].decode())
        return found
