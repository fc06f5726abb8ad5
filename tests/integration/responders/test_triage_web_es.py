"""The triage web page against real Elasticsearch (Starlette's test client, no browser): sign-in with a
one-time link, CSRF on every form, tenant limits, and actions recorded exactly as the CLI records them.

The browser test (test_triage_browser_es.py) drives the same pages in headless Chromium.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from elasticsearch import Elasticsearch
from responder_helpers import detection, inbound, sources
from starlette.testclient import TestClient

from responders.evidence.audit import verify_live
from responders.redaction import REDACTED
from responders.triage_web.app import create_app
from responders.triage_web.auth import Analyst, login_token
from responders.worker import Responders
from schemas.detection import Detection
from socpipe.settings import Settings

pytestmark = pytest.mark.elasticsearch

SECRET = "test-secret-0123456789abcdef"


@pytest.fixture
def web(responders: Responders) -> Iterator[TestClient]:
    app = create_app(responders.triage(), SECRET, kibana_url="http://kibana.example:5601")
    with TestClient(app, follow_redirects=False) as client:
        yield client


def sign_in(client: TestClient, name: str, tenants: tuple[str, ...] | None = None) -> str:
    """Open a login link and confirm it; the session's CSRF token (read from the page's forms)."""
    token = login_token(SECRET, Analyst(name=name, tenants=tenants), 60)
    assert f"Sign in as {name}" in client.get(f"/login?token={token}").text
    assert client.post("/login", data={"token": token}).status_code == 303
    page = client.get("/").text
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def _incidents(responders: Responders) -> dict[str, str]:
    responders.stage().process(inbound([detection(1), detection(2, "blue")]))
    triage = responders.triage()
    return {t: triage.list(t)[0].id for t in ("red", "blue")}


def test_a_login_link_opens_one_session_and_every_form_needs_its_csrf_token(
    web: TestClient, responders: Responders
) -> None:
    """Signed out, every page asks to sign in. Opening a link shows a confirmation (a GET spends
    nothing); confirming signs in; the same link again, a forged or an expired one: refused. An action
    posted without the session's CSRF token, or with another one, is refused (403) and changes nothing;
    with it, the incident is acknowledged."""
    ids = _incidents(responders)
    assert web.get("/").status_code == 401
    token = login_token(SECRET, Analyst(name="ann"), 60)
    assert web.get(f"/login?token={token}").status_code == 200
    assert web.get(f"/login?token={token}").status_code == 200
    assert web.post("/login", data={"token": token}).status_code == 303
    page = web.get("/").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    again = web.post("/login", data={"token": token})
    assert again.status_code == 403 and "used already" in again.text
    forged = login_token("another-secret-0123456789", Analyst(name="mallory"), 60)
    assert web.post("/login", data={"token": forged}).status_code == 403
    expired = login_token(SECRET, Analyst(name="ann"), -1)
    assert "expired" in web.get(f"/login?token={expired}").text

    url = f"/incidents/{ids['red']}/acknowledge"
    assert web.post(url, data={"reason": "x"}).status_code == 403
    assert web.post(url, data={"reason": "x", "csrf": "forged"}).status_code == 403
    assert responders.triage().find(ids["red"]).incident.status == "open"
    assert web.post("/logout", data={}).status_code == 403
    assert web.post(url, data={"reason": "x", "csrf": csrf}).status_code == 303
    assert responders.triage().find(ids["red"]).incident.status == "acknowledged"


def test_tenant_limits_hold_and_actions_are_recorded_as_the_cli_records_them(
    web: TestClient, responders: Responders, es: Elasticsearch, rsettings: Settings
) -> None:
    """An analyst signed in for blue only: the list holds blue's incident; red's is 404, to read or to
    change, and stays untouched; red's list is 404 too. Then an analyst of every tenant assigns,
    escalates and closes red's from the page: the history and the triage_action evidence name the
    signed-in analyst; a refused action (closing without a reason) says why; the chain verifies."""
    ids = _incidents(responders)
    csrf = sign_in(web, "bob", ("blue",))
    listed = web.get("/").text
    assert f"/incidents/{ids['blue']}" in listed and f"/incidents/{ids['red']}" not in listed
    assert web.get(f"/incidents/{ids['blue']}").status_code == 200
    assert web.get(f"/incidents/{ids['red']}").status_code == 404
    assert web.get("/?tenant=red").status_code == 404
    changed = web.post(f"/incidents/{ids['red']}/acknowledge", data={"csrf": csrf, "reason": "x"})
    assert changed.status_code == 404
    assert responders.triage().find(ids["red"]).incident.history == []

    csrf = sign_in(web, "ann")
    red = f"/incidents/{ids['red']}"
    page = web.get(red).text
    assert "host ws-1" in page and "socpipe-host-timeline" in page and "Detections (1)" in page
    assert web.post(f"{red}/assign", data={"csrf": csrf, "assignee": "bob"}).status_code == 303
    escalated = web.post(f"{red}/escalate", data={"csrf": csrf, "severity": "critical", "reason": "DA"})
    assert escalated.status_code == 303
    refused = web.post(f"{red}/close", data={"csrf": csrf, "verdict": "benign", "reason": ""})
    assert refused.status_code == 409 and "close needs a reason" in refused.text
    closed = web.post(f"{red}/close", data={"csrf": csrf, "verdict": "true_positive", "reason": "done"})
    assert closed.status_code == 303 and closed.headers["location"] == f"{red}?done=close"
    incident = responders.triage().find(ids["red"]).incident
    assert [(h.action, h.actor, h.reason) for h in incident.history] == [
        ("assign", "ann", "to bob"),
        ("escalate", "ann", "to critical: DA"),
        ("close", "ann", "done"),
    ]
    assert incident.severity == "critical" and incident.status == "closed"
    evidence = sorted(
        (s["evidence"] for s in sources(es, rsettings, "evidence", "red")), key=lambda e: e["sequence"]
    )
    assert [
        (e["details"]["action"], e["details"]["actor"])
        for e in evidence
        if e["record_type"] == "triage_action"
    ] == [
        ("assign", "ann"),
        ("escalate", "ann"),
        ("close", "ann"),
    ]
    assert verify_live(es, rsettings, "red").ok


COMMAND = "powershell.exe -enc SQBFAFgA -user alice"


def _with_event(n: int, tenant: str) -> Detection:
    """A detection carrying its event as the detector attaches it (ECS, nested), naming user alice."""
    return detection(n, tenant).model_copy(
        update={
            "event": {
                "host": {"name": "ws-1"},
                "user": {"name": "alice"},
                "process": {"command_line": COMMAND, "parent": {"name": "winword.exe"}},
            }
        }
    )


def test_the_incident_page_shows_each_detections_stored_event_redacted_for_its_tenant(
    web: TestClient, responders: Responders
) -> None:
    """The event the responder stored with a detection (real index, strict mapping) is on the triage
    page: red redacts `user`, so the event shown has the command line with the user scrubbed and never
    the name (the incident's own entity line is the provider's and stays whole); blue has no policy and
    shows the event as the detector made it."""
    responders.stage().process(inbound([_with_event(1, "red"), _with_event(2, "blue")]))
    triage = responders.triage()
    sign_in(web, "ann")
    red, blue = (_shown_event(web.get(f"/incidents/{triage.list(t)[0].id}").text) for t in ("red", "blue"))
    assert red["process"] == {
        "command_line": COMMAND.replace("alice", REDACTED),
        "parent": {"name": "winword.exe"},
    }
    assert red["user"] == REDACTED and "alice" not in orjson.dumps(red).decode()
    assert blue["process"]["command_line"] == COMMAND and blue["user"] == {"name": "alice"}


def _shown_event(page: str) -> dict[str, Any]:
    """The event the page shows under "the event" (one detection per incident here)."""
    (shown,) = re.findall(r"<summary>the event</summary><pre>(.*?)</pre>", page, re.DOTALL)
    return orjson.loads(html.unescape(shown))  # type: ignore[no-any-return]
