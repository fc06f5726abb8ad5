"""The retro-hunt on a real Kafka: from the offset at `since`, per tenant, restart-safe, once per match."""

from __future__ import annotations

from datetime import timedelta

import pytest

from detectors.intel.hunt import Hunter, only_new
from socpipe.settings import Settings
from tests.integration.detectors.intel.hunt_helpers import NOW, detections, event, hold
from tests.unit.detectors.intel.intel_helpers import sample_matcher

pytestmark = [pytest.mark.kafka]
C2 = "198.51.100.23"  # GREEN, in the sample STIX bundle


def _held(settings: Settings) -> None:
    old = NOW - timedelta(days=8)
    # Record times: the local broker keeps a day (log.retention.hours 24), so a partition whose newest
    # record is a day old is deleted under the test by the broker's next retention check.
    recent = NOW - timedelta(hours=1)
    hold(
        settings,
        [
            (event("acme", old, 0, DestinationIp=C2), old),  # before the hunt window: not searched
            *[
                (event("acme", recent - timedelta(minutes=n), n, DestinationIp="10.0.0.1"), recent)
                for n in range(1, 40)
            ],
            (event("acme", NOW - timedelta(days=6), 40, DestinationIp=C2), recent),
            (event("globex", NOW - timedelta(days=5), 41, QueryName="cdn.evil-updates.example"), recent),
            (event("globex", NOW - timedelta(days=5), 42, DestinationIp=C2), recent),
        ],
    )


def test_hunt_finds_held_events_from_since_with_their_own_time(settings: Settings) -> None:
    _held(settings)
    result = Hunter(settings, sample_matcher(live=True)).run(NOW - timedelta(days=7))
    assert result.detections == 3 and result.events == 42  # the 8-day-old record not read
    found = detections(settings, at_least=3)
    assert sorted((d.tenant, d.matched["intel"]["indicator"]) for d in found) == [
        ("acme", C2),
        ("globex", C2),
        ("globex", "evil-updates.example"),
    ]
    acme = next(d for d in found if d.tenant == "acme")
    assert acme.event_time == NOW - timedelta(days=6)  # the event's own time, not the hunt's
    assert "socpipe.retrospective" in acme.rule.tags and acme.matched["retrospective"] is True
    assert acme.event_ref.topic == settings.topics.ecs and acme.event_ref.offset is not None
    assert acme.event is not None and acme.event["original"]["DestinationIp"] == C2  # the event it carries


def test_tenant_filter(settings: Settings) -> None:
    _held(settings)
    result = Hunter(settings, sample_matcher(live=True), tenants=["globex"]).run(NOW - timedelta(days=7))
    assert result.by_tenant == {"globex": 2}


def test_a_hunt_stopped_midway_resumes_and_reports_each_match_once(settings: Settings) -> None:
    """Killed after 41 of 42 events (its checkpoint written): the re-run resumes there, and a third run
    finds the hunt done. Each match is on the detections topic exactly once."""
    _held(settings)
    matcher = sample_matcher(live=True)
    first = Hunter(settings, matcher).run(NOW - timedelta(days=7), stop_after=41)
    assert not first.resumed and first.detections == 2
    second = Hunter(settings, matcher).run(NOW - timedelta(days=7))
    assert second.resumed and second.detections == 3
    assert Hunter(settings, matcher).run(NOW - timedelta(days=7)).already_done
    found = detections(settings, at_least=3)
    assert len(found) == 3 and len({d.id for d in found}) == 3


def test_only_new_indicators_are_hunted_after_a_refresh(settings: Settings) -> None:
    from detectors.intel.config import IntelConfig
    from detectors.intel.feeds import FeedSet
    from tests.unit.detectors.intel.intel_helpers import feed

    _held(settings)
    before, _ = FeedSet(IntelConfig(feeds=[feed("list.txt")])).build()
    after, _ = FeedSet(IntelConfig(feeds=[feed("list.txt"), feed("bundle.json")])).build()
    new = only_new(before, after)
    assert new is not None and only_new(after, after) is None
    assert "198.18.0.7" not in {i.value for i in new.global_index}
    assert Hunter(settings, new).run(NOW - timedelta(days=7)).detections == 3


def test_a_resumed_hunt_passes_events_deleted_while_it_was_stopped(settings: Settings) -> None:
    """Retention deleted what a stopped hunt had not read yet: resumed, it finishes (it used to poll
    for ever for offsets that no longer hold a record) and reports only what it read."""
    from kafka import TopicPartition

    from socpipe.bus import KafkaBus

    _held(settings)
    matcher = sample_matcher(live=True)
    first = Hunter(settings, matcher).run(NOW - timedelta(days=7), stop_after=5)
    assert first.events == 5
    bus = KafkaBus(settings)
    reader, admin = bus.reader(), bus.admin()
    try:
        tps = [
            TopicPartition(settings.topics.ecs, p) for p in reader.partitions_for_topic(settings.topics.ecs)
        ]
        admin.delete_records(reader.end_offsets(tps))  # everything held is gone
    finally:
        reader.close()
        admin.close()
    second = Hunter(settings, matcher).run(NOW - timedelta(days=7))
    assert second.resumed and second.events == 5
    assert Hunter(settings, matcher).run(NOW - timedelta(days=7)).already_done
