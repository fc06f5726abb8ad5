"""A detection keeps its event all the way: the detector attaches it, the responder stores it in the
client-visible detections index (strict mapping) redacted by the tenant's policy."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from elasticsearch import Elasticsearch
from responder_helpers import sources

from detectors.build import build_engine
from detectors.detector import Detector
from detectors.worker import DetectorStage
from responders.redaction import REDACTED
from responders.worker import Responders
from schemas import EcsEvent, Envelope
from socpipe.bus import Inbound
from socpipe.es import tenant_indices
from socpipe.settings import Settings

pytestmark = pytest.mark.elasticsearch


def _event(tenant: str) -> Inbound:
    event = EcsEvent.model_validate(
        {
            "@timestamp": datetime(2026, 11, 30, 8, 0, tzinfo=UTC),
            "tenant": tenant,
            "host": {"name": "WS-9"},
            "user": {"name": "alice"},
            "process": {
                "name": "mimikatz.exe",
                "command_line": "mimikatz.exe privilege::debug sekurlsa::logonpasswords exit",
                "parent": {"name": "cmd.exe", "command_line": "cmd.exe /c run.bat alice"},
            },
            "ingest": {"source": "test", "parser": "windows", "received_at": datetime.now(UTC)},
            "original": {
                "EventID": 1,
                "Channel": "Microsoft-Windows-Sysmon/Operational",
                "Computer": "WS-9",
                "User": "alice",
                "CommandLine": "mimikatz.exe privilege::debug sekurlsa::logonpasswords exit",
            },
        }
    )
    envelope = Envelope[EcsEvent](kind="event", tenant=tenant, id=event.event_id(), payload=event)
    return Inbound("events.ecs", 0, 7, envelope.model_dump_json(by_alias=True).encode())


def test_the_stored_detection_carries_its_event_redacted_for_the_tenant(
    responders: Responders, es: Elasticsearch, rsettings: Settings
) -> None:
    """Red redacts `user`: its stored event has the process tree and command line, the user replaced
    and scrubbed from free text. Blue has no policy: its event is stored as the detector made it."""
    detector = DetectorStage(Detector(build_engine(rsettings), None), rsettings.topics)
    messages = [m for t in ("red", "blue") for m in detector.process([_event(t)]).messages]
    detections = [
        Inbound("detections", 0, i, m.value, m.key)
        for i, m in enumerate(messages)
        if m.topic == rsettings.topics.detections
    ]
    assert len(detections) == 2
    responders.stage().process(detections)

    (red,) = sources(es, rsettings, "detections", "red")
    event = red["detection"]["event"]
    assert event["host"] == {"name": "WS-9"}
    assert event["process"]["parent"]["name"] == "cmd.exe"
    assert "sekurlsa::logonpasswords" in event["process"]["command_line"]
    assert event["user"] == REDACTED and event["original"]["User"] == REDACTED
    assert event["process"]["parent"]["command_line"] == f"cmd.exe /c run.bat {REDACTED}"

    (blue,) = sources(es, rsettings, "detections", "blue")
    assert blue["detection"]["event"]["user"] == {"name": "alice"}
    assert blue["detection"]["event"]["process"]["parent"]["command_line"] == "cmd.exe /c run.bat alice"
    mapping = es.indices.get_mapping(index=tenant_indices(rsettings, "blue").detections)
    (only,) = mapping.body.values()
    assert only["mappings"]["properties"]["detection"]["properties"]["event"] == {
        "type": "object",
        "enabled": False,
    }
