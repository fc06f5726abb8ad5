"""What the incident page renders from the documents it is given, with an in-memory stand-in for Triage's
reads (pure rendering: the reads and writes themselves are tested on Elasticsearch in
tests/integration/responders/test_triage_web_es.py): the event stored with a detection, a correlation's
count of contributing events, exact timeline links, and HTML in documents escaped."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from starlette.testclient import TestClient

from responders.triage_web.app import create_app
from responders.triage_web.auth import Analyst, login_token
from schemas.common import Severity
from schemas.detection import Entity
from schemas.incident import Incident
from socpipe.settings import load_settings

SECRET = "render-test-secret-0123456789"
T = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
INCIDENT = Incident(
    id="i1",
    tenant="red",
    title="<script>alert(1)</script> on ws-1",
    severity=Severity.high,
    group_key="k",
    entity=Entity(host="ws-1", user="alice"),
    first_seen=T,
    last_seen=T,
    updated_at=T,
    detection_count=2,
)
DETECTIONS = [
    {
        "@timestamp": T.isoformat(),
        "host": {"name": "ws-1"},
        "detection": {
            "rule": {"title": "Encoded PowerShell", "level": "high"},
            "event": {
                "process": {"command_line": "powershell -enc SQBFAFgA", "parent": {"name": "winword.exe"}}
            },
        },
    },
    {
        "@timestamp": T.isoformat(),
        "detection": {"rule": {"title": "Brute force", "level": "medium"}, "related": {"count": 37}},
    },
]


class _Found:
    incident = INCIDENT


class _Es:
    def index(self, **_: Any) -> None:
        return None


class _Triage:
    """Triage's reads over fixed documents."""

    es = _Es()
    settings = load_settings()

    def find(self, incident_id: str, tenant: str | None = None) -> _Found:
        return _Found()

    def detections(self, incident: Incident) -> list[dict[str, Any]]:
        return DETECTIONS

    def restricted(self, incident: Incident) -> list[dict[str, Any]]:
        return []

    def list(self, tenant: str | None = None, **_: Any) -> list[Incident]:
        return [INCIDENT]


def test_the_incident_page_shows_the_stored_event_the_count_and_exact_timelines() -> None:
    """The event stored with a detection is shown whole; a correlation shows its count of contributing
    events; the timelines cover an hour either side; the title's markup is escaped."""
    app = create_app(_Triage(), SECRET, kibana_url="http://kibana.example:5601")  # type: ignore[arg-type]
    with TestClient(app) as client:
        listed = client.post("/login", data={"token": login_token(SECRET, Analyst(name="ann"), 60)})
        page = client.get("/incidents/i1").text
    assert "&lt;script&gt;" in listed.text and "<script>alert" not in listed.text
    assert "powershell -enc SQBFAFgA" in page and "winword.exe" in page
    assert "37 contributing events" in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    host = unquote(html.unescape(re.search(r'href="([^"]*socpipe-host-timeline[^"]*)"', page).group(1)))  # type: ignore[union-attr]
    assert host.startswith("http://kibana.example:5601/app/discover#/view/socpipe-host-timeline?")
    assert "from:'2026-11-30T07:00:00+00:00',to:'2026-11-30T09:00:00+00:00'" in host
    assert """query:'host.name:"ws-1"'""" in host
