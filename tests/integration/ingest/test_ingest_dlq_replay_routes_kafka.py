"""`socpipe dlq replay` on real Kafka: each dead letter goes back to the input of the stage that refused
it, a failed client notice is not re-driven as a message, and a replayed letter is not replayed again."""

from __future__ import annotations

import subprocess

import pytest
from ingest_helpers import read_topic, socpipe_command, socpipe_env

from schemas.deadletter import DeadLetter, SourcePosition
from socpipe.bus import KafkaBus, Outbound
from socpipe.settings import Settings

pytestmark = pytest.mark.kafka


def _socpipe(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        socpipe_command(*args), env=socpipe_env(settings), capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def _letters(settings: Settings) -> list[DeadLetter]:
    t = settings.topics
    at = SourcePosition(topic=t.detections, partition=0, offset=7)
    return [
        # The responder worker refused a detection: it goes back to detections.
        DeadLetter(reason="boom", stage="responder", tenant="acme", error_type="ValueError", position=at,
                   original=b'{"detection": 1}', replay_topic=t.detections),
        # A letter from before replay_topic existed, from the detector: back to events.ecs.
        DeadLetter(reason="boom", stage="detector", tenant="acme", error_type="ValueError",
                   original=b'{"event": 2}'),
        # A client notice that gave up: no message to re-drive (`notice retry --include-failed` resends it).
        DeadLetter(reason="notice not delivered: relay down", stage="responder", tenant="acme",
                   error_type="NoticeDeliveryError", original=b'{"notice": 3}'),
    ]  # fmt: skip


def test_replay_routes_each_letter_to_its_stage_input_and_only_once(settings: Settings) -> None:
    """A plain `dlq replay` (as the README suggests) sends the responder letter to detections and the
    detector letter to events.ecs, nothing to events.raw, and skips the notice letter saying how to
    resend it; afterwards a `--dry-run` counts nothing left and a second replay re-drives nothing."""
    bus = KafkaBus(settings)
    bus.ensure_pipeline_topics()
    publisher = bus.publisher()
    try:
        publisher.send_all(
            Outbound(settings.topics.dlq, d.model_dump_json().encode()) for d in _letters(settings)
        )
        publisher.flush()
    finally:
        publisher.close()

    first = _socpipe(settings, "dlq", "replay")
    assert "replayed 2 dead letters, skipped 1" in first.stdout
    assert "notice retry --include-failed" in first.stderr

    assert [r.value for r in read_topic(settings, settings.topics.detections, at_least=1)] == [
        b'{"detection": 1}'
    ]
    assert [r.value for r in read_topic(settings, settings.topics.ecs, at_least=1)] == [b'{"event": 2}']
    assert read_topic(settings, settings.topics.raw) == []

    assert "would replay 0 dead letters, skipped 1" in _socpipe(settings, "dlq", "replay", "--dry-run").stdout
    assert "replayed 0 dead letters" in _socpipe(settings, "dlq", "replay").stdout
    assert len(read_topic(settings, settings.topics.detections)) == 1
    listing = _socpipe(settings, "dlq", "inspect").stderr
    assert "1 dead letters" in listing
    assert "3 dead letters" in _socpipe(settings, "dlq", "inspect", "--include-replayed").stderr
