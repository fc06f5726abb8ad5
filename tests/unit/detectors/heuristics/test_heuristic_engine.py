"""HeuristicEngine: per-tenant state, event time within a lateness bound, bounded memory, errors counted."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from heuristic_scenarios import at, logon

from detectors.heuristics import HeuristicEngine, parse_config


def _failures(
    n: int, *, user: str = "bob", ip: str = "198.51.100.9", step: float = 5
) -> list[tuple[Any, Any]]:
    return [logon(at(seconds=step * i), "dc01", user, ip, ok=False) for i in range(n)]


def _engine(**brute_force: Any) -> HeuristicEngine:
    return HeuristicEngine(parse_config({"defaults": {"brute_force": {"threshold": 5, **brute_force}}}))


def test_tenants_never_share_state() -> None:
    """Failures split over two tenants do not add up to one tenant's threshold."""
    engine = _engine()
    found = []
    for i, (ts, event) in enumerate(_failures(8)):
        found += engine.feed(event, "acme" if i % 2 else "globex", ts)
    assert found == []


def test_out_of_order_events_within_lateness_count() -> None:
    """Events shuffled within the lateness bound still fire, at the same window start as in order."""
    in_order = _engine()
    expected = [f for ts, e in _failures(6) for f in in_order.feed(e, "acme", ts)]
    shuffled = _engine()
    events = _failures(6)
    events[1], events[3] = events[3], events[1]
    found = [f for ts, e in events for f in shuffled.feed(e, "acme", ts)]
    assert {f.id for f in found} == {f.id for f in expected} and found


def test_events_later_than_the_lateness_bound_are_refused_and_counted() -> None:
    """An event older than its key's newest minus `lateness` changes nothing and shows in stats()."""
    engine = _engine(lateness="1m")
    ts, event = logon(at(hours=1), "dc01", "bob", "198.51.100.9", ok=False)
    engine.feed(event, "acme", ts)
    for ts, event in _failures(10):  # an hour too late
        assert engine.feed(event, "acme", ts) == []
    assert engine.stats()["late_events"]["brute_force"] == 20  # account and source key each


def test_memory_is_bounded_by_max_keys_and_max_tenants() -> None:
    """10,000 distinct accounts keep at most max_keys keys; tenants beyond max_tenants are evicted."""
    engine = HeuristicEngine(parse_config({"max_tenants": 2, "defaults": {"brute_force": {"max_keys": 100}}}))
    for i in range(10_000):
        ts, event = logon(
            at(seconds=i), "dc01", f"user{i}", f"10.{i // 65536}.{i // 256 % 256}.{i % 256}", ok=False
        )
        engine.feed(event, "acme", ts)
    assert engine.heuristics("acme")["brute_force"].keys() == 100
    for tenant in ("t1", "t2", "t3"):
        engine.feed(event, tenant, ts)
    stats = engine.stats()
    assert stats["tenants"] == 2 and stats["tenants_evicted"] == 2


def test_a_heuristic_that_raises_is_counted_and_the_others_still_run() -> None:
    """An exception in one heuristic is counted under its name; the event still reaches the rest."""
    engine = _engine()

    def broken(*_: Any) -> list[Any]:
        raise RuntimeError("boom")

    engine.heuristics("acme")["password_spraying"].feed = broken  # type: ignore[method-assign]
    found = [f for ts, e in _failures(5) for f in engine.feed(e, "acme", ts)]
    assert engine.stats()["errors"] == {"password_spraying": 5}
    assert {f.heuristic for f in found} == {"brute_force"}


def test_naive_timestamps_are_taken_as_utc() -> None:
    """A timestamp without a zone is read as UTC, not as the machine's local time."""
    aware, naive = _engine(), _engine()
    a = [f for ts, e in _failures(5) for f in aware.feed(e, "acme", ts)]
    n = [f for ts, e in _failures(5) for f in naive.feed(e, "acme", ts.replace(tzinfo=None))]
    assert [f.id for f in a] == [f.id for f in n] and a


def test_suppression_then_a_new_window_fires_again() -> None:
    """After a finding the key is quiet for `suppress`; a burst after that fires with a new id."""
    engine = _engine(suppress="30m")
    first = [f for ts, e in _failures(20) for f in engine.feed(e, "acme", ts)]
    later = [f for ts, e in _failures(5) for f in engine.feed(e, "acme", ts + timedelta(hours=1))]
    assert len(first) == 2 and len(later) == 2  # account and source, each once per burst
    assert not {f.id for f in first} & {f.id for f in later}
    assert isinstance(later[0].window_start, datetime)
