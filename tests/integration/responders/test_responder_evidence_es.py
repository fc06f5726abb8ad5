"""The evidence store and the auditors' commands against real Elasticsearch."""

from __future__ import annotations

import csv
import io
import threading
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from elasticsearch import Elasticsearch
from responder_helpers import T0, count, detection, inbound, sources

from cli.main import cli
from responders.evidence.audit import export, manifest_path, verify_export, verify_live
from responders.evidence.claims import Claims
from responders.evidence.recorder import EvidenceItem, EvidenceStore, key_doc_id, record_id
from responders.worker import Responders
from schemas.evidence import EvidenceType
from socpipe.es import tenant_indices
from socpipe.settings import Settings, get_settings

pytestmark = pytest.mark.elasticsearch


def _item(key: str, minutes: int = 0) -> EvidenceItem:
    return EvidenceItem(
        key=key,
        record_type=EvidenceType.triage_action,
        subject_id=key,
        occurred_at=T0 + timedelta(minutes=minutes),
        details={"k": key},
    )


def _store(responders: Responders, owner: str, timeout_s: float = 5.0) -> EvidenceStore:
    claims = Claims(responders.es, owner=owner, timeout_s=timeout_s)
    return EvidenceStore(responders.es, responders.settings, responders.config.controls, claims)


def test_concurrent_writers_never_fork_the_chain_nor_write_a_key_twice(
    responders: Responders, es: Elasticsearch, rsettings: Settings
) -> None:
    """Four writers append at once, half of their keys shared: every sequence number has one record, each
    links to the one before, and each key is recorded exactly once."""
    stores = [_store(responders, f"w{i}") for i in range(4)]
    errors: list[BaseException] = []

    def write(i: int) -> None:
        try:
            for batch in range(5):
                stores[i].record(
                    "red",
                    [_item(f"own-{i}-{batch}-{j}") for j in range(3)]
                    + [_item(f"shared-{batch}-{j}") for j in range(3)],
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    result = verify_live(es, rsettings, "red")
    assert result.ok, result.first_break
    keys = [s["evidence"]["evidence_key"] for s in sources(es, rsettings, "evidence", "red")]
    assert len(keys) == len(set(keys)) == 4 * 15 + 15


def test_a_crash_between_claim_and_record_is_recovered_without_duplicates(
    responders: Responders, es: Elasticsearch, rsettings: Settings
) -> None:
    """A key claimed by a dead writer whose record was written is marked done, not written again; one
    whose record was not written gets it, after the claim timeout."""
    store = _store(responders, "first")
    store.record("red", [_item("written")])
    state = tenant_indices(rsettings, "red").state
    stale = {"kind": "evidence_key", "claim": {"owner": "dead", "at": "2020-01-01T00:00:00+00:00"}}
    es.index(index=state, id=key_doc_id("written"), document={**stale, "key": "written"})  # as if crashed
    es.index(index=state, id=key_doc_id("lost"), document={**stale, "key": "lost"})
    written = _store(responders, "second", timeout_s=1).record("red", [_item("written"), _item("lost")])
    assert [r.evidence_key for r in written] == ["lost"]
    assert count(es, rsettings, "evidence", "red") == 2 and verify_live(es, rsettings, "red").ok


def test_verify_names_an_altered_a_deleted_and_a_truncated_record(
    responders: Responders, es: Elasticsearch, rsettings: Settings
) -> None:
    """Editing a stored record (red), deleting one in the middle (blue), deleting the newest (green):
    verify, in code and on the command line, names the first broken link of each."""
    store = _store(responders, "w")
    for tenant in ("red", "blue", "green"):
        store.record(tenant, [_item(f"k{i}") for i in range(6)])
        assert verify_live(es, rsettings, tenant).ok

    red = tenant_indices(rsettings, "red").evidence
    doc = es.get(index=red, id=record_id("red", 2))["_source"]
    doc["evidence"]["details"] = {"k": "something else"}
    es.index(index=red, id=record_id("red", 2), document=doc)
    es.delete(index=tenant_indices(rsettings, "blue").evidence, id=record_id("blue", 2))
    es.delete(index=tenant_indices(rsettings, "green").evidence, id=record_id("green", 5))

    expected = {"red": (2, "altered"), "blue": (2, "missing"), "green": (5, "tail deleted")}
    for tenant, (sequence, problem) in expected.items():
        broken = verify_live(es, rsettings, tenant).first_break
        assert broken is not None and broken.sequence == sequence and problem in broken.problem, (
            tenant,
            broken,
        )

    env = {"SOCPIPE_INDEX_PREFIX": rsettings.index_prefix, "ELASTICSEARCH_URL": rsettings.elasticsearch_url}
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["evidence", "verify", "--tenant", "red"], env=env)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1 and "BROKEN" in result.output and "sequence 2" in result.output


def test_export_is_one_tenants_records_with_a_manifest_and_verifies(
    responders: Responders, es: Elasticsearch, rsettings: Settings, tmp_path: Path
) -> None:
    """Red's export holds only red's records (blue has some in the same period), filtered by control and
    time, with counts and hashes in the manifest; it verifies; an edited or removed line is named."""
    stage = responders.stage()
    stage.process(
        inbound([detection(1), detection(2, host="ws-9"), detection(3, "blue"), detection(4, "blue")])
    )
    responders.triage().act(
        sources(es, rsettings, "incidents", "red")[0]["incident"]["id"], "acknowledge", "ann", reason="mine"
    )
    out = tmp_path / "red.jsonl"
    manifest = export(es, rsettings, "red", out)
    lines = out.read_bytes().splitlines()
    assert manifest["records"] == len(lines) == count(es, rsettings, "evidence", "red")
    assert {orjson.loads(line)["tenant"] for line in lines} == {"red"}
    assert manifest["by_record_type"]["detection"] == 2 and manifest["by_record_type"]["triage_action"] == 1
    assert verify_export(out).ok

    gdpr = export(es, rsettings, "red", tmp_path / "gdpr.csv", control="GDPR", fmt="csv")
    assert gdpr["records"] == manifest["records"]  # every red record is about a personal-data incident
    triage = export(es, rsettings, "red", tmp_path / "t.csv", control="SOC2:CC7.4", fmt="csv")
    assert 0 < triage["records"] < manifest["records"] and verify_export(tmp_path / "t.csv").ok
    nothing = export(es, rsettings, "red", tmp_path / "none.jsonl", start=T0 + timedelta(days=3650))
    assert nothing["records"] == 0 and verify_export(tmp_path / "none.jsonl").ok

    edited = lines[:]
    edited[1] = edited[1].replace(b'"detection"', b'"incident_closed"', 1)
    out.write_bytes(b"\n".join(edited) + b"\n")
    broken = verify_export(out).first_break
    assert broken is not None and broken.sequence == orjson.loads(lines[1])["sequence"]
    out.write_bytes(b"\n".join(lines[:2] + lines[3:]) + b"\n")
    removed = verify_export(out).first_break
    assert removed is not None and removed.sequence == orjson.loads(lines[2])["sequence"]
    assert manifest_path(out).exists()


def test_export_and_verify_from_the_command_line(
    rsettings: Settings, responders: Responders, tmp_path: Path
) -> None:
    """`socpipe evidence export --tenant --from --to --control --format` then `socpipe evidence verify`."""
    responders.stage().process(inbound([detection(1), detection(2, "blue")]))
    env = {"SOCPIPE_INDEX_PREFIX": rsettings.index_prefix, "ELASTICSEARCH_URL": rsettings.elasticsearch_url}
    runner = CliRunner()
    out = tmp_path / "blue.csv"
    get_settings.cache_clear()
    try:
        exported = runner.invoke(
            cli,
            [
                "evidence",
                "export",
                "--tenant",
                "blue",
                "--from",
                "2020-01-01",
                "--to",
                "2100-01-01T00:00:00+00:00",
                "--control",
                "NIST-CSF-2.0:DE",
                "--format",
                "csv",
                "--out",
                str(out),
            ],
            env=env,
        )
        verified = runner.invoke(cli, ["evidence", "verify", str(out)], env=env)
    finally:
        get_settings.cache_clear()
    assert exported.exit_code == 0, exported.output
    assert "records of blue" in exported.output
    assert verified.exit_code == 0 and verified.output.startswith("OK"), verified.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert rows and {r["tenant"] for r in rows} == {"blue"}
    assert detection(1).id not in out.read_text()  # red's detection


def test_to_a_date_includes_that_whole_day_and_a_time_is_exact(
    rsettings: Settings, responders: Responders, tmp_path: Path
) -> None:
    """`--to 2026-11-30` exports the detection evidence of 2026-11-30 08:01 (a date is the whole day,
    not its first instant, so the README's `--to 2026-12-31` keeps the last day); `--to` the detection's
    own time includes it, a minute earlier does not; the manifest says which bound it used."""
    detected = detection(1, "blue").model_copy(update={"detected_at": T0 + timedelta(minutes=1)})
    responders.stage().process(inbound([detected]))  # its evidence occurred when it was detected
    env = {"SOCPIPE_INDEX_PREFIX": rsettings.index_prefix, "ELASTICSEARCH_URL": rsettings.elasticsearch_url}

    def detections_up_to(to: str) -> int:
        out = tmp_path / f"{to.replace(':', '')}.jsonl"
        get_settings.cache_clear()
        try:
            args = ["evidence", "export", "--tenant", "blue", "--to", to, "--out", str(out)]
            result = CliRunner().invoke(cli, args, env=env)
        finally:
            get_settings.cache_clear()
        assert result.exit_code == 0, result.output
        manifest = orjson.loads(manifest_path(out).read_bytes())
        assert manifest["to_inclusive"] is ("T" in to)
        return int(manifest["by_record_type"].get("detection", 0))

    assert detections_up_to(f"{T0:%Y-%m-%d}") == 1
    assert detections_up_to((T0 + timedelta(minutes=1)).isoformat()) == 1
    assert detections_up_to(T0.isoformat()) == 0
