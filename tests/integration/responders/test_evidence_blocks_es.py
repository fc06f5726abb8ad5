"""Block appends to the evidence chain against real Elasticsearch: crashes, races, replays, forks."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from responder_helpers import T0, count, detection, inbound, sources

from responders.evidence.chain import CHAIN_HEAD_ID, ChainForkError, ChainWriter, read_head
from responders.evidence.claims import Claims
from responders.evidence.documents import evidence_doc, record_id
from responders.evidence.recorder import EvidenceItem, EvidenceStore, key_doc_id
from responders.evidence.verify import verify_live
from responders.worker import Responders
from schemas.evidence import EvidenceRecord, EvidenceType
from socpipe.es import tenant_indices
from socpipe.settings import Settings

pytestmark = pytest.mark.elasticsearch


class WorkerDiedError(RuntimeError):
    """The simulated death of a worker."""


class CrashingChain(ChainWriter):
    """Dies once, after its block claim (the head write): having created the first `written` records."""

    def __init__(self, *args: Any, written: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.written = written
        self.armed = True

    def _write(self, tenant: str, creates: list[EvidenceRecord], keys: list[EvidenceRecord]) -> None:
        if self.armed:
            self.armed = False
            if self.written:
                super()._write(tenant, creates[: self.written], keys[: self.written])
            raise WorkerDiedError("worker died after claiming its block")
        super()._write(tenant, creates, keys)


class CountingChain(ChainWriter):
    """Counts the block claims it lost to another writer."""

    lost = 0

    def _claim(self, tenant: str, head: Any, records: list[EvidenceRecord]) -> Any:
        claimed = super()._claim(tenant, head, records)
        if claimed is None:
            self.lost += 1
        return claimed


def _item(key: str, minutes: int = 0) -> EvidenceItem:
    return EvidenceItem(
        key=key,
        record_type=EvidenceType.triage_action,
        subject_id=key,
        occurred_at=T0 + timedelta(minutes=minutes),
        details={"k": key},
    )


def _store(
    responders: Responders,
    owner: str,
    *,
    timeout_s: float = 60.0,
    chain: type[ChainWriter] = ChainWriter,
    **chain_args: Any,
) -> EvidenceStore:
    claims = Claims(responders.es, owner=owner, timeout_s=timeout_s)
    writer = chain(responders.es, responders.settings, claims.stamp, **chain_args)
    return EvidenceStore(responders.es, responders.settings, responders.config.controls, claims, writer)


def _keys(es: Elasticsearch, settings: Settings, tenant: str) -> list[str]:
    return [s["evidence"]["evidence_key"] for s in sources(es, settings, "evidence", tenant)]


@pytest.mark.parametrize("written", [0, 3])
def test_a_crash_after_the_block_claim_is_completed_by_the_next_worker(
    responders: Responders, es: Elasticsearch, rsettings: Settings, written: int
) -> None:
    """A worker dies after its head write, having created none or 3 of its 8 records: verify names the
    missing tail as possibly the head's unfinished block; the next worker (another owner, keys' claims
    still fresh) completes the block before its own, so the chain is whole and verifies, and replaying the
    dead worker's items writes nothing and does not wait for their claims to go stale."""
    store = _store(responders, "first")
    store.record("red", [_item("before")])
    dying = _store(responders, "dying", chain=CrashingChain, written=written)
    batch = [_item(f"lost-{i}", i) for i in range(8)]
    with pytest.raises(WorkerDiedError):
        dying.record("red", batch)
    assert count(es, rsettings, "evidence", "red") == 1 + written
    broken = verify_live(es, rsettings, "red", settle_s=0.05).first_break
    assert broken is not None and broken.sequence == 1 + written and "not yet written" in broken.problem

    second = _store(responders, "second")  # a fresh process: nothing cached
    started = time.monotonic()
    assert second.record("red", batch) == []  # the replay: the completed block holds every key
    assert time.monotonic() - started < 30  # the dead worker's claims (60 s) were not waited for
    assert [r.evidence_key for r in second.record("red", [_item("after")])] == ["after"]
    result = verify_live(es, rsettings, "red")
    assert result.ok, result.first_break
    keys = _keys(es, rsettings, "red")
    assert result.checked == len(keys) == len(set(keys)) == 10


def test_a_crash_after_the_key_claims_but_before_the_block_is_recovered_once(
    responders: Responders, es: Elasticsearch, rsettings: Settings
) -> None:
    """A worker dies after claiming its keys but before its head write: nothing of it is in the chain;
    after the claim timeout another worker takes the keys over and records each exactly once."""

    class DiesBeforeClaim(ChainWriter):
        def _claim(self, tenant: str, head: Any, records: list[EvidenceRecord]) -> Any:
            raise WorkerDiedError("worker died before its block claim")

    with pytest.raises(WorkerDiedError):
        _store(responders, "dying", chain=DiesBeforeClaim).record("red", [_item(f"k{i}") for i in range(4)])
    assert count(es, rsettings, "evidence", "red") == 0 and verify_live(es, rsettings, "red").ok
    later = _store(responders, "later", timeout_s=0.5)
    written = later.record("red", [_item(f"k{i}") for i in range(4)])
    assert [r.evidence_key for r in written] == ["k0", "k1", "k2", "k3"]
    assert later.record("red", [_item(f"k{i}") for i in range(4)]) == []
    assert verify_live(es, rsettings, "red").ok and sorted(_keys(es, rsettings, "red")) == [
        "k0",
        "k1",
        "k2",
        "k3",
    ]


def test_a_stale_head_loses_its_claim_and_chains_after_the_winner(
    responders: Responders, es: Elasticsearch, rsettings: Settings
) -> None:
    """Worker A's cached head is out of date once B has appended: A's versioned head write is refused, and
    A re-seals its block after B's, so the three blocks follow each other with no gap and no fork."""
    a = _store(responders, "a", chain=CountingChain)
    b = _store(responders, "b")
    a.record("red", [_item(f"a1-{i}") for i in range(5)])
    b.record("red", [_item(f"b-{i}") for i in range(4)])
    a.record("red", [_item(f"a2-{i}") for i in range(3)])
    assert isinstance(a.chain, CountingChain) and a.chain.lost == 1
    result = verify_live(es, rsettings, "red")
    assert result.ok and result.checked == 12
    by_sequence = {
        s["evidence"]["sequence"]: s["evidence"]["evidence_key"]
        for s in sources(es, rsettings, "evidence", "red")
    }
    assert [by_sequence[i][:2] for i in range(12)] == ["a1"] * 5 + ["b-"] * 4 + ["a2"] * 3
    assert read_head(es, rsettings, "red").next_sequence == 12


def test_two_workers_racing_batches_on_one_tenant_make_one_unforked_chain(
    responders: Responders, es: Elasticsearch, rsettings: Settings
) -> None:
    """Two workers, started together batch after batch (a barrier), append to one tenant, half of their
    keys shared: one chain, numbers 0..n-1 each held once, every link right, every key recorded once, and
    no worker waits for the other's claims to go stale (60 s) when each got part of a batch's keys."""
    workers = [_store(responders, f"w{i}", chain=CountingChain) for i in range(2)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            for batch in range(8):
                barrier.wait(timeout=60)
                workers[i].record(
                    "red",
                    [_item(f"own-{i}-{batch}-{j}") for j in range(20)]
                    + [_item(f"shared-{batch}-{j}") for j in range(20)],
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert errors == []
    assert time.monotonic() - started < 50
    result = verify_live(es, rsettings, "red")
    assert result.ok, result.first_break
    keys = _keys(es, rsettings, "red")
    assert result.checked == len(keys) == len(set(keys)) == 2 * 8 * 20 + 8 * 20
    head = es.get(index=tenant_indices(rsettings, "red").state, id=CHAIN_HEAD_ID)["_source"]
    assert head["next_sequence"] == result.checked and head["last_hash"] == result.last_hash


def test_a_worker_writes_its_own_keys_before_waiting_for_anothers(
    responders: Responders, es: Elasticsearch, rsettings: Settings
) -> None:
    """With one of its keys freshly claimed by another worker, a writer first appends the rest (so that
    other worker, were it waiting for these, could go on: no deadlock until the claim timeout), then waits;
    when the other claim goes away it writes that key too, each key once."""
    state = tenant_indices(rsettings, "red").state
    held = key_doc_id("k2")
    fresh = {"owner": "other", "at": datetime.now(UTC).isoformat()}
    es.create(index=state, id=held, document={"kind": "evidence_key", "key": "k2", "claim": fresh})
    store = _store(responders, "w")
    done: list[list[EvidenceRecord]] = []
    writer = threading.Thread(
        target=lambda: done.append(store.record("red", [_item(f"k{i}") for i in range(4)]))
    )
    writer.start()
    deadline = time.monotonic() + 20
    while count(es, rsettings, "evidence", "red") < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sorted(_keys(es, rsettings, "red")) == ["k0", "k1", "k3"] and writer.is_alive()
    es.delete(index=state, id=held)  # the other worker gave up its claim
    writer.join(timeout=20)
    assert [[r.evidence_key for r in records] for records in done] == [["k0", "k1", "k3", "k2"]]
    assert verify_live(es, rsettings, "red").ok


def test_replaying_a_batch_writes_no_new_records(
    responders: Responders, es: Elasticsearch, rsettings: Settings
) -> None:
    """The stage's batch processed again, by the same worker and by a restarted one (nothing cached):
    the same records, the same chain head, the chain verifies."""
    batch = inbound([detection(i, host=f"ws-{i % 3}") for i in range(30)] + [detection(40, "blue")])
    responders.stage().process(batch)
    records = {t: count(es, rsettings, "evidence", t) for t in ("red", "blue")}
    heads = {t: read_head(es, rsettings, t).seq_no for t in ("red", "blue")}
    assert records["red"] == 30 + 3 + 6  # detections, incident openings, 3 x (email + webhook) notices
    responders.stage().process(batch)
    restarted = Responders(rsettings)
    try:
        restarted.stage().process(batch)
    finally:
        restarted.close()
    for tenant in ("red", "blue"):
        assert count(es, rsettings, "evidence", tenant) == records[tenant]
        assert read_head(es, rsettings, tenant).seq_no == heads[tenant]
        assert verify_live(es, rsettings, tenant).ok


def test_a_record_written_outside_the_protocol_is_a_fork_not_overwritten(
    responders: Responders, es: Elasticsearch, rsettings: Settings
) -> None:
    """A record created under a number the head's block holds, with other contents (an old responder
    during an upgrade), stops the writer with ChainForkError; the next worker stops too, nothing hidden."""

    class Intruder(ChainWriter):
        def _write(self, tenant: str, creates: list[EvidenceRecord], keys: list[EvidenceRecord]) -> None:
            other = creates[1].model_copy(update={"subject_id": "someone else"}).sealed()
            es.create(
                index=tenant_indices(rsettings, "red").evidence,
                id=record_id(tenant, other.sequence),
                document=evidence_doc(other),
            )
            super()._write(tenant, creates, keys)

    with pytest.raises(ChainForkError, match="sequence 1"):
        _store(responders, "w", chain=Intruder).record("red", [_item(f"k{i}") for i in range(3)])
    with pytest.raises(ChainForkError):
        _store(responders, "next").record("red", [_item("later")])


def test_records_past_an_old_style_head_are_chained_after(
    responders: Responders, es: Elasticsearch, rsettings: Settings
) -> None:
    """A head in the format before blocks was advanced after its records, so a crash could leave records
    past it: the next block starts after the last record actually stored, and the chain verifies."""
    _store(responders, "old").record("red", [_item(f"k{i}") for i in range(5)])
    first = sources(es, rsettings, "evidence", "red")
    hash_of = {s["evidence"]["sequence"]: s["evidence"]["content_hash"] for s in first}
    es.index(
        index=tenant_indices(rsettings, "red").state,
        id=CHAIN_HEAD_ID,
        document={"kind": "chain_head", "next_sequence": 2, "last_hash": hash_of[1]},
    )
    written = _store(responders, "new").record("red", [_item("k5")])
    assert [r.sequence for r in written] == [5]
    assert verify_live(es, rsettings, "red").ok


def test_verify_names_a_record_past_the_head_and_a_resealed_last_record(
    responders: Responders, es: Elasticsearch, rsettings: Settings
) -> None:
    """Both pass the links alone: a record appended past the numbers the head handed out (red) is named
    as inserted; the newest record altered and resealed (blue) differs from the head's copy of it."""
    store = _store(responders, "w")
    for tenant in ("red", "blue"):
        store.record(tenant, [_item(f"k{i}") for i in range(4)])
    red = tenant_indices(rsettings, "red").evidence
    last = EvidenceRecord.model_validate(es.get(index=red, id=record_id("red", 3))["_source"]["evidence"])
    extra = last.model_copy(
        update={"sequence": 4, "previous_hash": last.content_hash, "subject_id": "x"}
    ).sealed()
    es.create(index=red, id=record_id("red", 4), document=evidence_doc(extra))
    blue = tenant_indices(rsettings, "blue").evidence
    doc = es.get(index=blue, id=record_id("blue", 3))["_source"]
    forged = EvidenceRecord.model_validate(doc["evidence"]).model_copy(update={"details": {"k": "forged"}})
    es.index(index=blue, id=record_id("blue", 3), document=evidence_doc(forged.sealed()))

    inserted = verify_live(es, rsettings, "red").first_break
    assert inserted is not None and inserted.sequence == 4 and "inserted" in inserted.problem
    resealed = verify_live(es, rsettings, "blue").first_break
    assert resealed is not None and resealed.sequence == 3 and "head's copy" in resealed.problem


def test_evidence_settle_completes_a_crashed_block_from_the_command_line(
    responders: Responders, es: Elasticsearch, rsettings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`socpipe evidence settle` writes the block a dead worker claimed, so the live chain verifies at once
    instead of on the tenant's next batch; before it, `evidence verify` exits 1."""
    from click.testing import CliRunner

    from cli.main import cli
    from socpipe.settings import get_settings

    _store(responders, "first").record("red", [_item("before")])
    with pytest.raises(WorkerDiedError):
        _store(responders, "dying", chain=CrashingChain, written=2).record(
            "red", [_item(f"lost-{i}", i) for i in range(5)]
        )
    monkeypatch.setenv("SOCPIPE_INDEX_PREFIX", rsettings.index_prefix)
    monkeypatch.setenv("ELASTICSEARCH_URL", rsettings.elasticsearch_url)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        before = runner.invoke(cli, ["evidence", "verify", "--tenant", "red"])
        assert before.exit_code == 1 and "BROKEN" in before.output
        settled = runner.invoke(cli, ["evidence", "settle", "--tenant", "red"])
        assert settled.exit_code == 0, settled.output
        assert "6 records" in settled.output and "chain intact" in settled.output
    finally:
        get_settings.cache_clear()
    assert verify_live(es, rsettings, "red").ok
    assert count(es, rsettings, "evidence", "red") == 6
