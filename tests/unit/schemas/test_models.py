"""Schemas: deterministic ids, the flat view detectors match on, tenant ids, dead-letter bytes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from schemas import DeadLetter, Detection, EcsEvent, Envelope, EvidenceRecord, EvidenceType
from schemas.detection import RuleRef
from schemas.evidence import GENESIS_HASH


def _event(**original: object) -> EcsEvent:
    return EcsEvent.model_validate(
        {
            "@timestamp": "2026-11-30T08:00:00Z",
            "tenant": "acme",
            "host": {"name": "ws-1"},
            "process": {"executable": "C:\\x\\powershell.exe", "parent": {"executable": "C:\\x\\cmd.exe"}},
            "ingest": {"source": "file:/tmp/a", "parser": "json", "received_at": "2026-11-30T08:00:01Z"},
            "original": original,
        }
    )


def test_flat_view_has_ecs_dotted_names_and_original_names() -> None:
    """Detectors see ECS dotted names and the source's own names; the source's names win a clash."""
    flat = _event(Image="C:\\x\\orig.exe", **{"host.name": "from-original"}).flat()
    assert flat["process.executable"] == "C:\\x\\powershell.exe"
    assert flat["process.parent.executable"] == "C:\\x\\cmd.exe"
    assert flat["Image"] == "C:\\x\\orig.exe"
    assert flat["host.name"] == "from-original"
    assert flat["@timestamp"].startswith("2026-11-30T08:00:00")
    assert "ingest.source" not in flat


def test_event_id_is_deterministic_and_content_sensitive() -> None:
    """The same record gets the same id on replay; a different record gets another."""
    assert _event(EventID=1).event_id() == _event(EventID=1).event_id()
    assert _event(EventID=1).event_id() != _event(EventID=2).event_id()


def test_tenant_ids_are_safe_slugs() -> None:
    """A tenant id ends up in index names: upper case, dots and slashes are refused."""
    for bad in ("ACME", "a/b", "a.b", "", "-x"):
        with pytest.raises(ValidationError):
            Envelope[EcsEvent](kind="event", tenant=bad, id="x", payload=_event())


def test_detection_ids_depend_on_tenant_rule_and_event() -> None:
    """A replayed detection has the same id; another tenant's never collides with it."""
    a = Detection.make_id("acme", "rule-1", "ev-1")
    assert a == Detection.make_id("acme", "rule-1", "ev-1")
    assert a != Detection.make_id("globex", "rule-1", "ev-1")
    assert a != Detection.make_id("acme", "rule-2", "ev-1")


def test_attack_techniques_from_tags() -> None:
    """ATT&CK techniques are read from tags, tactics are left out."""
    rule = RuleRef(id="r", title="t", tags=["attack.execution", "attack.t1059.001", "attack.T1027"])
    assert rule.attack_techniques == ["T1027", "T1059.001"]


def test_dead_letter_round_trips_original_bytes() -> None:
    """Non-UTF-8 originals survive JSON serialisation byte for byte."""
    original = b"\xff\xfe not utf-8 \x00"
    dead = DeadLetter(reason="r", stage="ingest", error_type="UnicodeDecodeError", original=original)
    assert DeadLetter.model_validate_json(dead.model_dump_json()).original == original


def test_evidence_hash_covers_every_field() -> None:
    """Changing any field of a sealed evidence record changes its hash."""
    record = EvidenceRecord(
        tenant="acme",
        sequence=0,
        record_type=EvidenceType.detection,
        subject_id="d1",
        occurred_at=datetime(2026, 11, 30, tzinfo=UTC),
        controls=["SOC2:CC7.2"],
        previous_hash=GENESIS_HASH,
    ).sealed()
    assert record.content_hash == record.compute_hash()
    altered = record.model_copy(update={"controls": ["SOC2:CC7.3"]})
    assert altered.compute_hash() != record.content_hash
