"""The detector stage without a bus: real rules from rules/sigma on the shipped sample events."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from detectors.build import build_engine
from detectors.worker import DetectionEnvelope, DetectorStage
from schemas import EcsEvent, Envelope, Topics
from socpipe.bus import Inbound
from socpipe.paths import samples_dir
from socpipe.settings import load_settings


def _inbound(tenant: str, lines: list[str]) -> list[Inbound]:
    out = []
    for offset, line in enumerate(lines):
        record = json.loads(line)
        event = EcsEvent.model_validate(
            {
                "@timestamp": record["SystemTime"],
                "tenant": tenant,
                "host": {"name": record["Computer"]},
                "ingest": {"source": "test", "parser": "windows", "received_at": datetime.now(UTC)},
                "original": record,
            }
        )
        envelope = Envelope[EcsEvent](kind="event", tenant=tenant, id=event.event_id(), payload=event)
        out.append(Inbound("events.ecs", 0, offset, envelope.model_dump_json(by_alias=True).encode()))
    return out


def _stage() -> DetectorStage:
    return DetectorStage(build_engine(load_settings()), Topics())


def test_sample_intrusion_yields_the_expected_detections() -> None:
    """The acme sample fires each shipped rule on its attack events and never on the background."""
    lines = (samples_dir() / "acme-windows.jsonl").read_text().splitlines()
    output = _stage().process(_inbound("acme", lines))
    detections = [DetectionEnvelope.model_validate_json(m.value).payload for m in output.messages]
    titles = sorted(d.rule.title for d in detections)
    assert titles == sorted(
        [
            "Account Discovery With Whoami From An Office Or Script Host",
            "Encoded PowerShell Command Line",
            "Mimikatz Credential Dumping Command Line",
            "Mimikatz Credential Dumping Command Line",
            "Service Installed From A Temporary Or User Folder",
            "Security Event Log Cleared",
        ]
    )
    assert all(d.tenant == "acme" for d in detections)
    mimikatz = next(d for d in detections if d.rule.level == "critical")
    assert mimikatz.entity.host == "WS-ACME-02"
    assert "sekurlsa::logonpasswords" in json.dumps(mimikatz.matched) or "lsadump::sam" in json.dumps(
        mimikatz.matched
    )
    assert "T1003.001" in mimikatz.rule.attack_techniques
    assert not output.dead_letters


def test_replay_gives_the_same_detection_ids() -> None:
    """Processing the same records twice yields identical detection ids (idempotent downstream)."""
    lines = (samples_dir() / "globex-windows.jsonl").read_text().splitlines()
    first = [m.value for m in _stage().process(_inbound("globex", lines)).messages]
    second = [m.value for m in _stage().process(_inbound("globex", lines)).messages]
    ids = lambda values: [DetectionEnvelope.model_validate_json(v).id for v in values]  # noqa: E731
    assert len(first) == 1
    assert ids(first) == ids(second)


def test_invalid_message_is_dead_lettered_with_its_position() -> None:
    """A record that is not an event envelope goes to the dead letters with topic, partition and offset."""
    bad = Inbound("events.ecs", 2, 41, b'{"kind": "event", "tenant": "acme"}')
    output = _stage().process([bad])
    assert not output.messages
    [dead] = output.dead_letters
    assert dead.position.partition == 2 and dead.position.offset == 41
    assert dead.original == bad.value
    assert "invalid message" in dead.reason
