"""Per-tenant detector state records, without Kafka: what a batch writes, how it reads back, when a
tenant is tombstoned, and the size check. The state topic itself is tested against real Kafka in
tests/integration/detectors/test_detector_state.py."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from detectors import state as state_module
from detectors.correlate import CorrelateStage
from detectors.detector import StatefulComponent
from detectors.state import (
    PartitionState,
    StateStore,
    StateTooLargeError,
    TenantRecord,
    state_key,
    state_prefix,
)
from schemas import Topics
from schemas.contribution import ComponentKind, Contribution, Origin
from schemas.detection import Detection, EventRef
from socpipe.bus import Inbound, Outbound
from socpipe.settings import load_settings


@dataclass
class Tally:
    """A fake component: counts events per tenant; a cap of tenants, the oldest dropped first."""

    cap: int = 100
    counts: dict[str, int] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)

    def apply(self, contribution: Contribution) -> list[Detection]:
        self.add(contribution.tenant)
        return []

    def finish(self, last: Contribution) -> list[Detection]:
        return []

    def add(self, tenant: str, n: int = 1) -> None:
        self.counts[tenant] = self.counts.pop(tenant, 0) + n
        while len(self.counts) > self.cap:
            oldest = next(iter(self.counts))
            del self.counts[oldest]
            self.dropped.append(oldest)

    def snapshot_tenant(self, tenant: str) -> dict[str, Any] | None:
        return {"n": self.counts[tenant]} if tenant in self.counts else None

    def restore_tenant(self, tenant: str, state: Mapping[str, Any]) -> None:
        self.add(tenant, int(state["n"]))

    def dropped_tenants(self) -> list[str]:
        out, self.dropped = self.dropped, []
        return out


def components(cap: int = 100) -> dict[str, StatefulComponent]:
    return {"tally": Tally(cap)}


def tally(state: PartitionState) -> Tally:
    component = state.components["tally"]
    assert isinstance(component, Tally)
    return component


def feed(state: PartitionState, tenant: str, offset: int) -> None:
    tally(state).add(tenant)
    state.fed(tenant, offset)


def written(records: list[tuple[str, bytes | None]]) -> dict[str, dict[str, Any] | None]:
    return {tenant: None if value is None else orjson.loads(value) for tenant, value in records}


def test_a_batch_writes_only_the_tenants_it_touched() -> None:
    """Each touched tenant gets one record with its own next offset (its last fed offset + 1); an
    untouched tenant of the same partition is not written again."""
    state = PartitionState(components())
    feed(state, "acme", 10)
    feed(state, "globex", 11)
    feed(state, "acme", 12)
    assert written(state.records(committed=10)) == {
        "acme": {"version": 1, "next_offset": 13, "components": {"tally": {"n": 2}}},
        "globex": {"version": 1, "next_offset": 12, "components": {"tally": {"n": 1}}},
    }
    feed(state, "acme", 13)
    assert list(written(state.records(committed=13))) == ["acme"]
    assert state.records(committed=14) == []  # nothing touched since


def test_records_restore_every_tenant_and_its_coverage() -> None:
    """Records read back into fresh components give each tenant its state, and `covers` is per tenant:
    a replayed offset below the tenant's next offset is covered, another tenant's is not."""
    before = PartitionState(components())
    feed(before, "acme", 5)
    feed(before, "globex", 6)
    after = PartitionState(components())
    for tenant, value in before.records(committed=5):
        assert value is not None
        after.restore(tenant, value)
    assert tally(after).counts == {"acme": 1, "globex": 1}
    assert after.covers("acme", 5) and not after.covers("acme", 6)
    assert after.covers("globex", 6) and not after.covers("initech", 0)


def empty_now(state: PartitionState, tenant: str) -> None:
    """The components dropped everything of `tenant` (windows closed) while it was fed."""
    tally(state).counts.pop(tenant, None)
    state.touched.add(tenant)


def test_an_emptied_tenant_is_written_empty_then_tombstoned_once_committed() -> None:
    """A tenant whose components hold nothing is written as an empty record that keeps its next offset
    while that offset is not committed, then tombstoned (and forgotten) once it is."""
    state = PartitionState(components())
    feed(state, "acme", 1)
    empty_now(state, "acme")
    assert written(state.records(committed=1)) == {"acme": {"version": 1, "next_offset": 2, "components": {}}}
    feed(state, "globex", 2)
    assert written(state.records(committed=2)) == {
        "acme": None,
        "globex": {"version": 1, "next_offset": 3, "components": {"tally": {"n": 1}}},
    }
    assert not state.covers("acme", 1) and "acme" not in state.offsets
    assert state.records(committed=3) == []  # tombstoned once


def test_an_emptied_tenant_seen_again_is_not_tombstoned() -> None:
    """An empty tenant that gets events again before its tombstone is due is written, not deleted."""
    state = PartitionState(components())
    feed(state, "acme", 3)
    empty_now(state, "acme")
    assert written(state.records(committed=3))["acme"] == {"version": 1, "next_offset": 4, "components": {}}
    feed(state, "acme", 4)
    assert written(state.records(committed=4)) == {
        "acme": {"version": 1, "next_offset": 5, "components": {"tally": {"n": 1}}}
    }
    assert state.records(committed=5) == []


def test_a_restored_empty_record_is_tombstoned_only_past_its_offset() -> None:
    """After a restart, an empty record is kept while a replay may still need its next offset, and
    tombstoned in the first batch that starts at or after it."""
    state = PartitionState(components())
    state.restore("acme", b'{"version": 1, "next_offset": 5, "components": {}}')
    assert state.covers("acme", 4)
    assert state.records(committed=3) == []
    assert written(state.records(committed=5)) == {"acme": None}


def test_a_tenant_dropped_by_a_cap_is_rewritten() -> None:
    """A tenant a component dropped by itself (its cap) loses that part of its stored record, so a
    restart does not bring back state the running worker had dropped: tombstoned when nothing else
    is left and its offsets are committed."""
    state = PartitionState(components(cap=1))
    feed(state, "acme", 0)
    state.records(committed=0)
    feed(state, "globex", 1)  # drops acme
    assert written(state.records(committed=1)) == {
        "acme": None,
        "globex": {"version": 1, "next_offset": 2, "components": {"tally": {"n": 1}}},
    }
    feed(state, "acme", 2)  # drops globex
    feed(state, "globex", 3)  # drops acme, inside the batch that fed it: its offset is not committed
    assert written(state.records(committed=2)) == {
        "acme": {"version": 1, "next_offset": 3, "components": {}},
        "globex": {"version": 1, "next_offset": 4, "components": {"tally": {"n": 1}}},
    }


def test_a_record_over_the_message_limit_names_the_tenant(monkeypatch: pytest.MonkeyPatch) -> None:
    """A tenant whose state passes the Kafka message limit stops the batch with an error that names
    the tenant, the sizes per component and what to lower."""
    monkeypatch.setattr(state_module, "MAX_SNAPSHOT_BYTES", 60)
    state = PartitionState(components())
    feed(state, "acme", 0)
    state.records(committed=0)
    tally(state).add("acme", 10**15)
    state.touched.add("acme")
    with pytest.raises(StateTooLargeError, match=r"tenant 'acme' is \d+ bytes \(tally \d+\).*state caps"):
        state.records(committed=1)


def test_a_record_of_another_version_is_refused() -> None:
    """A record written by a future format is refused, never half-read."""
    with pytest.raises(ValidationError):
        TenantRecord.model_validate_json(b'{"version": 2, "next_offset": 0, "components": {}}')


def test_keys_carry_the_partition_prefix() -> None:
    """A tenant's key starts with its partition's prefix; the prefix of partition 1 is not one of 10's."""
    assert state_key("g", "events.ecs", 1, "acme") == b"g|events.ecs|1|acme"
    assert not state_key("g", "events.ecs", 10, "acme").startswith(state_prefix("g", "events.ecs", 1))


class CompactedStore(StateStore):
    """A StateStore whose state topic is a dict (key -> latest value), as compaction leaves it."""

    topic_log: dict[bytes, bytes]
    loads: int

    def _read_tenants(self, prefix: bytes) -> dict[str, bytes]:
        self.loads += 1
        return {k[len(prefix) :].decode(): v for k, v in self.topic_log.items() if k.startswith(prefix)}

    def compact(self, outputs: list[Outbound]) -> None:
        for out in outputs:
            assert out.key is not None
            if out.value is None:
                self.topic_log.pop(out.key, None)
            else:
                self.topic_log[out.key] = out.value


def store() -> CompactedStore:
    # Under the name the stage gives heuristic contributions to (detectors/detector.py COMPONENT_NAMES).
    s = CompactedStore(load_settings(), "g", lambda: {"heuristics": Tally()})
    s.topic_log, s.loads = {}, 0
    return s


def inbound(tenant: str, offset: int, partition: int = 0, origin: tuple[int, int] | None = None) -> Inbound:
    """A contribution at `offset` of the repartition topic; `origin`: its (events.ecs offset, index)."""
    contribution = Contribution(
        tenant=tenant,
        component=ComponentKind.heuristic,
        name="tally",
        key="tally|",
        time=datetime(2026, 1, 1, tzinfo=UTC),
        event_ref=EventRef(event_id=f"e{offset}"),
        origin=Origin(topic="events.ecs", partition=4, offset=origin[0], seq=origin[1]) if origin else None,
        event={"n": offset},
    )
    return Inbound("detectors.contributions", partition, offset, contribution.model_dump_json().encode())


def stage_on(s: StateStore) -> CorrelateStage:
    return CorrelateStage(s, Topics())


def counts(s: StateStore) -> dict[str, int]:
    component = s.partitions()[0].components["heuristics"]
    assert isinstance(component, Tally)
    return component.counts


def test_a_restarted_stage_restores_every_tenant_of_its_partition() -> None:
    """A new stage (a restart) loads each tenant of the partition from its own record, skips the
    records it already fed (per tenant) and leaves other partitions' records alone."""
    first = store()
    stage = stage_on(first)
    out = stage.process([inbound("acme", 0), inbound("globex", 1), inbound("initech", 0, partition=1)])
    assert sorted(m.key or b"" for m in out.messages) == [
        b"g|detectors.contributions|0|acme",
        b"g|detectors.contributions|0|globex",
        b"g|detectors.contributions|1|initech",
    ]
    first.compact(out.messages)

    second = store()
    second.topic_log = dict(first.topic_log)
    stage_on(second).process([inbound("acme", 0), inbound("globex", 1), inbound("acme", 2)])  # replay, new
    assert counts(second) == {"globex": 1, "acme": 2}
    assert second.partitions()[0].offsets == {"acme": 3, "globex": 2}


def test_contributions_a_crashed_detector_publishes_again_are_fed_once() -> None:
    """A detector that crashed before committing replays its events: their contributions come again at
    new offsets of the repartition topic with the same origin, and are skipped, across a restart too."""
    s = store()
    out = stage_on(s).process([inbound("acme", 0, origin=(10, 0)), inbound("acme", 1, origin=(10, 1))])
    s.compact(out.messages)
    again = [inbound("acme", 2, origin=(10, 0)), inbound("acme", 3, origin=(10, 1))]
    fresh = inbound("acme", 4, origin=(11, 0))
    stage_on(s).process([*again, fresh])
    assert counts(s) == {"acme": 3}
    restarted = store()
    restarted.topic_log = dict(s.topic_log)
    stage_on(restarted).process([inbound("acme", 5, origin=(10, 1)), inbound("acme", 6, origin=(12, 0))])
    assert counts(restarted) == {"acme": 3}  # restored 2 (the record of the first batch) + 1 new


def test_a_dead_letter_is_not_a_gap() -> None:
    """An unreadable record inside a batch does not make the store reload the partition (which would
    lose what the batch fed before it)."""
    s = store()
    stage = stage_on(s)
    bad = Inbound("detectors.contributions", 0, 1, b"{}")
    out = stage.process([inbound("acme", 0), bad, inbound("acme", 2)])
    assert len(out.dead_letters) == 1 and s.loads == 1
    assert counts(s) == {"acme": 2}
    stage.process([inbound("acme", 7)])  # a gap: another worker had the partition, reload
    assert s.loads == 2
