"""A client notice of an intel incident: TLP:RED / AMBER+STRICT details never in it, others shown."""

from __future__ import annotations

from datetime import UTC, datetime

from responders.notices.render import Renderer, notice_context
from schemas.detection import Detection, EventRef
from schemas.incident import Incident
from schemas.tenant import Tenant
from tests.unit.detectors.intel.intel_helpers import sample_matcher

WHEN = datetime(2026, 12, 1, tzinfo=UTC)


def _notice(detection: Detection) -> str:
    incident = Incident(
        id="inc-9",
        tenant="acme",
        title=f"{detection.rule.title} on WS-1",
        severity=detection.severity,
        group_key="host=WS-1",
        rule_ids=[detection.rule.id],
        entity=detection.entity,
        first_seen=WHEN,
        last_seen=WHEN,
        updated_at=WHEN,
    )
    rendered = Renderer().render("acme", notice_context(incident, Tenant(id="acme", name="ACME"), "open"))
    return rendered.subject + "\n" + rendered.body


def test_restricted_indicator_details_stay_with_the_provider() -> None:
    """TLP:RED (STIX marking) and TLP:AMBER+STRICT (MISP tag): the notice says an indicator matched and
    how to ask; it names neither the indicator, the matched address, nor the source."""
    matcher = sample_matcher()
    red = matcher.match(
        {"source.ip": "203.0.113.9", "host.name": "WS-1"}, "acme", WHEN, EventRef(event_id="e1")
    )
    strict = matcher.match(
        {"dns.question.name": "login-retail.example"}, "acme", WHEN, EventRef(event_id="e2")
    )
    for [detection] in (red, strict):
        text = _notice(detection)
        assert "threat-intelligence indicator" in text and "quote the incident id inc-9" in text
        for secret in ("203.0.113", "login-retail", "bundle.json", "misp_event.json", "Phishing wave"):
            assert secret not in text, secret


def test_shareable_indicator_is_named() -> None:
    [detection] = sample_matcher().match(
        {"destination.ip": "198.51.100.23", "host.name": "WS-1"}, "acme", WHEN, EventRef(event_id="e3")
    )
    text = _notice(detection)
    assert "198.51.100.23" in text and "threat-intelligence indicator" in text
    assert "quote the incident id" not in text
