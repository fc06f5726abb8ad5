"""`socpipe kibana load | space` against a local fake Kibana (pytest-httpserver) that checks each request.

Kibana cannot run here; what socpipe sends and how it reads Kibana's answers is what is tested: the
import's multipart NDJSON, an import answered 200 with `success: false` (a failure, in Kibana's words),
the client role's feature privileges, and a second `kibana space` that keeps what was set by hand.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from click.testing import CliRunner, Result
from pytest_httpserver import HTTPServer
from werkzeug import Request

from cli.main import cli
from socpipe.settings import get_settings

IMPORTED = {"success": True, "successCount": 12, "successResults": []}


@pytest.fixture
def kibana(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Result]]:
    """`socpipe ARGS` with SOCPIPE_KIBANA_URL at the fake Kibana (whose access log stays out of stderr)."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    monkeypatch.setenv("SOCPIPE_KIBANA_URL", httpserver.url_for(""))
    monkeypatch.setenv("SOCPIPE_INDEX_PREFIX", "soc")
    monkeypatch.setenv("SOCPIPE_TRIAGE_URL", "https://triage.example")
    get_settings.cache_clear()
    yield lambda *args: CliRunner().invoke(cli, list(args))
    get_settings.cache_clear()


def _ndjson(request: Request) -> list[dict[str, Any]]:
    upload = request.files["file"].read().decode()
    return [json.loads(line) for line in upload.splitlines() if line]


def _calls(httpserver: HTTPServer) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r, _ in httpserver.log]


def test_load_posts_the_objects_with_the_xsrf_header_and_the_triage_links(
    httpserver: HTTPServer, kibana: Callable[..., Result]
) -> None:
    """The provider's load: one multipart NDJSON import into the default space, overwrite on, with the
    kbn-xsrf header; the incident ids link to the configured triage URL."""
    httpserver.expect_request(
        "/api/saved_objects/_import",
        method="POST",
        query_string="overwrite=true",
        headers={"kbn-xsrf": "socpipe"},
    ).respond_with_json(IMPORTED)
    result = kibana("kibana", "load")
    assert result.exit_code == 0, result.output
    assert "imported 12 saved objects into space default" in result.output
    [(request, _)] = httpserver.log
    objects = {o["id"]: o for o in _ndjson(request)}
    assert objects["socpipe-events"]["attributes"]["title"] == "soc-events-*"
    formats = json.loads(objects["socpipe-incidents"]["attributes"]["fieldFormatMap"])
    assert formats["incident.id"]["params"]["urlTemplate"] == "https://triage.example/incidents/{{value}}"
    assert "#/view/socpipe-host-timeline?" in formats["host.name"]["params"]["urlTemplate"]


def test_an_import_kibana_answers_200_with_success_false_fails_in_kibanas_words(
    httpserver: HTTPServer, kibana: Callable[..., Result]
) -> None:
    """Kibana's import answers 200 with success: false and errors[]: exit 1, one line naming each object
    and Kibana's reason (was: reported as success)."""
    httpserver.expect_request("/s/red/api/saved_objects/_import", method="POST").respond_with_json(
        {
            "success": False,
            "successCount": 10,
            "errors": [
                {
                    "id": "socpipe-triage-red",
                    "type": "dashboard",
                    "meta": {"title": "socpipe: SOC triage"},
                    "error": {
                        "type": "missing_references",
                        "references": [{"type": "search", "id": "socpipe-gdpr-clock-red"}],
                    },
                },
                {"id": "x", "type": "lens", "error": {"type": "unknown", "message": "lens is disabled"}},
            ],
        }
    )
    result = kibana("kibana", "load", "--tenant", "red")
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert "dashboard socpipe-triage-red (missing_references: missing search socpipe-gdpr-clock-red)" in line
    assert "lens x (unknown: lens is disabled)" in line and "Traceback" not in result.output


def test_a_client_space_without_a_tenant_is_refused(
    httpserver: HTTPServer, kibana: Callable[..., Result]
) -> None:
    """`kibana load --space S` without --tenant would put every tenant's data views in a client's space:
    a usage error, nothing sent."""
    result = kibana("kibana", "load", "--space", "red")
    assert result.exit_code == 2 and "--space red needs --tenant" in result.stderr
    assert httpserver.log == []


def test_kibanas_error_message_is_shown(httpserver: HTTPServer, kibana: Callable[..., Result]) -> None:
    """An HTTP error from Kibana: its own `message`, on one line, exit 1."""
    httpserver.expect_request("/api/saved_objects/_import").respond_with_json(
        {"statusCode": 403, "error": "Forbidden", "message": "Unable to bulk_create index-pattern"},
        status=403,
    )
    result = kibana("kibana", "load")
    assert result.exit_code == 1
    assert "403 Unable to bulk_create index-pattern" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_space_makes_the_space_and_a_discover_and_dashboard_read_role(
    httpserver: HTTPServer, kibana: Callable[..., Result]
) -> None:
    """A new client: the space is created, the role reads exactly red's indices and grants only Discover
    and Dashboard read (feature privileges, no base privilege) in red's space; then red's objects."""
    httpserver.expect_request("/api/spaces/space/red", method="GET").respond_with_json({}, status=404)
    httpserver.expect_request("/api/spaces/space", method="POST").respond_with_json({"id": "red"})
    httpserver.expect_request("/api/security/role/socpipe-client-red", method="GET").respond_with_json(
        {}, status=404
    )
    httpserver.expect_request("/api/security/role/socpipe-client-red", method="PUT").respond_with_data(
        "", status=204
    )
    httpserver.expect_request("/s/red/api/saved_objects/_import", method="POST").respond_with_json(IMPORTED)
    result = kibana("kibana", "space", "--tenant", "red", "--name", "Red Org")
    assert result.exit_code == 0, result.output
    assert _calls(httpserver) == [
        ("GET", "/api/spaces/space/red"),
        ("POST", "/api/spaces/space"),
        ("GET", "/api/security/role/socpipe-client-red"),
        ("PUT", "/api/security/role/socpipe-client-red"),
        ("POST", "/s/red/api/saved_objects/_import"),
    ]
    role = httpserver.log[3][0].get_json()
    assert role["kibana"] == [
        {"spaces": ["red"], "base": [], "feature": {"discover_v2": ["read"], "dashboard_v2": ["read"]}}
    ]
    [indices] = role["elasticsearch"]["indices"]
    assert indices["names"] == [
        "soc-incidents-red",
        "soc-detections-red",
        "soc-notices-red",
        "soc-evidence-red",
        "soc-tenant-red",
    ]
    ids = {o["id"] for o in _ndjson(httpserver.log[4][0])}
    assert "socpipe-incidents-red" in ids and not {"socpipe-events-red", "socpipe-host-timeline-red"} & ids


def test_space_again_keeps_what_was_set_by_hand(
    httpserver: HTTPServer, kibana: Callable[..., Result]
) -> None:
    """A second run: the existing space is not written at all; the role keeps an index, a space, a
    feature in red's space and metadata an administrator added; socpipe's own index entry is replaced
    and the old base privilege (which granted every feature) gives way to Discover and Dashboard read."""
    httpserver.expect_request("/api/spaces/space/red", method="GET").respond_with_json(
        {"id": "red", "name": "Red (renamed by hand)", "disabledFeatures": ["canvas"], "color": "#f00"}
    )
    httpserver.expect_request("/api/security/role/socpipe-client-red", method="GET").respond_with_json(
        {
            "name": "socpipe-client-red",
            "metadata": {"owner": "ops"},
            "transient_metadata": {"enabled": True},
            "elasticsearch": {
                "cluster": [],
                "indices": [
                    {"names": ["soc-incidents-red"], "privileges": ["read"]},
                    {"names": ["red-extra"], "privileges": ["read"], "allow_restricted_indices": False},
                ],
                "run_as": [],
            },
            "kibana": [
                {"spaces": ["red"], "base": ["read"], "feature": {"maps": ["read"]}},
                {"spaces": ["shared"], "base": [], "feature": {"maps": ["read"]}},
            ],
        }
    )
    httpserver.expect_request("/api/security/role/socpipe-client-red", method="PUT").respond_with_data(
        "", status=204
    )
    httpserver.expect_request("/s/red/api/saved_objects/_import", method="POST").respond_with_json(IMPORTED)
    result = kibana("kibana", "space", "--tenant", "red", "--name", "Red Org")
    assert result.exit_code == 0, result.output
    assert "kept space red" in result.output
    assert ("POST", "/api/spaces/space") not in _calls(httpserver)
    assert not [c for c in _calls(httpserver) if c[0] == "PUT" and "spaces" in c[1]]
    role = next(r for r, _ in httpserver.log if r.method == "PUT").get_json()
    assert role["metadata"] == {"owner": "ops"} and "transient_metadata" not in role
    names = [i["names"] for i in role["elasticsearch"]["indices"]]
    assert ["red-extra"] in names and len(names) == 2
    assert role["kibana"] == [
        {"spaces": ["shared"], "base": [], "feature": {"maps": ["read"]}},
        {
            "spaces": ["red"],
            "base": [],
            "feature": {"maps": ["read"], "discover_v2": ["read"], "dashboard_v2": ["read"]},
        },
    ]


def test_space_fails_when_kibana_refuses_objects(
    httpserver: HTTPServer, kibana: Callable[..., Result]
) -> None:
    """`kibana space` checks the import answer too (was: reported success whatever Kibana said)."""
    httpserver.expect_request("/api/spaces/space/red", method="GET").respond_with_json({"id": "red"})
    httpserver.expect_request("/api/security/role/socpipe-client-red", method="GET").respond_with_json(
        {}, status=404
    )
    httpserver.expect_request("/api/security/role/socpipe-client-red", method="PUT").respond_with_data("")
    httpserver.expect_request("/s/red/api/saved_objects/_import").respond_with_json(
        {"success": False, "errors": [{"id": "a", "type": "search", "error": {"type": "conflict"}}]}
    )
    result = kibana("kibana", "space", "--tenant", "red", "--name", "Red Org")
    assert result.exit_code == 1 and "search a (conflict)" in result.stderr
