"""Evidence records unreadable for a moment are an outage, not tampering (issue 17, long fault schedule).

After Elasticsearch was SIGKILLed and restarted, it answered while its shards still recovered (cluster
RED for about 13 s); the responder's multi-get of the chain's last block got per-document
`no_shard_available_action_exception` answers, took them for deleted records, and dead-lettered three
tenants' detections as tampered with (86 of 480 detections "lost" in the run). Reproduced on the real
node with the tenant's evidence index recreated with an allocation filter no node matches (its primary
stays unassigned: the same per-document error).
"""

from __future__ import annotations

import pytest
from elasticsearch import Elasticsearch
from responder_helpers import detection, inbound

from responders.worker import Responders
from socpipe.es import ShardsUnavailableError, mget_docs, tenant_indices
from socpipe.outage import ELASTICSEARCH, server_of
from socpipe.settings import Settings

pytestmark = pytest.mark.elasticsearch


def test_a_chain_whose_records_are_unreadable_waits_instead_of_stopping_the_tenant(
    rsettings: Settings, responders: Responders, es: Elasticsearch
) -> None:
    """The check before an append, and a batch, raise an Elasticsearch outage (which the worker loop
    waits out, then processes the batch again), never ChainTamperedError or dead letters."""
    responders.stage().process(inbound([detection(1)]))
    evidence = tenant_indices(rsettings, "red").evidence
    es.indices.delete(index=evidence)
    es.indices.create(
        index=evidence,
        settings={"index.routing.allocation.require._name": "no-such-node"},
        wait_for_active_shards="0",
    )
    # The worker's own chain head is cached: the check reads the last block's records (as in the run).
    with pytest.raises(ShardsUnavailableError) as check:
        responders.evidence.chain.check("red")
    assert server_of(check.value) == ELASTICSEARCH
    fresh = Responders(rsettings)  # no cached head: it reads the stored one, as after a restart
    try:
        with pytest.raises(ShardsUnavailableError):
            fresh.stage().process(inbound([detection(2)], start_offset=1))
    finally:
        fresh.close()


def test_a_document_of_a_missing_index_is_not_found_not_an_outage(es: Elasticsearch) -> None:
    """mget answers index_not_found_exception per document for an index that does not exist: that is
    "not found" (a tenant without evidence yet), as before."""
    [doc] = mget_docs(es, index="socpipe-no-such-index-for-this-test", ids=["x"])
    assert doc["found"] is False
