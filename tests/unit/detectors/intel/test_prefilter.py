"""The retro-hunt's HitFilter answers yes for every event the matcher finds a hit in (a superset)."""

from __future__ import annotations

from typing import Any

from detectors.intel.index import IndicatorIndex
from detectors.intel.matcher import IndicatorMatcher
from detectors.intel.model import Indicator, IndicatorKind, Provenance
from detectors.intel.prefilter import HitFilter

SHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def matcher() -> IndicatorMatcher:
    def ind(kind: IndicatorKind, value: str, until: float | None = None) -> Indicator:
        return Indicator(kind, value, Provenance("t"), valid_until=until)

    return IndicatorMatcher(
        IndicatorIndex.build([ind(IndicatorKind.ip, "198.51.100.0/24"), ind(IndicatorKind.sha256, SHA)], 0),
        {"acme": IndicatorIndex.build([ind(IndicatorKind.domain, "evil.example")], 0)},
        {"beta": IndicatorIndex.build([ind(IndicatorKind.ip, "198.51.100.9")], 0)},
    )


EVENTS: list[dict[str, Any]] = [
    {"destination.ip": "198.51.100.9"},
    {"DestinationIp": "198.51.100.9", "destination.ip": "198.51.100.9"},
    {"destination.ip": "10.0.0.1", "source.ip": "10.0.0.2"},
    {"dns.question.name": "a.b.evil.example"},
    {"dns.question.name": "good.example"},
    {"Hashes": f"MD5=00,SHA256={SHA.upper()}"},
    {"file.hash.sha256": SHA.upper()},
    {"related.ip": ["10.0.0.1", "198.51.100.200"]},
    {"related.ip": [{"not": "text"}]},
    {"url.original": "http://x.example/"},
]


def test_the_filter_passes_every_event_that_hits_and_remembers_values() -> None:
    """For every tenant (own indicators, allow-lists), an event with a hit passes the filter; events with
    no indicator anywhere do not; the second time a value is asked, the answer comes from the memo."""
    m = matcher()
    could_hit = HitFilter((m.global_index, *m.tenants.values()))
    for tenant in ("acme", "beta", "other"):
        for fields in EVENTS:
            if m.hits(fields, tenant):
                assert could_hit(fields), (tenant, fields)
    assert not could_hit({"destination.ip": "10.0.0.1", "source.ip": "10.0.0.2"})
    assert not could_hit({"dns.question.name": "good.example"})
    assert could_hit({"DestinationIp": "198.51.100.77"})  # its (ip, value) now remembered
    assert could_hit.memo[("ip", "198.51.100.77")] is True
    small = HitFilter((m.global_index,), memo_size=2)
    for n in range(5):
        small({"source.ip": f"10.0.0.{n}"})
    assert len(small.memo) <= 2


def test_the_matcher_gives_the_same_hits_from_its_memo() -> None:
    """The matcher's own filter remembers values; asked again, every event hits the same indicators."""
    m = matcher()
    for tenant in ("acme", "beta", "other"):
        first = [m.hits(fields, tenant) for fields in EVENTS]
        assert [m.hits(fields, tenant) for fields in EVENTS] == first
    assert m.hits({"destination.ip": "198.51.100.9"}, "acme") and not m.hits(
        {"destination.ip": "198.51.100.9"}, "beta"
    )  # allow-listed for beta only, though the memo says the value is in an index
