"""Tampering with stored evidence documents, against real Elasticsearch: the responder recomputes the
block it builds on before appending (17.4); every field of a document is covered or derived and checked
(17.5)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from responder_helpers import T0, detection, inbound, sources

from responders.evidence.chain import ChainForkError, ChainTamperedError
from responders.evidence.claims import Claims
from responders.evidence.documents import record_id
from responders.evidence.recorder import EvidenceItem, EvidenceStore
from responders.evidence.verify import verify_live
from responders.worker import Responders
from schemas.evidence import EvidenceType
from socpipe.es import tenant_indices
from socpipe.settings import Settings

pytestmark = pytest.mark.elasticsearch


def _item(key: str) -> EvidenceItem:
    return EvidenceItem(
        key=key, record_type=EvidenceType.triage_action, subject_id=key, occurred_at=T0, details={"k": key}
    )


def _store(responders: Responders, owner: str) -> EvidenceStore:
    claims = Claims(responders.es, owner=owner, timeout_s=60)
    return EvidenceStore(responders.es, responders.settings, responders.config.controls, claims)


def _tamper(
    es: Elasticsearch, settings: Settings, sequence: int, change: Callable[[dict[str, Any]], None]
) -> None:
    """Edit one stored document in place, its content_hash left as it was."""
    index, doc_id = tenant_indices(settings, "red").evidence, record_id("red", sequence)
    source = es.get(index=index, id=doc_id)["_source"]
    change(source)
    es.index(index=index, id=doc_id, document=source, refresh=True)


def _set_details(doc: dict[str, Any]) -> None:
    doc["evidence"]["details"]["k"] = "rewritten"


def test_a_record_altered_in_the_last_block_stops_the_writer_even_with_its_head_cached(
    responders: Responders, es: Elasticsearch, rsettings: Settings
) -> None:
    """A record of the head's last block edited with its content_hash kept: the writer that cached the head
    (and so compared nothing) recomputes the block, refuses to append, and a fresh writer refuses too."""
    store = _store(responders, "w")
    store.record("red", [_item(f"k{i}") for i in range(3)])
    _tamper(es, rsettings, 1, _set_details)
    with pytest.raises(ChainTamperedError, match="sequence 1: content does not match"):
        store.record("red", [_item("on top")])
    with pytest.raises(ChainTamperedError):
        _store(responders, "fresh").record("red", [_item("on top, again")])
    assert es.count(index=tenant_indices(rsettings, "red").evidence)["count"] == 3
    assert not verify_live(es, rsettings, "red").ok


def test_the_responder_dead_letters_a_tampered_tenant_and_appends_nothing(
    responders: Responders, es: Elasticsearch, rsettings: Settings
) -> None:
    """Through the stage: a detection for a tenant whose last evidence record was altered becomes a dead
    letter naming the chain, before any write: no detection, no incident change, no evidence on top."""
    stage = responders.stage()
    stage.process(inbound([detection(1)]))
    es.indices.refresh(index=tenant_indices(rsettings, "red").evidence)
    before = es.count(index=tenant_indices(rsettings, "red").evidence)["count"]
    _tamper(es, rsettings, before - 1, _set_details)
    output = stage.process(inbound([detection(2)], start_offset=1))
    [letter] = output.dead_letters
    assert (
        letter.error_type == "ChainTamperedError"
        and "evidence chain of tenant red is broken" in letter.reason
    )
    for kind, expected in (("evidence", before), ("detections", 1)):
        es.indices.refresh(index=tenant_indices(rsettings, "red").of(kind))
        assert es.count(index=tenant_indices(rsettings, "red").of(kind))["count"] == expected, kind
    [incident] = sources(es, rsettings, "incidents", "red")
    assert incident["incident"]["detection_count"] == 1  # the incident did not move on either


def _timestamp(doc: dict[str, Any]) -> None:
    doc["@timestamp"] = (T0 - timedelta(days=3)).isoformat()


def _organization(doc: dict[str, Any]) -> None:
    doc["organization"]["id"] = "blue"


def _action(doc: dict[str, Any]) -> None:
    doc["event"]["action"] = "incident_closed"


def _added(doc: dict[str, Any]) -> None:
    doc["message"] = "nothing happened here"


@pytest.mark.parametrize(
    ("change", "found"),
    [
        (_timestamp, "@timestamp"),
        (_organization, "organization"),
        (_action, "event"),
        (_added, "fields outside the hashed record were added (message)"),
    ],
)
def test_every_field_of_an_evidence_document_is_checked(
    responders: Responders,
    es: Elasticsearch,
    rsettings: Settings,
    change: Callable[[dict[str, Any]], None],
    found: str,
) -> None:
    """@timestamp, organization.id, event.action, a field added beside them or inside the record: verify
    reports the document at its sequence (the records before it sound), and the writer will not append."""
    store = _store(responders, "w")
    store.record("red", [_item(f"k{i}") for i in range(4)])
    _tamper(es, rsettings, 2, change)
    result = verify_live(es, rsettings, "red")
    assert result.first_break is not None and result.first_break.sequence == 2 and result.checked == 2
    assert found in result.first_break.problem
    if change is not _timestamp and change is not _organization and change is not _action:
        return  # those three are in the block too; one writer check per kind is enough
    with pytest.raises(ChainForkError, match=f"sequence 2: {found}"):
        store.record("red", [_item("on top")])
