"""ensure_tenant: a tenant's indices and alias, and the fields added to the mappings since an index was made.

The mappings are strict, so a detection carrying a field its index does not map (even as null) is
refused: `ensure_tenant`, which every responder runs once per tenant, must add new fields to
indices that exist already.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
from responder_helpers import detection

from responders.evidence.documents import detection_doc
from responders.indices import CLIENT_KINDS, KINDS, MAPPINGS, ensure_templates, ensure_tenant
from socpipe.es import es_client, tenant_indices
from socpipe.settings import Settings

pytestmark = pytest.mark.elasticsearch


def test_an_index_made_before_event_ref_received_at_accepts_detections_carrying_it(
    settings: Settings,
) -> None:
    """The detections index as socpipe made it before `event_ref.received_at`: after ensure_tenant, a
    detection with its receipt time is stored and searchable by it."""
    es = es_client(settings)
    try:
        index = tenant_indices(settings, "acme").detections
        old = copy.deepcopy(MAPPINGS["detections"])
        del old["detection"]["properties"]["event_ref"]["properties"]["received_at"]
        # Before the templates: a template's mappings would be merged into the index's own.
        es.indices.create(index=index, mappings={"dynamic": "strict", "properties": old})
        ensure_templates(es, settings)

        ensure_tenant(es, settings, "acme")

        received = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
        found = detection(1, tenant="acme")
        found = found.model_copy(
            update={"event_ref": found.event_ref.model_copy(update={"received_at": received})}
        )
        es.index(index=index, id=found.id, document=detection_doc(found, "inc-1"), refresh=True)
        hits = es.search(index=index, query={"range": {"detection.event_ref.received_at": {"gte": received}}})
        assert [h["_id"] for h in hits["hits"]["hits"]] == [found.id]
    finally:
        indices = list(es.indices.get(index=f"{settings.index_prefix}-*", allow_no_indices=True))
        if indices:
            es.indices.delete(index=",".join(indices))
        es.close()


def test_ensure_tenant_makes_what_is_missing_and_keeps_what_is_there(settings: Settings) -> None:
    """Indices and the alias over the client-visible ones; an index deleted since is made again and
    joins the alias; a call on a complete tenant leaves it as it was."""
    es = es_client(settings)
    alias = tenant_indices(settings, "acme").alias
    client_indices = {tenant_indices(settings, "acme").of(kind) for kind in CLIENT_KINDS}
    try:
        ensure_templates(es, settings)
        ensure_tenant(es, settings, "acme")
        assert set(es.indices.get_alias(name=alias)) == client_indices
        es.indices.delete(index=tenant_indices(settings, "acme").notices)

        ensure_tenant(es, settings, "acme")
        ensure_tenant(es, settings, "acme")
        assert set(es.indices.get_alias(name=alias)) == client_indices
        assert set(es.indices.get(index=f"{settings.index_prefix}-*")) == {
            tenant_indices(settings, "acme").of(kind) for kind in KINDS
        }
    finally:
        indices = list(es.indices.get(index=f"{settings.index_prefix}-*", allow_no_indices=True))
        if indices:
            es.indices.delete(index=",".join(indices))
        es.close()
