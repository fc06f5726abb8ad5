"""The feed readers on samples written from the published specifications."""

from __future__ import annotations

import pytest
from stix2patterns.pattern import Pattern

from detectors.intel.feeds import FeedError, read_feed
from detectors.intel.model import IndicatorKind, Tlp
from detectors.intel.patterns import UnsupportedPatternError, comparisons
from tests.unit.detectors.intel.intel_helpers import DATA, feed


def by_value(name: str) -> dict[str, object]:
    indicators, _ = read_feed(feed(name), (DATA / name).read_bytes())
    return {i.value: i for i in indicators}


def test_stix_bundle_kinds_markings_and_skips() -> None:
    """Every supported object path is read, values normalised; TLP from the well-known 1.0 and 2.0 marking
    ids; FOLLOWEDBY and non-STIX patterns are skipped with a reason, not guessed at."""
    indicators, report = read_feed(feed("bundle.json"), (DATA / "bundle.json").read_bytes())
    found = {(i.kind, i.value): i for i in indicators}
    assert set(found) == {
        (IndicatorKind.ip, "198.51.100.23"),
        (IndicatorKind.ip, "203.0.113.0/24"),
        (IndicatorKind.ip, "2001:db8::bad"),
        (IndicatorKind.domain, "evil-updates.example"),
        (IndicatorKind.url, "http://downloads.example/payload.exe"),
        (IndicatorKind.sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        (IndicatorKind.md5, "d41d8cd98f00b204e9800998ecf8427e"),
        (IndicatorKind.sha1, "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        (IndicatorKind.email, "billing@phish.example"),
        (IndicatorKind.ip, "192.0.2.99"),
    }
    c2 = found[(IndicatorKind.ip, "198.51.100.23")]
    assert c2.provenance.tlp is Tlp.green and c2.provenance.confidence == 85
    assert c2.provenance.labels == ("c2", "malicious-activity")
    assert c2.ref == "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
    assert found[(IndicatorKind.ip, "203.0.113.0/24")].provenance.tlp is Tlp.red
    assert found[(IndicatorKind.domain, "evil-updates.example")].provenance.tlp is Tlp.amber
    assert found[(IndicatorKind.ip, "192.0.2.99")].valid_until is not None
    assert report.skipped == {"unsupported pattern": 1, "pattern_type snort": 1}


def test_misp_event_attributes_objects_tags() -> None:
    """Attributes and object attributes with to_ids; composite types split; event TLP tag, attribute
    tag wins; context attributes (to_ids false) left out."""
    found = by_value("misp_event.json")
    assert set(found) == {
        "login-retail.example",
        "192.0.2.44",
        "support@retail-help.example",
        "5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8",
    }
    assert found["login-retail.example"].provenance.tlp is Tlp.amber_strict  # type: ignore[attr-defined]
    assert found["support@retail-help.example"].provenance.tlp is Tlp.green  # type: ignore[attr-defined]
    assert "Phishing wave against retailers" in found["192.0.2.44"].provenance.labels  # type: ignore[attr-defined]


def test_csv_columns_refang_and_bad_rows() -> None:
    indicators, report = read_feed(feed("list.csv"), (DATA / "list.csv").read_bytes())
    found = {i.value: i for i in indicators}
    assert set(found) == {
        "http://bad-cdn.example/dropper.ps1",
        "c2.bad-cdn.example",
        "100.64.12.0/22",
        "old-c2.example",
    }
    url = found["http://bad-cdn.example/dropper.ps1"]
    assert url.provenance.tlp is Tlp.clear and url.provenance.labels == ("dropper", "powershell")
    assert report.skipped == {"bad row": 1} and "line 6" in report.examples[0]


def test_text_list_guesses_kinds() -> None:
    indicators, _ = read_feed(feed("list.txt"), (DATA / "list.txt").read_bytes())
    assert {(str(i.kind), i.value) for i in indicators} == {
        ("ip", "198.18.0.7"),
        ("ip", "2001:db8::dead:beef"),
        ("domain", "malware-drop.example"),
        ("url", "http://malware-drop.example/get.php?id=7"),
        ("md5", "44d88612fea8a8f36de82e1278abb02f"),
        ("email", "phisher@mail.example"),
    }


def test_a_feed_of_nothing_readable_is_an_error(tmp_path: object) -> None:
    with pytest.raises(FeedError, match="not a STIX bundle"):
        read_feed(feed("bundle.json", format="stix"), b'{"type": "report"}')
    with pytest.raises(FeedError, match="no entry could be read"):
        read_feed(feed("list.txt", format="text"), b"not a value at all\n")


@pytest.mark.parametrize(
    "pattern",
    [
        "[ipv4-addr:value = '10.0.0.1']",
        "[ipv6-addr:value = '2001:db8::1']",
        "[domain-name:value = 'a.example']",
        "[url:value = 'https://a.example/x?y=1']",
        "[file:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']",
        "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']",
        "[email-addr:value = 'x@a.example']",
    ],
)
def test_fast_path_agrees_with_the_reference_parser(pattern: str) -> None:
    """The regular-expression fast path reads exactly what stix2-patterns reads."""
    from detectors.intel.patterns import _reference

    Pattern(pattern)  # valid for the reference parser
    assert comparisons(pattern) == _reference(pattern)


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("[ipv4-addr:value = '1.2.3.4'] AND [domain-name:value = 'x.example']", "observation operators"),
        ("[ipv4-addr:value = '1.2.3.4' AND ipv4-addr:value = '5.6.7.8']", "AND"),
        ("[ipv4-addr:value = '1.2.3.4'] WITHIN 5 SECONDS", "qualifiers"),
        ("[process:name = 'x.exe']", "path"),
        ("[domain-name:value MATCHES '^a']", "operator"),
        ("[ipv4-addr:value = '1.2.3.4'", "not a valid STIX pattern"),
    ],
)
def test_patterns_that_need_a_stateful_engine_are_refused(pattern: str, reason: str) -> None:
    with pytest.raises(UnsupportedPatternError, match=reason):
        comparisons(pattern)


def test_in_sets_and_or_are_read() -> None:
    assert comparisons("[ipv4-addr:value IN ('1.2.3.4', '5.6.7.8')]") == [
        (IndicatorKind.ip, "1.2.3.4"),
        (IndicatorKind.ip, "5.6.7.8"),
    ]
    assert len(comparisons("[domain-name:value = 'a.example'] OR [domain-name:value = 'b.example']")) == 2


def test_stix_objects_that_do_not_validate_are_skipped_with_the_reason() -> None:
    """A bad indicator (confidence over 100, a pattern that is not text) is skipped, naming the property;
    other objects of any shape are passed over; a bundle whose objects are not a list is refused."""
    bundle = b"""{"type": "bundle", "id": "bundle--1", "objects": [
        {"type": "indicator", "id": "indicator--a", "pattern": "[ipv4-addr:value = '192.0.2.1']",
         "confidence": 150},
        {"type": "indicator", "id": "indicator--b", "pattern": 7},
        {"type": "identity", "id": "identity--c", "confidence": "not a number", "labels": {"x": 1}},
        [1, 2],
        {"type": "indicator", "id": "indicator--d", "pattern": "[ipv4-addr:value = '192.0.2.2']",
         "revoked": true},
        {"type": "indicator", "id": "indicator--e", "pattern": "[ipv4-addr:value = '192.0.2.3']",
         "confidence": "85"}
    ]}"""
    indicators, report = read_feed(feed("bundle.json", format="stix"), bundle)
    assert [i.value for i in indicators] == ["192.0.2.3"]
    assert indicators[0].provenance.confidence == 85  # read leniently, as numbers in text often are
    assert report.skipped == {"invalid indicator": 2, "revoked": 1}
    assert "confidence" in report.examples[0] and "indicator--a" in report.examples[0]
    assert "pattern" in report.examples[1]
    with pytest.raises(FeedError, match="not a STIX bundle"):
        read_feed(feed("bundle.json", format="stix"), b'{"type": "bundle", "objects": {}}')
