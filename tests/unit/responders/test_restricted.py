"""The client's view of a restricted intel detection: that an indicator matched and how to ask, no more."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from responders.evidence.documents import detection_doc
from responders.restricted import client_view, is_restricted
from schemas.detection import EventRef
from tests.unit.detectors.intel.intel_helpers import sample_matcher

WHEN = datetime(2026, 12, 1, tzinfo=UTC)


def test_a_tlp_red_match_reaches_the_client_without_indicator_value_or_source() -> None:
    """TLP:RED (STIX marking) and TLP:AMBER+STRICT (MISP tag): the client-visible document names the field
    that matched and how to ask (quoting the detection id); never the indicator, the event value that is
    the indicator, the feed, or its labels. The detection's id, rule and entity are unchanged."""
    matcher = sample_matcher()
    red = matcher.match(
        {"destination.ip": "203.0.113.9", "host.name": "WS-1"}, "acme", WHEN, EventRef(event_id="e1")
    )
    strict = matcher.match(
        {"dns.question.name": "login-retail.example"}, "acme", WHEN, EventRef(event_id="e2")
    )
    for [detection] in (red, strict):
        assert is_restricted(detection)
        view = client_view(detection)
        text = json.dumps(detection_doc(view, "inc-1"))
        for secret in ("203.0.113", "login-retail", "bundle.json", "misp_event.json", "Phishing"):
            assert secret not in text, secret
        assert view.matched["restricted"] is True and detection.id in view.matched["details"]
        assert (view.id, view.rule.id, view.entity) == (detection.id, detection.rule.id, detection.entity)


def test_a_shareable_match_is_shown_whole() -> None:
    [detection] = sample_matcher().match(
        {"destination.ip": "198.51.100.23", "host.name": "WS-1"}, "acme", WHEN, EventRef(event_id="e3")
    )
    assert not is_restricted(detection) and client_view(detection) is detection
