"""The dev servers really work for what socpipe does with Kafka and Elasticsearch.

The servers come from `devservers.up()` in a session fixture; if they cannot start, every test
here errors (never skips). The Elasticsearch checks are the features socpipe relies on, which a
node built from the published jars must provide.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import ConflictError, Elasticsearch
from elasticsearch.helpers import bulk
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

import devtools as devservers
from devtools import DevEndpoints

pytestmark = [pytest.mark.kafka, pytest.mark.elasticsearch]


@pytest.fixture(scope="session")
def dev_endpoints() -> DevEndpoints:
    return devservers.up()  # raises (the tests error) when a server cannot start


@pytest.fixture
def es(dev_endpoints: DevEndpoints) -> Iterator[Elasticsearch]:
    client = Elasticsearch(dev_endpoints.elasticsearch_url, request_timeout=30)
    yield client
    client.close()


@pytest.fixture
def prefix(es: Elasticsearch) -> Iterator[str]:
    name = f"devtest-{uuid.uuid4().hex[:8]}"
    yield name
    es.indices.delete(index=f"{name}*", ignore_unavailable=True, allow_no_indices=True)
    es.options(ignore_status=404).indices.delete_index_template(name=name)


def test_up_prints_the_documented_endpoints(dev_endpoints: DevEndpoints) -> None:
    assert dev_endpoints.kafka_bootstrap.startswith("127.0.0.1:")
    assert dev_endpoints.elasticsearch_url.startswith("http://127.0.0.1:")


def test_status_is_healthy_and_up_is_idempotent(dev_endpoints: DevEndpoints) -> None:
    before = {s.name: s for s in devservers.status()}
    assert all(s.healthy for s in before.values()), before
    started = time.monotonic()
    assert devservers.up() == dev_endpoints
    assert time.monotonic() - started < 10  # reused, not restarted
    after = {s.name: s.pid for s in devservers.status()}
    assert after == {name: s.pid for name, s in before.items()}


def test_kafka_produce_consume_and_commit(dev_endpoints: DevEndpoints) -> None:
    topic = f"devtest-{uuid.uuid4().hex[:8]}"
    producer = KafkaProducer(bootstrap_servers=dev_endpoints.kafka_bootstrap, acks="all")
    for i in range(30):
        producer.send(topic, key=f"host-{i % 5}".encode(), value=f"event {i}".encode())
    producer.flush(timeout=30)
    assert producer.partitions_for(topic) == {0, 1, 2}  # auto-created with num.partitions=3
    producer.close()

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=dev_endpoints.kafka_bootstrap,
        group_id=f"{topic}-group",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=15000,
    )
    seen: list[bytes] = []
    for message in consumer:
        seen.append(message.value)
        if len(seen) == 30:
            break
    consumer.commit()  # needs the offsets topic, i.e. replication factor 1 on a single broker
    committed = sum(consumer.committed(TopicPartition(topic, p)) or 0 for p in range(3))
    consumer.close()
    assert sorted(seen) == sorted(f"event {i}".encode() for i in range(30))
    assert committed == 30

    admin = KafkaAdminClient(bootstrap_servers=dev_endpoints.kafka_bootstrap)
    assert topic in admin.list_topics()
    admin.close()


def test_elasticsearch_features_socpipe_uses(es: Elasticsearch, prefix: str) -> None:
    assert es.cluster.health(wait_for_status="yellow", timeout="10s")["status"] in ("yellow", "green")
    assert es.info()["version"]["number"].startswith("8.")  # the launcher adds GET /
    assert es.ping()

    es.indices.put_index_template(
        name=prefix,
        index_patterns=[f"{prefix}-*"],
        template={
            "settings": {"number_of_shards": 1, "number_of_replicas": 0},
            "mappings": {
                "properties": {
                    "@timestamp": {"type": "date"},
                    "host": {"properties": {"name": {"type": "keyword"}}},
                    "message": {"type": "text"},
                    "event": {"properties": {"severity": {"type": "long"}}},
                }
            },
        },
    )
    index = f"{prefix}-events"
    es.indices.create(index=index)
    mapping = es.indices.get_mapping(index=index)[index]["mappings"]
    assert mapping["properties"]["host"]["properties"]["name"]["type"] == "keyword"  # from the template

    docs = [
        {
            "_index": index,
            "_id": f"e{i}",
            "@timestamp": f"2024-05-01T00:00:{i:02d}Z",
            "host": {"name": f"h{i % 3}"},
            "message": f"failed login {i}",
            "event": {"severity": i},
        }
        for i in range(12)
    ]
    ok, errors = bulk(es, docs, refresh="wait_for")
    assert (ok, errors) == (12, [])

    found = es.search(
        index=index,
        query={
            "bool": {"filter": [{"term": {"host.name": "h1"}}, {"range": {"event.severity": {"gte": 4}}}]}
        },
        aggs={"hosts": {"terms": {"field": "host.name"}}},
        sort=[{"@timestamp": "asc"}],
    )
    assert [hit["_id"] for hit in found["hits"]["hits"]] == ["e4", "e7", "e10"]
    assert {b["key"] for b in found["aggregations"]["hosts"]["buckets"]} == {"h1"}
    assert es.search(index=index, query={"match": {"message": "login"}})["hits"]["total"]["value"] == 12
    assert es.count(index=index)["count"] == 12
    caps = es.field_caps(index=index, fields=["host.*", "event.severity"])["fields"]  # a list, not "a,b"
    assert caps["host.name"]["keyword"]["aggregatable"] is True
    assert "long" in caps["event.severity"]

    doc = es.get(index=index, id="e1")
    seq_no, term = doc["_seq_no"], doc["_primary_term"]
    updated = es.index(index=index, id="e1", document={"n": 1}, if_seq_no=seq_no, if_primary_term=term)
    assert updated["result"] == "updated"
    with pytest.raises(ConflictError):  # a stale version is refused: idempotent versioned updates
        es.index(index=index, id="e1", document={"n": 2}, if_seq_no=seq_no, if_primary_term=term)

    assert es.index(index=index, id="once", document={"n": 1}, op_type="create")["result"] == "created"
    with pytest.raises(ConflictError):  # deterministic ids: a replay never duplicates
        es.index(index=index, id="once", document={"n": 1}, op_type="create")
    with pytest.raises(ConflictError):
        es.create(index=index, id="once", document={"n": 1})
    assert es.update(index=index, id="once", doc={"n": 5})["result"] == "updated"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_full_lifecycle_in_a_separate_state_folder(
    dev_endpoints: DevEndpoints, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """up, status, up again, down on other ports: the pids are reused, then stopped, pid files gone."""
    for name in ("KAFKA_PORT", "KAFKA_CONTROLLER_PORT", "ES_PORT", "ES_TRANSPORT_PORT"):
        monkeypatch.setenv(f"SOCPIPE_{name}", str(_free_port()))
    state_dir = tmp_path / "state"
    endpoints = devservers.up(state_dir)
    assert endpoints != dev_endpoints
    first = devservers.status(state_dir)
    assert all(s.healthy and s.managed for s in first), first
    assert all((state_dir / f"{s.name}.pid").is_file() and s.log_file.is_file() for s in first)
    assert devservers.up(state_dir) == endpoints
    assert [s.pid for s in devservers.status(state_dir)] == [s.pid for s in first]

    stopped = devservers.down(state_dir)
    assert [(r.name, r.was_running, r.killed) for r in stopped] == [
        ("kafka", True, False),
        ("elasticsearch", True, False),
    ]
    assert not list(state_dir.glob("*.pid"))
    assert all(not s.healthy and s.pid is None for s in devservers.status(state_dir))
    for s in first:
        assert s.pid is not None
        assert not Path(f"/proc/{s.pid}").exists() or "Z" in Path(f"/proc/{s.pid}/stat").read_text()
