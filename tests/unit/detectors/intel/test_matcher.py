"""Matching events against the sample feeds: each kind in each field it appears in, expiry, allow-lists,
per-tenant feeds, TLP, and deterministic ids."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from detectors.intel.matcher import IndicatorMatcher
from schemas.detection import INTEL_RESTRICTED_RULE_ID, INTEL_RULE_ID, DetectionKind, EventRef
from tests.unit.detectors.intel.intel_helpers import DATA, feed, sample_matcher

WHEN = datetime(2026, 12, 1, tzinfo=UTC)
REF = EventRef(event_id="evt-1")


def matched(matcher: IndicatorMatcher, flat: dict[str, Any], tenant: str = "acme") -> set[str]:
    return {d.matched["intel"]["indicator"] for d in matcher.match(flat, tenant, WHEN, REF)}


def test_each_kind_in_its_fields() -> None:
    m = sample_matcher()
    assert matched(m, {"destination.ip": "198.51.100.23"}) == {"198.51.100.23"}
    assert matched(m, {"DestinationIp": "198.51.100.23", "SourceIp": "10.0.0.5"}) == {"198.51.100.23"}
    assert matched(m, {"source.ip": "203.0.113.77"}) == {"203.0.113.0/24"}  # CIDR
    assert matched(m, {"related.ip": ["10.1.1.1", "100.64.13.200"]}) == {"100.64.12.0/22"}
    assert matched(m, {"destination.ip": "2001:db8::0:bad"}) == {"2001:db8::bad"}  # another IPv6 spelling
    assert matched(m, {"dns.question.name": "cdn.Evil-Updates.example."}) == {"evil-updates.example"}
    assert matched(m, {"QueryName": "x.c2.bad-cdn.example"}) == {"c2.bad-cdn.example"}
    assert matched(m, {"url.domain": "malware-drop.example"}) == {"malware-drop.example"}
    assert matched(m, {"url.original": "HTTP://Downloads.example/payload.exe"}) == {
        "http://downloads.example/payload.exe"
    }
    assert matched(m, {"file.hash.md5": "D41D8CD98F00B204E9800998ECF8427E"}) == {
        "d41d8cd98f00b204e9800998ecf8427e"
    }
    hashes = (
        "SHA1=5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8,MD5=00000000000000000000000000000000,"
        "SHA256=E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855,IMPHASH=1234"
    )
    assert matched(m, {"Hashes": hashes}) == {
        "5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    }
    assert matched(m, {"email.from.address": "Billing@Phish.example"}) == {"billing@phish.example"}
    assert matched(m, {"destination.ip": "198.51.100.24", "dns.question.name": "example.org"}) == set()


def test_expired_indicators_do_not_match() -> None:
    """An indicator past its valid_until is not loaded; one that expires while loaded stops matching."""
    m = sample_matcher()
    assert matched(m, {"destination.ip": "192.0.2.99"}) == set()  # STIX valid_until 2025-02-01
    assert matched(m, {"dns.question.name": "old-c2.example"}) == set()  # CSV valid_until 2025-03-01
    from detectors.intel.feeds import read_feed
    from detectors.intel.index import IndicatorIndex

    indicators, _ = read_feed(feed("bundle.json"), (DATA / "bundle.json").read_bytes())
    everything = IndicatorIndex.build(indicators, now=0)  # loaded before it expired
    later = IndicatorMatcher(everything, clock=lambda: 1_765_000_000.0)
    assert matched(later, {"destination.ip": "192.0.2.99"}) == set()
    assert matched(IndicatorMatcher(everything, clock=lambda: 0), {"destination.ip": "192.0.2.99"}) == {
        "192.0.2.99"
    }


def test_allow_list_suppresses_for_that_tenant_only() -> None:
    m = sample_matcher(allow={"acme": ["198.51.100.23", "203.0.113.128/25", "bad-cdn.example"]})
    assert matched(m, {"destination.ip": "198.51.100.23"}, "acme") == set()
    assert matched(m, {"destination.ip": "198.51.100.23"}, "globex") == {"198.51.100.23"}
    assert matched(m, {"destination.ip": "203.0.113.200"}, "acme") == set()  # event value allowed
    assert matched(m, {"destination.ip": "203.0.113.5"}, "acme") == {"203.0.113.0/24"}
    assert matched(m, {"dns.question.name": "c2.bad-cdn.example"}, "acme") == set()


def test_tenant_feeds_apply_to_their_tenant() -> None:
    from detectors.intel.config import IntelConfig
    from detectors.intel.feeds import FeedSet

    config = IntelConfig(feeds=[feed("list.txt", tenants=["globex"])])
    m, _ = FeedSet(config).build()
    assert matched(m, {"destination.ip": "198.18.0.7"}, "globex") == {"198.18.0.7"}
    assert matched(m, {"destination.ip": "198.18.0.7"}, "acme") == set()


def test_detection_carries_provenance_and_a_deterministic_id() -> None:
    m = sample_matcher()
    flat = {"destination.ip": "198.51.100.23", "source.ip": "10.0.0.5", "host.name": "WS-1"}
    [first] = m.match(flat, "acme", WHEN, REF)
    [again] = m.match(flat, "acme", WHEN, REF)
    assert first.id == again.id and first.kind is DetectionKind.intel
    assert first.rule.id == INTEL_RULE_ID and "198.51.100.23" in first.rule.title
    assert first.event_time == WHEN and first.entity.host == "WS-1"
    intel = first.matched["intel"]
    assert intel["source"] == "bundle.json" and intel["tlp"] == "TLP:GREEN" and intel["confidence"] == 85
    assert intel["id"] == "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
    assert m.match(flat, "globex", WHEN, REF)[0].id != first.id
    assert m.as_retrospective().match(flat, "acme", WHEN, REF)[0].id == first.id
    assert "socpipe.retrospective" in m.as_retrospective().match(flat, "acme", WHEN, REF)[0].rule.tags


def test_restricted_tlp_names_nothing_in_rule_or_entity() -> None:
    """TLP:RED: the rule id and title say only that an indicator matched; the entity drops the address."""
    m = sample_matcher()
    [d] = m.match({"source.ip": "203.0.113.9", "host.name": "WS-1"}, "acme", WHEN, REF)
    assert d.rule.id == INTEL_RESTRICTED_RULE_ID
    assert "203.0.113" not in d.rule.title and "bundle.json" not in d.rule.title
    assert d.entity.source_ip is None and d.entity.host == "WS-1"
    assert d.matched["intel"]["tlp"] == "TLP:RED"  # kept for the provider's analysts


def test_one_detection_per_indicator_per_event() -> None:
    m = sample_matcher()
    flat = {"destination.ip": "198.51.100.23", "DestinationIp": "198.51.100.23"}
    assert len(m.match(flat, "acme", WHEN, REF)) == 1


def test_data_dir_exists() -> None:
    assert (DATA / "bundle.json").is_file()
