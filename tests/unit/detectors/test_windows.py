"""The shared event-time window primitives: counts, lateness, caps, baselines, snapshots."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from detectors.windows import (
    DistinctWindow,
    Ewma,
    LruMap,
    TimestampWindow,
    TumblingSums,
    WindowSpec,
    parse_duration,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h", 3600), ("7d", 604800), ("250ms", 0.25), (90, 90), ("1.5h", 5400)],
)
def test_parse_duration_reads_units(text: object, seconds: float) -> None:
    """Durations are written with a unit (or as seconds) and read as seconds."""
    assert parse_duration(text) == seconds
    assert parse_duration(timedelta(seconds=seconds)) == seconds


@pytest.mark.parametrize("bad", ["5 minutes", "m", "", True, "-5m"])
def test_parse_duration_refuses_nonsense(bad: object) -> None:
    """Anything that is not a number with an optional unit is refused, naming the value."""
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def test_timestamp_window_slides_and_counts() -> None:
    """Only events within `window` of the newest stay; count_between counts a sub-range."""
    w = TimestampWindow(WindowSpec(window=60, lateness=0, cap=100))
    for t in (0, 10, 20, 70, 75):
        assert w.add(t)
    assert w.times == [20, 70, 75]
    assert w.count_between(15, 70) == 2
    assert w.first_since(21) == 70


def test_timestamp_window_takes_late_events_within_lateness_only() -> None:
    """An event up to `lateness` behind the newest is inserted in order; an older one is refused."""
    w = TimestampWindow(WindowSpec(window=600, lateness=30, cap=100))
    assert w.add(100)
    assert w.add(80)
    assert not w.add(60)
    assert w.times == [80, 100]


def test_timestamp_window_is_capped() -> None:
    """No more than `cap` timestamps are kept: the oldest go first."""
    w = TimestampWindow(WindowSpec(window=1e9, cap=3))
    for t in range(10):
        w.add(t)
    assert w.times == [7, 8, 9]


def test_distinct_window_counts_values_once_and_forgets_old_ones() -> None:
    """A value counts once however often it comes; values not seen within the window drop out."""
    d = DistinctWindow(WindowSpec(window=100, lateness=10, cap=100))
    for t, v in [(0, "a"), (1, "b"), (2, "a"), (50, "c"), (102, "d")]:
        assert d.add(v, t)
    assert sorted(d.values()) == ["a", "c", "d"]  # b last seen at 1 < 102 - 100
    assert not d.add("e", 80)  # 22s behind the newest, lateness 10


def test_distinct_window_cap_drops_least_recent() -> None:
    """At the cap, the value seen longest ago goes first."""
    d = DistinctWindow(WindowSpec(window=1e9, cap=2))
    for t, v in enumerate(["a", "b", "a", "c"]):
        d.add(v, t)
    assert sorted(d.values()) == ["a", "c"]


def test_ewma_tracks_mean_and_spread() -> None:
    """The EWMA mean follows the values; a constant series has no spread."""
    e = Ewma()
    for _ in range(50):
        e.update(100.0, 0.1)
    assert e.mean == pytest.approx(100.0)
    assert e.std == pytest.approx(0.0)
    e.update(200.0, 0.1)
    assert 100 < e.mean < 200 and e.std > 0


def test_tumbling_sums_close_buckets_after_lateness() -> None:
    """A bucket closes (its sum handed out) once the newest event is `lateness` past its end."""
    s = TumblingSums(size=60)
    assert s.add(10, 5, lateness=30) == (0, 5, [])
    assert s.add(70, 1, lateness=30) == (60, 1, [])  # 70 - 30 = 40 < 60: bucket 0 still open
    assert s.add(5, 2, lateness=30) == (0, 7, [])  # late but its bucket is open
    assert s.add(95, 1, lateness=30) == (60, 2, [7])
    assert s.add(20, 1, lateness=30) is None  # its bucket is closed


def test_lru_map_evicts_least_recently_touched() -> None:
    """Beyond the cap the least recently read or written key goes, and is counted."""
    m: LruMap[str, int] = LruMap(2)
    m["a"], m["b"] = 1, 2
    assert m.get("a") == 1
    m["c"] = 3
    assert "b" not in m and "a" in m and "c" in m
    assert m.evicted == 1
    assert [k for k, _ in m.items()] == ["a", "c"]


def test_snapshots_round_trip_through_json() -> None:
    """Every primitive's snapshot survives JSON and restores to the same state."""
    spec = WindowSpec(window=100, lateness=10, cap=10)
    w = TimestampWindow(spec, [1.5, 2.25, 3.0])
    d = DistinctWindow(spec, {"x": 1.0, "y": 2.0})
    e = Ewma(10.0, 4.0, 3)
    s = TumblingSums(60, {0.0: 5.0}, high=10.0)
    data = json.loads(json.dumps([w.snapshot(), d.snapshot(), e.snapshot(), s.snapshot()]))
    assert TimestampWindow.restore(spec, data[0]).times == w.times
    assert DistinctWindow.restore(spec, data[1]).snapshot() == d.snapshot()
    assert Ewma.restore(data[2]).snapshot() == e.snapshot()
    restored = TumblingSums.restore(60, data[3])
    assert restored.open == s.open and restored.high == s.high
