"""Kibana's HTTP APIs as socpipe uses them: import the saved objects, make a client's space and role.

Kibana answers an import with HTTP 200 even when it refused objects: the body's `success` is false and
`errors[]` names each refused object and why (conflict, missing_references, unsupported_type, unknown).
`load` turns that into KibanaRefusedError with Kibana's own words, as it does for an HTTP error's
`message`. `space_setup` never overwrites what an administrator set by hand: an existing space is left
as it is, and the client role is read, merged (only the parts socpipe owns replaced) and written back.
"""

from __future__ import annotations

from typing import Any

import httpx

from responders.indices import CLIENT_KINDS
from responders.kibana import for_deployment, read_objects, to_ndjson
from socpipe.es import tenant_indices
from socpipe.settings import Settings

# Kibana 8.18+ feature ids (elastic/kibana PR 202863 deprecated `discover` and `dashboard` for these):
# read-only Discover and Dashboard, nothing else of the space.
CLIENT_FEATURES: dict[str, list[str]] = {"discover_v2": ["read"], "dashboard_v2": ["read"]}


class KibanaRefusedError(Exception):
    """Kibana answered but refused (an HTTP error, or an import with success: false): its own words."""


def _auth(settings: Settings) -> dict[str, Any]:
    if settings.elasticsearch_api_key:
        return {"headers": {"Authorization": f"ApiKey {settings.elasticsearch_api_key.get_secret_value()}"}}
    if settings.elasticsearch_username and settings.elasticsearch_password:
        return {"auth": (settings.elasticsearch_username, settings.elasticsearch_password.get_secret_value())}
    return {}


def _client(settings: Settings, url: str | None) -> httpx.Client:
    auth = _auth(settings)
    return httpx.Client(
        base_url=(url or settings.kibana_url).rstrip("/"),
        headers={"kbn-xsrf": "socpipe", **auth.get("headers", {})},
        auth=auth.get("auth"),
        timeout=60,
    )


def _checked(response: httpx.Response) -> httpx.Response:
    """The response, or KibanaRefusedError with the status and Kibana's `message` (or its body)."""
    if response.is_success:
        return response
    try:
        said = str(response.json().get("message") or response.text)
    except ValueError:
        said = response.text
    raise KibanaRefusedError(
        f"{response.request.method} {response.request.url.path}: {response.status_code} {said.strip()[:500]}"
    )


def import_errors(answer: dict[str, Any]) -> str:
    """One line naming every object Kibana refused on import and why, in its own words."""
    parts = []
    for error in answer.get("errors") or []:
        what = error.get("error") or {}
        why = what.get("type", "error")
        if what.get("message"):
            why += f": {what['message']}"
        if what.get("references"):
            why += ": missing " + ", ".join(f"{r.get('type')} {r.get('id')}" for r in what["references"])
        parts.append(f"{error.get('type')} {error.get('id')} ({why})")
    return "; ".join(parts) or f"success: false without errors ({answer})"


def load(
    settings: Settings, *, space: str | None = None, tenant: str | None = None, url: str | None = None
) -> int:
    """Import the saved objects into Kibana (overwriting earlier versions); the number imported.

    Raises KibanaRefusedError when Kibana refused any object."""
    objects = for_deployment(read_objects(), settings.index_prefix, tenant, settings.triage_url)
    path = f"/s/{space}" if space and space != "default" else ""
    with _client(settings, url) as kibana:
        response = _checked(
            kibana.post(
                f"{path}/api/saved_objects/_import",
                params={"overwrite": "true"},
                files={"file": ("socpipe.ndjson", to_ndjson(objects), "application/ndjson")},
            )
        )
    try:
        answer: dict[str, Any] = response.json()
    except ValueError:
        raise KibanaRefusedError(f"the import answer is not JSON: {response.text[:200]}") from None
    if not answer.get("success"):
        raise KibanaRefusedError(f"Kibana refused saved objects: {import_errors(answer)}")
    return int(answer.get("successCount", 0))


def client_index_names(settings: Settings, tenant: str) -> list[str]:
    """Exactly the tenant's client-visible indices and alias (no wildcard: `P-*-acme` would also match a
    tenant called `x-acme`)."""
    indices = tenant_indices(settings, tenant)
    return [indices.of(kind) for kind in CLIENT_KINDS] + [indices.alias]


def _role_body(existing: dict[str, Any] | None, names: list[str], tenant: str) -> dict[str, Any]:
    """The role to PUT: what socpipe owns (its index entry; Discover and Dashboard read in the tenant's
    space, with no base privilege, which would grant every feature) set, everything else an
    administrator added kept: other index entries, other spaces' entries, other features in this space,
    cluster privileges, run_as, metadata. Kibana's read-only parts of a role (transient_metadata, name)
    are not sent back."""
    ours = {"names": names, "privileges": ["read", "view_index_metadata"]}
    had = (existing or {}).get("elasticsearch") or {}
    indices = [i for i in had.get("indices", []) if not set(i.get("names", [])) & set(names)]
    es: dict[str, Any] = {"cluster": had.get("cluster", []), "indices": [*indices, ours]}
    for key in ("run_as", "remote_indices"):
        if had.get(key):
            es[key] = had[key]
    kibana: list[dict[str, Any]] = []
    features: dict[str, list[str]] = {}
    for entry in (existing or {}).get("kibana", []):
        if entry.get("spaces") == [tenant]:
            features = dict(entry.get("feature") or {})
        else:
            kibana.append({k: v for k, v in entry.items() if k in ("base", "feature", "spaces")})
    kibana.append({"spaces": [tenant], "base": [], "feature": features | CLIENT_FEATURES})
    body: dict[str, Any] = {"elasticsearch": es, "kibana": kibana}
    if (existing or {}).get("metadata"):
        body["metadata"] = existing["metadata"]  # type: ignore[index]
    return body


def space_setup(settings: Settings, tenant: str, name: str, *, url: str | None = None) -> list[str]:
    """Make the tenant's space (left as it is when it exists) and its client role (merged); what was done."""
    done = []
    role_name = f"socpipe-client-{tenant}"
    with _client(settings, url) as kibana:
        found = kibana.get(f"/api/spaces/space/{tenant}")
        if found.status_code == 404:
            space = {
                "id": tenant,
                "name": name,
                "description": f"socpipe: incidents and evidence of {name}",
                "disabledFeatures": [],
            }
            _checked(kibana.post("/api/spaces/space", json=space))
            done.append(f"created space {tenant}")
        else:
            _checked(found)
            done.append(f"kept space {tenant} as it is (it exists)")
        had = kibana.get(f"/api/security/role/{role_name}")
        existing = None if had.status_code == 404 else _checked(had).json()
        names = client_index_names(settings, tenant)
        _checked(kibana.put(f"/api/security/role/{role_name}", json=_role_body(existing, names, tenant)))
        verb = "updated" if existing else "created"
        done.append(
            f"{verb} role {role_name}: read {', '.join(names)}; Discover and Dashboard read in space {tenant}"
        )
    return done
