"""A tenant's indices made by an older socpipe take the fields added to the mappings since.

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
from responders.indices import MAPPINGS, ensure_templates, ensure_tenant
from socpipe.es import es_client, index_name
from socpipe.settings import Settings

pytestmark = pytest.mark.elasticsearch


def test_an_index_made_before_event_ref_received_at_accepts_detections_carrying_it(
    settings: Settings,
) -> None:
    """The detections index as socpipe made it before `event_ref.received_at`: after ensure_tenant, a
    detection with its receipt time is stored and searchable by it."""
    es = es_client(settings)
    try:
        index = index_name(settings, "detections", "acme")
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
