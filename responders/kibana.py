"""Kibana saved objects (data views, saved searches, the triage dashboard) and their loading.

The objects live in `responders/kibana/saved_objects.ndjson`, written for the default index prefix
(`socpipe-...-*`: the provider's SOC space sees every tenant). For a client's own space they are
rewritten to that tenant's exact index names, with ids suffixed by the tenant so that each space holds
its own copies; the provider-only objects (the events data view and the timelines) stay out of it.
Talking to Kibana (import, spaces, roles) is responders/kibana_api.py.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson

SAVED_OBJECTS = Path(__file__).resolve().parent / "kibana" / "saved_objects.ndjson"
DEFAULT_PREFIX = "socpipe"

# field names in KQL: `incident.status : open`, `not evidence.record_type:(a or b)`
_KQL_FIELD = re.compile(r"([A-Za-z@_][\w.@]*)\s*:")


def read_objects(path: Path = SAVED_OBJECTS) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def to_ndjson(objects: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(o) + b"\n" for o in objects)


def _search_source(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj["attributes"].get("kibanaSavedObjectMeta") or {}
    raw = meta.get("searchSourceJSON")
    return orjson.loads(raw) if raw else {}


def referenced_fields(obj: dict[str, Any]) -> set[str]:
    """The document fields a saved object names: time field, field formats, columns, sort, query, filters."""
    attrs = obj["attributes"]
    fields: set[str] = set()
    if obj["type"] == "index-pattern":
        if attrs.get("timeFieldName"):
            fields.add(attrs["timeFieldName"])
        fields.update(orjson.loads(attrs.get("fieldFormatMap") or "{}"))
    if obj["type"] == "search":
        fields.update(c for c in attrs.get("columns", []) if c != "_source")
        fields.update(s[0] for s in attrs.get("sort", []))
    source = _search_source(obj)
    query = (source.get("query") or {}).get("query") or ""
    fields.update(_KQL_FIELD.findall(query))
    for f in source.get("filter", []):
        key = (f.get("meta") or {}).get("key")
        if key:
            fields.add(key)
    return fields


def data_view_of(obj: dict[str, Any], objects: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The data view an object's fields belong to (itself, or the one it references)."""
    if obj["type"] == "index-pattern":
        return obj
    views = {o["id"]: o for o in objects if o["type"] == "index-pattern"}
    for ref in obj.get("references", []):
        if ref["type"] == "index-pattern":
            return views.get(ref["id"])
    return None


def check_objects(objects: list[dict[str, Any]]) -> list[str]:
    """Structural checks Kibana would make on import: JSON inside JSON parses, references resolve."""
    problems = []
    ids = {(o["type"], o["id"]) for o in objects}
    if len(ids) != len(objects):
        problems.append("two objects share a type and id")
    for o in objects:
        where = f"{o['type']} {o['id']}"
        if not o["attributes"].get("title"):
            problems.append(f"{where}: no title")
        for ref in o.get("references", []):
            if (ref["type"], ref["id"]) not in ids:
                problems.append(
                    f"{where}: reference {ref['name']} -> {ref['type']} {ref['id']} is not in the file"
                )
        try:
            source = _search_source(o)
        except orjson.JSONDecodeError as exc:
            problems.append(f"{where}: searchSourceJSON is not JSON: {exc}")
            continue
        ref_names = {r["name"] for r in o.get("references", [])}
        if source.get("indexRefName") and source["indexRefName"] not in ref_names:
            problems.append(f"{where}: indexRefName {source['indexRefName']} has no reference")
        if o["type"] == "dashboard":
            try:
                panels = orjson.loads(o["attributes"]["panelsJSON"])
            except (KeyError, orjson.JSONDecodeError) as exc:
                problems.append(f"{where}: panelsJSON: {exc}")
                continue
            for panel in panels:
                name = f"{panel['panelIndex']}:{panel.get('panelRefName')}"
                if "panelRefName" in panel and name not in ref_names:
                    problems.append(f"{where}: panel {panel['panelIndex']} has no reference {name}")
    return problems


# Provider-side only: the events indices are not redacted by a tenant's sensitive_fields (and are not in
# the tenant alias), so a client's space gets neither the events data view nor the timelines on it, and
# none of the links to them or to the analysts' triage page. Nor the restricted detections (`P-restricted-T`,
# responders/restricted.py): the TLP:RED and AMBER+STRICT indicators' details are the provider's alone.
PROVIDER_ONLY = frozenset(
    {
        "socpipe-events",
        "socpipe-host-timeline",
        "socpipe-user-timeline",
        "socpipe-restricted",
        "socpipe-restricted-detections",
    }
)
# Where the file's links to the triage page point; replaced by the `triage_url` setting on deployment.
TRIAGE_URL_IN_FILE = "http://127.0.0.1:8470"
_VIEW_ID = re.compile(r"(#/view/[\w-]+)")


def _field_formats(attrs: dict[str, Any], suffix: str, triage_url: str, client: bool) -> None:
    """Point a data view's URL field formats at this deployment: the timelines' ids, the triage page.
    A client's space gets none: they all lead to provider-only pages."""
    raw = attrs.get("fieldFormatMap")
    if not raw:
        return
    formats: dict[str, Any] = {} if client else orjson.loads(raw)
    for spec in formats.values():
        params = spec.get("params") or {}
        template: str = params.get("urlTemplate") or ""
        if template.startswith(TRIAGE_URL_IN_FILE):
            template = triage_url.rstrip("/") + template.removeprefix(TRIAGE_URL_IN_FILE)
        params["urlTemplate"] = _VIEW_ID.sub(rf"\g<1>{suffix}", template)
    attrs["fieldFormatMap"] = orjson.dumps(formats).decode()


def for_deployment(
    objects: list[dict[str, Any]],
    prefix: str,
    tenant: str | None = None,
    triage_url: str = TRIAGE_URL_IN_FILE,
) -> list[dict[str, Any]]:
    """Rewrite index patterns to `prefix` and, for a client's space, to that tenant's exact indices (the
    provider-only objects and links left out); point the triage links at `triage_url`."""
    out: list[dict[str, Any]] = orjson.loads(orjson.dumps(objects))
    if tenant:
        out = [o for o in out if o["id"] not in PROVIDER_ONLY]
    suffix = f"-{tenant}" if tenant else ""
    for o in out:
        if o["type"] == "index-pattern":
            attrs = o["attributes"]
            kind = attrs["title"].removeprefix(f"{DEFAULT_PREFIX}-").removesuffix("-*")
            attrs["title"] = f"{prefix}-{kind}-{tenant}" if tenant else f"{prefix}-{kind}-*"
            if tenant:
                attrs["name"] = f"{attrs.get('name', kind)} ({tenant})"
            _field_formats(attrs, suffix, triage_url, client=tenant is not None)
        o["id"] += suffix
        for ref in o.get("references", []):
            ref["id"] += suffix
    return out


def _rison_string(text: str) -> str:
    return "'" + text.replace("!", "!!").replace("'", "!'") + "'"


def timeline_url(kibana_url: str, field: str, value: str, start: datetime, end: datetime) -> str:
    """Discover on the host (`host.name`) or user (`user.name`) timeline, filtered to one value over an
    exact time window: the triage page's link to what the host or user did around an incident."""
    search = {"host.name": "socpipe-host-timeline", "user.name": "socpipe-user-timeline"}[field]
    kql = f'{field}:"{value.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
    time = f"(time:(from:{_rison_string(start.isoformat())},to:{_rison_string(end.isoformat())}))"
    query = f"(query:(language:kuery,query:{_rison_string(kql)}))"
    safe = "():,!'*"
    return (
        f"{kibana_url.rstrip('/')}/app/discover#/view/{search}"
        f"?_g={quote(time, safe=safe)}&_a={quote(query, safe=safe)}"
    )
