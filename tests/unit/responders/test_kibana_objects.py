"""The Kibana saved objects in the repo, offline: well formed, and rewritten right for a client's space.

That every field they name exists in the real mappings is checked against Elasticsearch in
tests/integration/responders/test_kibana_fields_es.py.
"""

from __future__ import annotations

from responders.kibana import check_objects, for_deployment, read_objects, referenced_fields


def test_saved_objects_are_well_formed() -> None:
    """JSON in JSON parses; every reference, index reference and dashboard panel resolves in the file."""
    objects = read_objects()
    assert check_objects(objects) == []
    types = {o["type"] for o in objects}
    assert {"index-pattern", "search", "dashboard"} <= types
    views = {o["attributes"]["title"] for o in objects if o["type"] == "index-pattern"}
    assert {"socpipe-incidents-*", "socpipe-detections-*", "socpipe-evidence-*"} <= views


def test_searches_name_fields() -> None:
    """The field extraction the integration test relies on finds columns, sort and KQL fields."""
    by_id = {o["id"]: o for o in read_objects()}
    fields = referenced_fields(by_id["socpipe-open-incidents"])
    assert {"incident.status", "incident.title", "event.severity", "incident.last_seen"} <= fields


def test_a_clients_space_gets_its_exact_indices_and_its_own_ids() -> None:
    """For tenant acme: data views on socpipe-<kind>-acme, ids and references suffixed, still consistent."""
    objects = for_deployment(read_objects(), "socpipe", "acme")
    assert check_objects(objects) == []
    titles = {o["attributes"]["title"] for o in objects if o["type"] == "index-pattern"}
    assert titles == {
        "socpipe-incidents-acme",
        "socpipe-detections-acme",
        "socpipe-notices-acme",
        "socpipe-evidence-acme",
    }
    assert all(o["id"].endswith("-acme") for o in objects)
    provider = for_deployment(read_objects(), "mssp", None)
    assert "mssp-incidents-*" in {o["attributes"]["title"] for o in provider}
