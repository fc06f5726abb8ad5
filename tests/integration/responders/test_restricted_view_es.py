"""A restricted intel detection (TLP:RED indicator) for the provider's analysts, whole, in `socpipe
incident show` and on the triage page (one code path, Triage.restricted); the client's indices, role and
Kibana space hold only its client view; an analyst limited to other tenants does not see it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from click.testing import Result
from elasticsearch import Elasticsearch
from responder_helpers import inbound, sources
from starlette.testclient import TestClient

from responders.kibana import for_deployment, read_objects
from responders.kibana_api import client_index_names
from responders.triage_web.app import create_app
from responders.triage_web.auth import Analyst, login_token
from responders.worker import Responders
from schemas.detection import EventRef
from socpipe.es import tenant_indices
from socpipe.settings import Settings
from tests.unit.detectors.intel.intel_helpers import sample_matcher

pytestmark = pytest.mark.elasticsearch

SECRET = "test-secret-0123456789abcdef"
RED_INDICATOR = "203.0.113.9"  # in a TLP:RED block of the sample STIX bundle (tests/data/intel/bundle.json)
RED_BLOCK = "203.0.113.0/24"


@pytest.fixture
def incident_id(responders: Responders) -> str:
    """One incident of tenant red from a match of a TLP:RED indicator."""
    ref = EventRef(event_id="evt-r1", topic="events.ecs", partition=0, offset=1)
    [restricted] = sample_matcher().match(
        {"destination.ip": RED_INDICATOR, "host.name": "ws-9"}, "red", datetime.now(UTC), ref
    )
    responders.stage().process(inbound([restricted]))
    return responders.triage().list("red")[0].id


@pytest.fixture
def web(responders: Responders) -> Iterator[TestClient]:
    app = create_app(responders.triage(), SECRET, kibana_url="http://kibana.example:5601")
    with TestClient(app, follow_redirects=False) as client:
        yield client


def _sign_in(client: TestClient, tenants: tuple[str, ...] | None) -> None:
    token = login_token(SECRET, Analyst(name="ann", tenants=tenants), 60)
    assert client.post("/login", data={"token": token}).status_code == 303


def test_incident_show_gives_the_provider_the_whole_restricted_detection(
    socpipe: Callable[..., Result], incident_id: str, es: Elasticsearch, rsettings: Settings
) -> None:
    shown = socpipe("incident", "show", incident_id)
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    heading = next(n for n, x in enumerate(lines) if x.startswith("restricted detections"))
    [line] = lines[heading + 1 :]
    assert f"value: {RED_INDICATOR}" in line and f"indicator: {RED_BLOCK}" in line
    assert "tlp: TLP:RED" in line and "source: bundle.json" in line
    assert "field: destination.ip" in line
    as_json = json.loads(socpipe("incident", "show", incident_id, "--json").output)
    [details] = as_json["restricted_detections"]
    assert details["value"] == RED_INDICATOR and details["tlp"] == "TLP:RED" and as_json["id"] == incident_id
    # The client's indices hold the client view only: the incident's detection names no indicator.
    for kind in ("detections", "incidents", "notices", "evidence"):
        text = json.dumps(sources(es, rsettings, kind, "red"))
        assert RED_INDICATOR not in text and RED_BLOCK not in text, kind
    restricted_index = tenant_indices(rsettings, "red").restricted
    assert restricted_index not in client_index_names(rsettings, "red")  # the client's Kibana role
    client_space = json.dumps(for_deployment(read_objects(), rsettings.index_prefix, "red"))
    assert "-restricted" not in client_space


def test_triage_page_shows_it_to_the_provider_never_across_tenants(web: TestClient, incident_id: str) -> None:
    _sign_in(web, None)
    page = web.get(f"/incidents/{incident_id}")
    assert page.status_code == 200
    section = re.search(r'<table id="restricted">(.*?)</table>', page.text, re.S)
    assert section is not None and RED_BLOCK in section.group(1) and "TLP:RED" in section.group(1)
    web.cookies.clear()
    _sign_in(web, ("blue",))  # limited to another tenant: as if the incident did not exist
    other = web.get(f"/incidents/{incident_id}")
    assert other.status_code == 404 and RED_BLOCK not in other.text and RED_INDICATOR not in other.text
