"""The detector stage without a bus: real rules from rules/sigma on the shipped sample events."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from detectors.build import build_engine
from detectors.detector import Detector
from detectors.heuristics.config import load_config
from detectors.worker import DetectionEnvelope, DetectorStage
from schemas import EcsEvent, Envelope, Topics
from schemas.contribution import Contribution
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


def _stage(heuristics: bool = False) -> DetectorStage:
    return DetectorStage(
        Detector(build_engine(load_settings()), load_config() if heuristics else None), Topics()
    )


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


def test_contributions_are_keyed_by_tenant_component_and_state_key() -> None:
    """With heuristics on, the stateless stage publishes each event's contributions to the repartition
    topic, keyed by tenant, component and what the state is kept under, and holds no state itself."""
    lines = (samples_dir() / "acme-windows.jsonl").read_text().splitlines()
    stage = _stage(heuristics=True)
    records = _inbound("acme", lines)
    output = stage.process(records)
    published = [m for m in output.messages if m.topic == Topics().contributions]
    assert published, "the sample's logons and services reach the heuristics"
    for message in published:
        contribution = Contribution.model_validate_json(message.value or b"")
        assert message.key == contribution.partition_key()
        assert message.key.startswith(b"acme|heuristic|" + contribution.name.encode() + b"|")
        assert contribution.origin is not None and contribution.origin.topic == "events.ecs"
        assert "event.original" not in (contribution.event or {})
    # A replay publishes the same contributions under the same keys: nothing was kept between the runs.
    again = _stage(heuristics=True).process(records).messages
    assert [(m.topic, m.key) for m in again] == [(m.topic, m.key) for m in output.messages]
    replayed = [
        Contribution.model_validate_json(m.value or b"") for m in again if m.topic == Topics().contributions
    ]
    assert replayed == [Contribution.model_validate_json(m.value or b"") for m in published]
