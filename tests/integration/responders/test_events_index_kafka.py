"""The events indexer on real Kafka and Elasticsearch: each opted-in tenant's events in its own daily
indices, once however often they are replayed; `events prune` deletes only the days past each tenant's
retention."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from elasticsearch import Elasticsearch

from cli.main import cli
from cli.worker_commands import consume
from responders.config import load_tenants
from responders.events.names import events_index
from responders.events.stage import EventsIndexStage
from responders.events.template import ensure_events_template
from schemas import EcsEvent, Envelope
from socpipe.bus import KafkaBus, Outbound
from socpipe.es import es_client
from socpipe.settings import Settings, get_settings

pytestmark = [pytest.mark.kafka, pytest.mark.elasticsearch]

TENANTS = """\
tenants:
  - {id: acme, name: ACME, events_index: {enabled: true, retention_days: 30}}
  - {id: globex, name: Globex, events_index: {enabled: true, retention_days: 7}}
  - {id: initech, name: Initech}
  - {id: acme-b, name: ACME B, events_index: {enabled: true, retention_days: 30}}
"""


@pytest.fixture
def esettings(settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    path = tmp_path / "tenants.yaml"
    path.write_text(TENANTS)
    yield settings.model_copy(update={"tenants_file": path})
    es = es_client(settings)
    try:
        es.indices.delete(index=f"{settings.index_prefix}-*", allow_no_indices=True, expand_wildcards="all")
        es.options(ignore_status=404).indices.delete_index_template(name=f"{settings.index_prefix}-*")
    finally:
        es.close()


@pytest.fixture
def es(esettings: Settings) -> Iterator[Elasticsearch]:
    client = es_client(esettings)
    yield client
    client.close()


def _event(tenant: str, when: datetime, n: int, *, payload_tenant: str | None = None) -> bytes:
    event = EcsEvent.model_validate(
        {
            "@timestamp": when,
            "tenant": payload_tenant or tenant,
            "event": {"code": "4688", "category": ["process"]},
            "host": {"name": f"{tenant}-ws-{n % 2}"},
            "user": {"name": "alice"},
            "process": {"name": "cmd.exe", "command_line": f"cmd /c step {n}"},
            "source": {"ip": "192.0.2.10"},
            "ingest": {"source": "test", "parser": "windows", "received_at": when},
            "original": {"EventID": 4688, "CommandLine": f"cmd /c step {n}", "Seq": n},
        }
    )
    envelope = Envelope[EcsEvent](kind="event", tenant=tenant, id=event.event_id(), payload=event)
    return envelope.model_dump_json(by_alias=True).encode()


def _index(settings: Settings, group: str | None = None) -> tuple[int, int]:
    """Run the indexer until the topic is drained; (records read, dead letters)."""
    if group is not None:
        settings = settings.model_copy(update={"events_index_group": group})
    es = es_client(settings)
    try:
        ensure_events_template(es, settings)
        stage = EventsIndexStage(es, settings, load_tenants(settings))
        stats = consume(
            settings, stage, settings.events_index_group, settings.topics.ecs,
            stop=threading.Event(), idle_exit=5,
        )  # fmt: skip
    finally:
        es.close()
    return stats.records, stats.dead_letters


def _counts(es: Elasticsearch, settings: Settings) -> dict[str, int]:
    es.indices.refresh(index=f"{settings.index_prefix}-events-*")
    rows = es.cat.indices(index=f"{settings.index_prefix}-events-*", h="index,docs.count", format="json")
    return {str(r["index"]): int(r["docs.count"]) for r in rows.body}


def test_each_tenant_gets_its_own_days_once_however_often_replayed(
    esettings: Settings, es: Elasticsearch
) -> None:
    """Acme (two days) and globex (today; an event older than its 7 days is skipped) get their indices;
    initech, not opted in, none. Every event sent twice, and the whole topic read again by a new group,
    still gives one document each. A globex envelope carrying an acme event is a dead letter: it reaches
    no index; a record that is no envelope is left to the detector's dead letter. Pivot fields are
    mapped (host.name term query); others stay in _source only."""
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    yesterday = today - timedelta(days=1)
    values = (
        [_event("acme", today, n) for n in range(3)]
        + [_event("acme", yesterday + timedelta(hours=11, minutes=59), n) for n in range(3, 5)]
        + [_event("globex", today, n) for n in range(2)]
        + [_event("globex", today - timedelta(days=10), 9)]
        + [_event("initech", today, n) for n in range(2)]
        + [_event("globex", today, 7, payload_tenant="acme")]
        + [b"not an envelope"]  # the detector's dead letter, not the indexer's
    )
    bus = KafkaBus(esettings)
    bus.ensure_pipeline_topics()
    publisher = bus.publisher()
    try:
        for _ in range(2):  # at-least-once upstream: every event twice on the topic
            publisher.send_all(
                Outbound(esettings.topics.ecs, v, key=str(i).encode()) for i, v in enumerate(values)
            )
        publisher.flush()
    finally:
        publisher.close()

    records, dead = _index(esettings)
    assert (records, dead) == (2 * len(values), 2)
    expected = {
        events_index(esettings, "acme", today): 3,
        events_index(esettings, "acme", yesterday + timedelta(hours=11, minutes=59)): 2,
        events_index(esettings, "globex", today): 2,
    }
    assert _counts(es, esettings) == expected
    assert events_index(esettings, "acme", yesterday) != events_index(esettings, "acme", today)

    for tenant in ("acme", "globex"):
        hits = es.search(index=f"{esettings.index_prefix}-events-{tenant}-*", size=100)["hits"]["hits"]
        assert {h["_source"]["organization"]["id"] for h in hits} == {tenant}
        assert {h["_source"]["tenant"] for h in hits} == {tenant}
    pivot = es.count(
        index=f"{esettings.index_prefix}-events-acme-*", query={"term": {"host.name": "acme-ws-0"}}
    )
    assert pivot["count"] == 3  # steps 0, 2, 4
    unmapped = es.count(
        index=f"{esettings.index_prefix}-events-acme-*", query={"match": {"original.CommandLine": "step"}}
    )
    assert unmapped["count"] == 0, "fields outside the template are kept, not indexed"

    assert _index(esettings, group=f"{esettings.events_index_group}-replay") == (2 * len(values), 2)
    assert _counts(es, esettings) == expected


@pytest.fixture
def socpipe(esettings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Result]]:
    monkeypatch.setenv("SOCPIPE_INDEX_PREFIX", esettings.index_prefix)
    monkeypatch.setenv("ELASTICSEARCH_URL", esettings.elasticsearch_url)
    monkeypatch.setenv("SOCPIPE_TENANTS_FILE", str(esettings.tenants_file))
    get_settings.cache_clear()
    yield lambda *args: CliRunner().invoke(cli, list(args), catch_exceptions=False)
    get_settings.cache_clear()


def test_prune_deletes_only_the_days_past_each_tenants_retention(
    esettings: Settings, es: Elasticsearch, socpipe: Callable[..., Result]
) -> None:
    """Globex keeps 7 days, acme and acme-b 30, initech (not opted in) the default 30. --dry-run lists
    and deletes nothing; then exactly the expired days go: acme's day 31 ago but not acme-b's day 10
    ago (a tenant whose id starts with another's), nor anything within retention, nor a foreign name."""
    today = datetime.now(UTC).date()
    ago = lambda days: today - timedelta(days=days)  # noqa: E731
    names = {
        "acme-old": events_index(esettings, "acme", ago(31)),
        "acme-edge": events_index(esettings, "acme", ago(30)),
        "acme-today": events_index(esettings, "acme", today),
        "acme-b-recent": events_index(esettings, "acme-b", ago(10)),
        "globex-old": events_index(esettings, "globex", ago(8)),
        "globex-kept": events_index(esettings, "globex", ago(7)),
        "initech-old": events_index(esettings, "initech", ago(40)),
        "foreign": f"{esettings.index_prefix}-events-acme-notaday",
    }
    for name in names.values():
        es.indices.create(index=name)
    expired = {names["acme-old"], names["globex-old"], names["initech-old"]}

    dry = socpipe("events", "prune", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert {line.split()[2] for line in dry.output.splitlines() if line.startswith("would delete ")
            and "(tenant" in line} == expired  # fmt: skip
    assert set(_counts(es, esettings)) == set(names.values())

    done = socpipe("events", "prune")
    assert done.exit_code == 0, done.output
    assert "deleted 3 events indices" in done.output
    assert set(_counts(es, esettings)) == set(names.values()) - expired


def test_elasticsearch_away_is_an_outage_the_loop_waits_out(esettings: Settings) -> None:
    """With Elasticsearch unreachable the stage raises what socpipe.outage calls an Elasticsearch outage
    (so the worker loop waits, rewinds and redoes the batch), never a dead letter or a skipped event."""
    from socpipe.bus import Inbound
    from socpipe.outage import ELASTICSEARCH, server_of

    down = esettings.model_copy(update={"elasticsearch_url": "http://127.0.0.1:1"})
    stage = EventsIndexStage(es_client(down, max_retries=0), down, load_tenants(down))
    record = Inbound(esettings.topics.ecs, 0, 0, _event("acme", datetime.now(UTC), 1))
    with pytest.raises(Exception) as raised:
        stage.process([record])
    assert server_of(raised.value) == ELASTICSEARCH
