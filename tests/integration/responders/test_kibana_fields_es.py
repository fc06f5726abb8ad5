"""The Kibana saved objects against the real mappings, and `socpipe kibana load | space` against a receiver.

Kibana itself cannot run here: the objects are validated offline, and every field they name must exist
in the index templates, as Elasticsearch's field capabilities report them for a tenant's indices.
"""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from elasticsearch import Elasticsearch
from responder_helpers import WebhookSink

from cli.main import cli
from responders.kibana import data_view_of, for_deployment, read_objects, referenced_fields
from socpipe.es import tenant_indices
from socpipe.settings import Settings, get_settings

pytestmark = pytest.mark.elasticsearch


def test_every_field_the_saved_objects_name_exists_in_the_mappings(
    rsettings: Settings, es: Elasticsearch
) -> None:
    """Time fields, columns, sort fields and query fields of every data view and search are mapped."""
    objects = for_deployment(read_objects(), rsettings.index_prefix, "red")
    checked = 0
    for obj in objects:
        view = data_view_of(obj, objects)
        fields = referenced_fields(obj)
        if not fields:
            continue
        assert view is not None, f"{obj['id']} names fields but has no data view"
        mapped = set(es.field_caps(index=view["attributes"]["title"], fields="*")["fields"])
        missing = fields - mapped
        assert not missing, f"{obj['type']} {obj['id']} names unmapped fields {sorted(missing)}"
        checked += len(fields)
    assert checked > 40


def test_kibana_load_and_space_call_the_saved_objects_spaces_and_roles_apis(
    rsettings: Settings, webhooks: WebhookSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`kibana load --tenant red` posts the NDJSON (rewritten for red) to the space's import API with the
    xsrf header; `kibana space` creates the space and a role naming exactly red's indices."""
    monkeypatch.setenv("SOCPIPE_INDEX_PREFIX", rsettings.index_prefix)
    monkeypatch.setenv("SOCPIPE_KIBANA_URL", f"http://127.0.0.1:{webhooks.port}")
    monkeypatch.setenv("SOCPIPE_TENANTS_FILE", str(rsettings.tenants_file))
    get_settings.cache_clear()
    try:
        loaded = CliRunner().invoke(cli, ["kibana", "load", "--tenant", "red"])
        spaced = CliRunner().invoke(cli, ["kibana", "space", "--tenant", "red"])
    finally:
        get_settings.cache_clear()
    assert loaded.exit_code == 0, loaded.output
    assert "imported 12 saved objects into space red" in loaded.output
    [upload, *_] = webhooks.requests
    assert upload.path == "/s/red/api/saved_objects/_import" and upload.headers["kbn-xsrf"]
    assert upload.headers["content-type"].startswith("multipart/form-data")
    assert tenant_indices(rsettings, "red").incidents.encode() in upload.body
    assert not re.search(rb"socpipe-incidents-\*", upload.body)
    assert spaced.exit_code == 0, spaced.output
    assert "/api/spaces/space" in [r.path for r in webhooks.requests]
    role = next(r for r in webhooks.requests if r.path == "/api/security/role/socpipe-client-red")
    assert f'"{rsettings.index_prefix}-evidence-red"'.encode() in role.body and b"*" not in role.body
