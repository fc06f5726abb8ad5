"""Export manifests as external anchors of the live evidence chain (`evidence verify --anchor`), on real
Elasticsearch: a rewrite of the whole chain, consistent enough for the plain verify, is caught."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from click.testing import Result
from elasticsearch import Elasticsearch
from responder_helpers import detection, inbound

from responders.evidence.audit import manifest_path, verify_live
from responders.evidence.chain import CHAIN_HEAD_ID
from responders.evidence.documents import evidence_doc, record_id
from responders.evidence.verify import live_records
from responders.worker import Responders
from schemas.evidence import GENESIS_HASH
from socpipe.es import tenant_indices
from socpipe.settings import Settings

pytestmark = pytest.mark.elasticsearch


def _export(socpipe: Callable[..., Result], tenant: str, out: Path) -> dict:
    done = socpipe("evidence", "export", "--tenant", tenant, "--out", str(out))
    assert done.exit_code == 0, done.output
    return dict(orjson.loads(manifest_path(out).read_bytes()))


def _rewrite_from(es: Elasticsearch, settings: Settings, tenant: str, start: int) -> None:
    """What an attacker with write access does: alter the record at `start`, then re-link and re-seal
    every record after it and rewrite the chain head (its last hash and its block's copies) to match."""
    evidence = tenant_indices(settings, tenant).evidence
    state = tenant_indices(settings, tenant).state
    records = list(live_records(es, settings, tenant))
    previous = records[start - 1].content_hash if start else GENESIS_HASH
    rewritten = {}
    for record in records[start:]:
        details = {**record.details, "forged": True} if record.sequence == start else record.details
        new = record.model_copy(update={"details": details, "previous_hash": previous}).sealed()
        es.index(index=evidence, id=record_id(tenant, new.sequence), document=evidence_doc(new))
        rewritten[new.sequence] = new
        previous = new.content_hash
    head = es.get(index=state, id=CHAIN_HEAD_ID)["_source"]
    block = [rewritten.get(r["sequence"]) for r in head["block"]["records"]]
    head["block"]["records"] = [
        r.model_dump(mode="json") if r else old
        for r, old in zip(block, head["block"]["records"], strict=True)
    ]
    es.index(index=state, id=CHAIN_HEAD_ID, document={**head, "last_hash": previous}, refresh=True)
    es.indices.refresh(index=evidence)


def test_export_manifests_carry_an_anchor_of_the_chain_head(
    socpipe: Callable[..., Result], responders: Responders, tmp_path: Path
) -> None:
    """The manifest names tenant, sequence and record hash of the head's last record, and when."""
    responders.stage().process(inbound([detection(1), detection(2)]))
    manifest = _export(socpipe, "red", tmp_path / "red.jsonl")
    anchor = manifest["anchor"]
    last = orjson.loads((tmp_path / "red.jsonl").read_bytes().splitlines()[-1])
    assert anchor["tenant"] == "red" and anchor["at"]
    assert (anchor["sequence"], anchor["hash"]) == (last["sequence"], last["content_hash"])


def test_a_consistent_rewrite_passes_the_plain_verify_and_fails_the_anchored_one_naming_the_anchor(
    socpipe: Callable[..., Result],
    responders: Responders,
    es: Elasticsearch,
    rsettings: Settings,
    tmp_path: Path,
) -> None:
    """Two exports (a, then more records, then b); the chain is then rewritten from a record after a's
    anchor and before b's, every hash recomputed: plain verify says OK, `--anchor a --anchor b` exits 1
    and names b (a still holds); rewritten from the start, it names a, the first that no longer holds."""
    stage = responders.stage()
    stage.process(inbound([detection(1), detection(2, host="ws-2")]))
    a = _export(socpipe, "red", tmp_path / "a.jsonl")
    stage.process(inbound([detection(3, host="ws-3"), detection(4, host="ws-4")], start_offset=2))
    b = _export(socpipe, "red", tmp_path / "b.jsonl")
    assert a["anchor"]["sequence"] < b["anchor"]["sequence"]
    anchors = ["--anchor", str(manifest_path(tmp_path / "a.jsonl"))]
    anchors += ["--anchor", str(manifest_path(tmp_path / "b.jsonl"))]
    assert socpipe("evidence", "verify", "--tenant", "red", *anchors).exit_code == 0

    _rewrite_from(es, rsettings, "red", a["anchor"]["sequence"] + 1)
    assert verify_live(es, rsettings, "red").ok
    plain = socpipe("evidence", "verify", "--tenant", "red")
    assert plain.exit_code == 0 and plain.output.startswith("OK"), plain.output
    anchored = socpipe("evidence", "verify", "--tenant", "red", *anchors)
    assert anchored.exit_code == 1, anchored.output
    [broken] = [line for line in anchored.output.splitlines() if line.startswith("BROKEN")]
    assert "b.jsonl.manifest.json" in broken and "a.jsonl" not in broken
    assert f"sequence {b['anchor']['sequence']}" in broken and "no longer holds" in broken

    _rewrite_from(es, rsettings, "red", 0)
    assert verify_live(es, rsettings, "red").ok
    anchored = socpipe("evidence", "verify", "--tenant", "red", *anchors[2:], *anchors[:2])  # b first
    [broken] = [line for line in anchored.output.splitlines() if line.startswith("BROKEN")]
    assert anchored.exit_code == 1 and "a.jsonl.manifest.json" in broken


def test_a_chain_cut_short_and_resealed_fails_the_anchor(
    socpipe: Callable[..., Result],
    responders: Responders,
    es: Elasticsearch,
    rsettings: Settings,
    tmp_path: Path,
) -> None:
    """The newest records deleted and the head moved back to match (plain verify passes): the anchor
    taken before names its record as gone."""
    responders.stage().process(inbound([detection(1), detection(2, host="ws-2")]))
    a = _export(socpipe, "red", tmp_path / "a.jsonl")
    kept = a["anchor"]["sequence"] - 1
    records = list(live_records(es, rsettings, "red"))
    for record in records[kept + 1 :]:
        es.delete(index=tenant_indices(rsettings, "red").evidence, id=record_id("red", record.sequence))
    state = tenant_indices(rsettings, "red").state
    head = es.get(index=state, id=CHAIN_HEAD_ID)["_source"]
    head |= {"next_sequence": kept + 1, "last_hash": records[kept].content_hash, "block": None}
    es.index(index=state, id=CHAIN_HEAD_ID, document=head, refresh=True)
    assert verify_live(es, rsettings, "red").ok
    anchored = socpipe(
        "evidence", "verify", "--tenant", "red", "--anchor", str(manifest_path(tmp_path / "a.jsonl"))
    )
    assert anchored.exit_code == 1 and "is gone from the chain" in anchored.output, anchored.output


def test_an_untouched_chain_holds_every_anchor(
    socpipe: Callable[..., Result], responders: Responders, tmp_path: Path
) -> None:
    """Three exports taken as the chain grew: all three anchors hold, and the command says so."""
    stage = responders.stage()
    paths = []
    for n in range(3):
        stage.process(inbound([detection(n, host=f"ws-{n}")], start_offset=n))
        _export(socpipe, "red", tmp_path / f"{n}.jsonl")
        paths += ["--anchor", str(manifest_path(tmp_path / f"{n}.jsonl"))]
    done = socpipe("evidence", "verify", "--tenant", "red", *paths)
    assert done.exit_code == 0, done.output
    assert "OK: 3 anchors hold" in done.output


def test_an_anchor_of_another_tenant_is_refused(
    socpipe: Callable[..., Result], responders: Responders, tmp_path: Path
) -> None:
    """Blue's manifest given to check red's chain: refused with a message naming both tenants."""
    responders.stage().process(inbound([detection(1), detection(2, "blue")]))
    _export(socpipe, "blue", tmp_path / "blue.jsonl")
    refused = socpipe(
        "evidence", "verify", "--tenant", "red", "--anchor", str(manifest_path(tmp_path / "blue.jsonl"))
    )
    assert refused.exit_code != 0
    assert "an anchor of tenant 'blue', not 'red'" in refused.output and "OK" not in refused.output
