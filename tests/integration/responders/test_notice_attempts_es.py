"""A notice's attempts add up over rounds in the notices index, even when two rounds of the same
notice overlap (a round that outlived its claim is taken over by a sweep): each round adds what it made
instead of writing its own total over the other's."""

from __future__ import annotations

import threading

import pytest
from elasticsearch import Elasticsearch

from responders.evidence.documents import notice_doc
from responders.notices.notifier import record_rounds
from responders.worker import Responders
from schemas.notice import Notice, NoticeStatus
from socpipe.es import tenant_indices
from socpipe.settings import Settings

pytestmark = pytest.mark.elasticsearch

T1, T2 = "2026-12-07T10:00:00+00:00", "2026-12-07T10:00:05+00:00"  # when each round claimed


def _notice(attempts: int, status: NoticeStatus = NoticeStatus.pending, nid: str = "n-overlap") -> Notice:
    return Notice(
        id=nid, tenant="red", incident_id="i-1", incident_state="open", channel="webhook",
        destination="https://red.example/hook", subject="s", status=status, attempts=attempts,
    )  # fmt: skip


def test_two_overlapping_rounds_of_one_notice_both_count(
    responders: Responders, rsettings: Settings, es: Elasticsearch
) -> None:
    """Both rounds read 3 attempts when they claimed the notice and each made 2 more; the second to
    finish failed where the first had sent: 7 attempts recorded, and the last writer's status."""
    index = tenant_indices(rsettings, "red").notices
    es.index(index=index, id="n-overlap", document=notice_doc(_notice(3)), refresh=True)
    first = record_rounds(es, index, [(_notice(5, NoticeStatus.sent), 3)], owner="a", claimed_at=T1)
    second = record_rounds(es, index, [(_notice(5, NoticeStatus.failed), 3)], owner="b", claimed_at=T2)
    assert first["n-overlap"].attempts == 5 and second["n-overlap"].attempts == 7
    stored = es.get(index=index, id="n-overlap")["_source"]
    assert stored["notice"]["attempts"] == 7 and stored["notice"]["status"] == "failed"
    assert stored["claim"] == {"owner": "b", "at": T2} and stored["organization"] == {"id": "red"}


def test_rounds_racing_on_many_notices_lose_no_attempt(
    responders: Responders, rsettings: Settings, es: Elasticsearch
) -> None:
    """Four threads record a round of one attempt on each of 20 notices at once: every write that
    lost the race (a version conflict) is read and made again, so each notice ends with 4."""
    index = tenant_indices(rsettings, "red").notices
    ids = [f"n-{k}" for k in range(20)]
    for nid in ids:
        es.index(index=index, id=nid, document=notice_doc(_notice(0, nid=nid)))
    es.indices.refresh(index=index)
    rounds = [(_notice(1, NoticeStatus.failed, nid), 0) for nid in ids]
    errors: list[BaseException] = []

    def one_round(owner: str) -> None:
        try:
            record_rounds(es, index, rounds, owner=owner, claimed_at=T1)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=one_round, args=(f"w{k}",)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    docs = es.mget(index=index, ids=ids)["docs"]
    assert {d["_id"]: d["_source"]["notice"]["attempts"] for d in docs} == dict.fromkeys(ids, 4)
