"""A walk over the Kibana saved objects against the index mappings and the rules the triage content keeps.

Offline (Kibana cannot run here): every field a data view, search or link names is mapped in
responders/indices.py (the events view: in the events indices' template, responders/events/template.py,
whose `dynamic: false` leaves any other field unsearchable); incidents are shown as they are now, never
through a time filter; the dashboard brings its own time range and refresh; no text tells a client to run
socpipe.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from responders.events.template import MAPPINGS as EVENT_MAPPINGS
from responders.indices import MAPPINGS
from responders.kibana import check_objects, data_view_of, for_deployment, read_objects, referenced_fields

OBJECTS = read_objects()
BY_ID = {o["id"]: o for o in OBJECTS}


def _mapped(properties: dict[str, Any], prefix: str = "") -> set[str]:
    """Every field path of a mapping, objects' own paths and multi-fields included."""
    paths: set[str] = set()
    for name, spec in properties.items():
        path = f"{prefix}{name}"
        paths.add(path)
        paths.update(f"{path}.{sub}" for sub in spec.get("fields", {}))
        if "properties" in spec:
            paths |= _mapped(spec["properties"], f"{path}.")
    return paths


# The events indices map only what analysts pivot on (dynamic: false): a field outside the template is
# kept in _source but cannot be filtered, sorted or searched, so a saved search naming it shows nothing.
EVENT_FIELDS = _mapped(EVENT_MAPPINGS)


def _fields_of_view(view: dict[str, Any]) -> set[str]:
    kind = view["attributes"]["title"].removeprefix("socpipe-").removesuffix("-*")
    return EVENT_FIELDS if kind == "events" else _mapped(MAPPINGS[kind])


def test_every_field_the_objects_name_is_mapped() -> None:
    """Time fields, field formats, columns, sorts, queries and filters: each exists in its view's index
    mapping (for the events view, the events indices' template)."""
    checked = on_events = 0
    for obj in OBJECTS:
        fields = referenced_fields(obj)
        if not fields:
            continue
        view = data_view_of(obj, OBJECTS)
        assert view is not None, f"{obj['id']} names fields but has no data view"
        missing = fields - _fields_of_view(view)
        assert not missing, f"{obj['type']} {obj['id']} names unmapped fields {sorted(missing)}"
        checked += len(fields)
        on_events += len(fields) if _fields_of_view(view) is EVENT_FIELDS else 0
    assert checked > 60 and on_events > 20  # the host and user timelines among them


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    refs = {r["name"]: r for r in dashboard["references"]}
    panels = orjson.loads(dashboard["attributes"]["panelsJSON"])
    return [BY_ID[refs[f"{p['panelIndex']}:{p['panelRefName']}"]["id"]] for p in panels]


def test_no_incident_panel_is_on_a_time_based_view() -> None:
    """Incidents are current state: a time filter on their last detection hid open incidents after 15
    minutes of quiet and the oldest GDPR clocks. Every search on incidents, on the dashboard or not, is
    on a data view without a time field."""
    incident_searches = [
        o
        for o in OBJECTS
        if o["type"] == "search" and data_view_of(o, OBJECTS)["attributes"]["title"] == "socpipe-incidents-*"  # type: ignore[index]
    ]
    assert {o["id"] for o in incident_searches} >= {"socpipe-open-incidents", "socpipe-gdpr-clock"}
    for search in incident_searches:
        view = data_view_of(search, OBJECTS)
        assert view is not None and "timeFieldName" not in view["attributes"], search["id"]
    dashboard = BY_ID["socpipe-triage"]
    on_dashboard = {p["id"] for p in _panels(dashboard)}
    assert {"socpipe-open-incidents", "socpipe-gdpr-clock", "socpipe-closed-incidents"} <= on_dashboard


def test_the_dashboard_brings_its_time_range_and_refresh() -> None:
    """timeRestore with a range and an auto-refresh: the time-based panels do not depend on Kibana's
    default 'last 15 minutes'."""
    attrs = BY_ID["socpipe-triage"]["attributes"]
    assert attrs["timeRestore"] is True and attrs["timeFrom"] == "now-7d" and attrs["timeTo"] == "now"
    assert attrs["refreshInterval"]["pause"] is False and attrs["refreshInterval"]["value"] > 0


def _texts(objects: list[dict[str, Any]]) -> list[tuple[str, str]]:
    texts = [(o["id"], o["attributes"].get("description") or "") for o in objects]
    for o in objects:
        if o["type"] == "visualization":
            texts.append((o["id"], orjson.loads(o["attributes"]["visState"])["params"]["markdown"]))
    return texts


def test_no_text_in_a_clients_space_tells_them_to_run_socpipe() -> None:
    """Clients cannot run socpipe: no description or panel text in their space names a command."""
    for oid, text in _texts(for_deployment(OBJECTS, "socpipe", "acme")):
        assert not re.search(r"`?socpipe [a-z]+ [a-z]+", text), f"{oid}: {text}"


def test_texts_describe_the_sort_they_sit_on() -> None:
    """A search said to be newest first is sorted descending, and nothing claims chain order over it."""
    for obj in OBJECTS:
        text = obj["attributes"].get("description") or ""
        assert "chain order" not in text, obj["id"]
        if "newest first" in text:
            assert obj["attributes"]["sort"][0][1] == "desc", obj["id"]


def test_links_lead_to_objects_that_exist_in_each_deployment() -> None:
    """The host and user names link to the timelines' saved searches (ids rewritten per deployment); a
    client's space has no links (the timelines and the triage page are the provider's)."""
    provider = for_deployment(OBJECTS, "mssp", None, "https://triage.example/")
    ids = {o["id"] for o in provider}
    for view in (o for o in provider if o["type"] == "index-pattern"):
        for field, spec in orjson.loads(view["attributes"].get("fieldFormatMap") or "{}").items():
            template = spec["params"]["urlTemplate"]
            target = re.search(r"#/view/([\w-]+)", template)
            if target:
                assert target.group(1) in ids, f"{view['id']} {field} -> {target.group(1)}"
            else:
                assert template == "https://triage.example/incidents/{{value}}"
    client = for_deployment(OBJECTS, "socpipe", "acme")
    for view in (o for o in client if o["type"] == "index-pattern"):
        assert orjson.loads(view["attributes"].get("fieldFormatMap") or "{}") == {}, view["id"]
    assert "socpipe-events-acme" not in {o["id"] for o in client}


def test_restricted_detections_are_in_the_provider_space_only() -> None:
    """`P-restricted-T` (TLP:RED / AMBER+STRICT matches whole) has a data view and a saved search in the
    provider's space, on every tenant's restricted index; a client's space has neither, and no object of
    a client's space reads a restricted index."""
    provider = {o["id"]: o for o in for_deployment(OBJECTS, "mssp", None)}
    assert provider["socpipe-restricted"]["attributes"]["title"] == "mssp-restricted-*"
    search = provider["socpipe-restricted-detections"]
    assert [r["id"] for r in search["references"]] == ["socpipe-restricted"]
    assert check_objects(list(provider.values())) == []
    client = for_deployment(OBJECTS, "socpipe", "acme")
    assert not {"socpipe-restricted-acme", "socpipe-restricted-detections-acme"} & {o["id"] for o in client}
    titles = [o["attributes"]["title"] for o in client if o["type"] == "index-pattern"]
    assert titles and not [t for t in titles if "-restricted" in t]
