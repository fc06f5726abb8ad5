"""A tenant whose evidence chain was tampered with, in one Kafka batch with another tenant: the other
tenant is processed and committed, the tampered one's detections wait in the dead-letter topic until the
chain is repaired and `socpipe dlq replay` re-drives them (real Kafka, real Elasticsearch)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
import structlog
from click.testing import CliRunner, Result
from elasticsearch import Elasticsearch
from responder_helpers import WebhookSink, count, detection, envelope_bytes, inbound, sources

from cli.main import cli
from responders.evidence.chain import read_head
from responders.evidence.documents import evidence_doc, record_id
from responders.evidence.verify import verify_live
from responders.worker import Responders
from schemas.deadletter import DeadLetter
from schemas.detection import Detection
from schemas.envelope import Envelope
from socpipe.bus import Inbound, KafkaBus, Outbound
from socpipe.es import tenant_indices
from socpipe.settings import Settings, get_settings
from socpipe.worker import StageOutput, WorkerStats, run_worker

pytestmark = [pytest.mark.kafka, pytest.mark.elasticsearch]

GROUP = "responders"


class _Recording:
    """The responder stage, remembering which tenants each batch held."""

    name = "responder"

    def __init__(self, responders: Responders) -> None:
        self.stage = responders.stage()
        self.batches: list[set[str]] = []

    def process(self, batch: Sequence[Inbound]) -> StageOutput:
        self.batches.append({(r.key or b"").decode() for r in batch})
        return self.stage.process(batch)


def _work(settings: Settings) -> tuple[WorkerStats, list[set[str]]]:
    """One responder worker (a new process, nothing cached) in GROUP until the topic is drained."""
    bus = KafkaBus(settings)
    responders = Responders(settings)
    stage = _Recording(responders)
    consumer = bus.consumer(GROUP, [settings.topics.detections])
    publisher = bus.publisher()
    try:
        stats = run_worker(
            stage,
            consumer,
            publisher,
            settings.topics.dlq,
            poll_timeout_ms=300,
            max_records=50,
            idle_polls_before_exit=6,
        )
    finally:
        consumer.close()
        publisher.close()
        responders.close()
    return stats, stage.batches


def _produce(settings: Settings, detections: list[Detection]) -> None:
    publisher = KafkaBus(settings).publisher()
    publisher.send_all(
        Outbound(settings.topics.detections, envelope_bytes(d), key=d.tenant.encode()) for d in detections
    )
    publisher.flush()
    publisher.close()


def _letters(settings: Settings, expected: int) -> list[DeadLetter]:
    reader = KafkaBus(settings).consumer("dlq-reader", [settings.topics.dlq])
    letters: list[DeadLetter] = []
    try:
        for _ in range(40):
            letters += [
                DeadLetter.model_validate_json(r.value)
                for records in reader.poll(timeout_ms=300).values()
                for r in records
            ]
            if len(letters) >= expected:
                break
    finally:
        reader.close()
    return letters


@pytest.fixture
def ksettings(rsettings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """One partition (so both tenants share the batch), and the environment the CLI reads."""
    configured = rsettings.model_copy(update={"topic_partitions": 1})
    KafkaBus(configured).ensure_pipeline_topics()
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": configured.kafka_bootstrap_servers,
        "ELASTICSEARCH_URL": configured.elasticsearch_url,
        "SOCPIPE_TOPIC_PREFIX": configured.topic_prefix,
        "SOCPIPE_INDEX_PREFIX": configured.index_prefix,
        "SOCPIPE_TENANTS_FILE": str(configured.tenants_file),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield configured
    get_settings.cache_clear()


def _cli(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _state(es: Elasticsearch, settings: Settings, tenant: str) -> dict[str, int]:
    return {k: count(es, settings, k, tenant) for k in ("incidents", "detections", "notices", "evidence")}


def test_a_tampered_chain_dead_letters_only_its_tenant_until_repaired_and_replayed(
    responders: Responders, ksettings: Settings, es: Elasticsearch, webhooks: WebhookSink
) -> None:
    """Red's last evidence record is replaced by an altered one (re-sealed, as a writer outside the
    protocol would). Then one batch holds new detections of red and blue: blue's incidents, detections
    and evidence land and its chain verifies; red's detections are in the dead-letter topic with a reason
    naming red and the fix, one error log line says so, nothing of red's is written, and the offsets are
    committed (the group reads nothing again). Once the record is restored, `socpipe evidence verify`
    passes and `socpipe dlq replay` re-drives red's detections: they land once; a second replay changes
    nothing and sends no notice again."""
    responders.stage().process(inbound([detection(0, "red"), detection(0, "blue")]))
    before = {t: _state(es, ksettings, t) for t in ("red", "blue")}
    original = read_head(es, ksettings, "red").block[-1]
    evidence_red = tenant_indices(ksettings, "red").evidence
    altered = original.model_copy(update={"subject_id": "tampered"}).sealed()
    es.index(index=evidence_red, id=record_id("red", original.sequence), document=evidence_doc(altered))

    batch = [detection(n, tenant, host=f"{tenant}-host-2") for n in (1, 2, 3) for tenant in ("red", "blue")]
    _produce(ksettings, batch)
    with structlog.testing.capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        stats, batches = _work(ksettings)
    assert stats.records == 6 and stats.dead_letters == 3
    assert batches[0] == {"red", "blue"}

    # Blue: processed normally.
    blue = _state(es, ksettings, "blue")
    assert (
        blue["detections"] == 4 and blue["incidents"] == 2 and blue["evidence"] > before["blue"]["evidence"]
    )
    assert sum(i["incident"]["detection_count"] for i in sources(es, ksettings, "incidents", "blue")) == 4
    assert verify_live(es, ksettings, "blue").ok
    # Red: nothing written, every detection of the batch dead-lettered with what to do.
    assert _state(es, ksettings, "red") == before["red"]
    letters = _letters(ksettings, 3)
    dead_ids = sorted(Envelope[Detection].model_validate_json(d.original).id for d in letters)
    assert dead_ids == sorted(d.id for d in batch if d.tenant == "red")
    for letter in letters:
        assert (
            letter.tenant == "red" and letter.stage == "responder" and letter.error_type == "ChainForkError"
        )
        assert "evidence chain of tenant red is broken" in letter.reason
        assert (
            "socpipe evidence verify --tenant red" in letter.reason and "socpipe dlq replay" in letter.reason
        )
        assert letter.replay_topic == ksettings.topics.detections
    [error] = [e for e in logs if e["log_level"] == "error"]
    assert error["tenant"] == "red" and error["detections"] == 3 and "sequence" in error["error"]
    assert _work(ksettings)[0].records == 0  # committed: the group does not see the batch again

    # The operator's fix: verify finds the break, the record is restored, verify passes, replay.
    broken = _cli("evidence", "verify", "--tenant", "red")
    assert broken.exit_code == 1 and "BROKEN" in broken.output
    es.index(index=evidence_red, id=record_id("red", original.sequence), document=evidence_doc(original))
    fixed = _cli("evidence", "verify", "--tenant", "red")
    assert fixed.exit_code == 0 and "OK" in fixed.output, fixed.output
    replayed = _cli("dlq", "replay", "--tenant", "red", "--stage", "responder")
    assert "replayed 3 dead letters" in replayed.output, replayed.output
    stats, _ = _work(ksettings)
    assert stats.records == 3 and stats.dead_letters == 0

    red = _state(es, ksettings, "red")
    assert red["detections"] == 4 and red["incidents"] == 2 and red["evidence"] > before["red"]["evidence"]
    assert sum(i["incident"]["detection_count"] for i in sources(es, ksettings, "incidents", "red")) == 4
    assert verify_live(es, ksettings, "red").ok
    red_hooks = len(webhooks.at("/red"))
    assert red_hooks == 2  # one open notice per incident

    # Replaying again re-drives nothing: the letters are marked replayed (and would duplicate nothing).
    _cli("dlq", "replay", "--tenant", "red", "--stage", "responder")
    assert _work(ksettings)[0].records == 0
    assert _state(es, ksettings, "red") == red and _state(es, ksettings, "blue") == blue
    assert len(webhooks.at("/red")) == red_hooks
