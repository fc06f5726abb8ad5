"""Kibana saved objects (data views, saved searches, the triage dashboard) and their loading.

The objects live in `responders/kibana/saved_objects.ndjson`, written for the default index prefix
(`socpipe-...-*`: the provider's SOC space sees every tenant). For a client's own space they are
rewritten to that tenant's exact index names, with ids suffixed by the tenant so that each space holds
its own copies. `socpipe kibana load` imports them through Kibana's saved objects API; `socpipe kibana
space` creates a tenant's space and a role that reads only that tenant's indices.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import orjson

from responders.indices import CLIENT_KINDS
from socpipe.es import tenant_indices
from socpipe.settings import Settings

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
    """The document fields a saved object names: time field, columns, sort, query and filters."""
    attrs = obj["attributes"]
    fields: set[str] = set()
    if obj["type"] == "index-pattern" and attrs.get("timeFieldName"):
        fields.add(attrs["timeFieldName"])
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


def for_deployment(
    objects: list[dict[str, Any]], prefix: str, tenant: str | None = None
) -> list[dict[str, Any]]:
    """Rewrite index patterns to `prefix` and, for a client's space, to that tenant's exact indices."""
    out: list[dict[str, Any]] = orjson.loads(orjson.dumps(objects))
    suffix = f"-{tenant}" if tenant else ""
    for o in out:
        if o["type"] == "index-pattern":
            title: str = o["attributes"]["title"]
            kind = title.removeprefix(f"{DEFAULT_PREFIX}-").removesuffix("-*")
            o["attributes"]["title"] = f"{prefix}-{kind}-{tenant}" if tenant else f"{prefix}-{kind}-*"
            if tenant:
                o["attributes"]["name"] = f"{o['attributes'].get('name', kind)} ({tenant})"
        o["id"] += suffix
        for ref in o.get("references", []):
            ref["id"] += suffix
    return out


def _auth(settings: Settings) -> dict[str, Any]:
    if settings.elasticsearch_api_key:
        return {"headers": {"Authorization": f"ApiKey {settings.elasticsearch_api_key.get_secret_value()}"}}
    if settings.elasticsearch_username and settings.elasticsearch_password:
        return {"auth": (settings.elasticsearch_username, settings.elasticsearch_password.get_secret_value())}
    return {}


def _space_path(space: str | None) -> str:
    return f"/s/{space}" if space and space != "default" else ""


def load(
    settings: Settings, *, space: str | None = None, tenant: str | None = None, url: str | None = None
) -> dict[str, Any]:
    """Import the saved objects into Kibana (overwriting earlier versions); return Kibana's answer."""
    objects = for_deployment(read_objects(), settings.index_prefix, tenant)
    base = (url or settings.kibana_url).rstrip("/")
    auth = _auth(settings)
    response = httpx.post(
        f"{base}{_space_path(space)}/api/saved_objects/_import",
        params={"overwrite": "true"},
        files={"file": ("socpipe.ndjson", to_ndjson(objects), "application/ndjson")},
        headers={"kbn-xsrf": "socpipe", **auth.get("headers", {})},
        auth=auth.get("auth"),
        timeout=60,
    )
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


def space_setup(settings: Settings, tenant: str, name: str, *, url: str | None = None) -> list[str]:
    """Create the tenant's space and a read-only role on exactly its indices; return what was done."""
    base = (url or settings.kibana_url).rstrip("/")
    auth = _auth(settings)
    headers = {"kbn-xsrf": "socpipe", **auth.get("headers", {})}
    done = []
    with httpx.Client(base_url=base, headers=headers, auth=auth.get("auth"), timeout=30) as kibana:
        space = {
            "id": tenant,
            "name": name,
            "description": f"socpipe: incidents and evidence of {name}",
            "disabledFeatures": [],
        }
        response = kibana.post("/api/spaces/space", json=space)
        if response.status_code == 409:
            response = kibana.put(f"/api/spaces/space/{tenant}", json=space)
        response.raise_for_status()
        done.append(f"space {tenant}")
        names = [tenant_indices(settings, tenant).of(kind) for kind in CLIENT_KINDS] + [
            tenant_indices(settings, tenant).alias
        ]
        role = {
            # Exact names only: a wildcard like socpipe-*-acme would also match a tenant called x-acme.
            "elasticsearch": {"indices": [{"names": names, "privileges": ["read", "view_index_metadata"]}]},
            "kibana": [{"spaces": [tenant], "base": ["read"]}],
        }
        kibana.put(f"/api/security/role/socpipe-client-{tenant}", json=role).raise_for_status()
        done.append(f"role socpipe-client-{tenant}: read {', '.join(names)}; Kibana read in space {tenant}")
    return done
