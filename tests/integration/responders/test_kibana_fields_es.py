"""The Kibana saved objects of a client's space against the real mappings of its indices.

Kibana itself cannot run here: the objects are validated offline, and every field they name must exist
in the index templates, as Elasticsearch's field capabilities report them for a tenant's indices.
The Kibana API calls are tested against a fake Kibana in tests/unit/responders/test_kibana_api.py.
"""

from __future__ import annotations

import pytest
from elasticsearch import Elasticsearch

from responders.kibana import data_view_of, for_deployment, read_objects, referenced_fields
from socpipe.settings import Settings

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
