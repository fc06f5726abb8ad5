"""Removing what a test session or a benchmark run left on Kafka and Elasticsearch, by its name prefixes.

Tests and benchmarks give every topic, index and index template a unique prefix; on shared servers (or
a private pair that outlives one run) they delete theirs afterwards, so runs leave nothing behind.
"""

from __future__ import annotations

from collections.abc import Sequence

from kafka import KafkaAdminClient

from socpipe.es import es_client
from socpipe.settings import load_settings


def remove_prefixed(kafka: str, es_url: str, prefixes: Sequence[tuple[str, str]]) -> None:
    """Delete the indices, index templates and topics named by these (topic prefix, index prefix) pairs
    (names listed, then deleted by name: Elasticsearch refuses wildcard deletes by default)."""
    if not prefixes:
        return
    es = es_client(load_settings(elasticsearch_url=es_url), request_timeout=60)
    try:
        for _, index_prefix in prefixes:
            pattern = f"{index_prefix}-*"
            names = list(es.indices.get(index=pattern, expand_wildcards="all", allow_no_indices=True))
            for start in range(0, len(names), 50):
                es.indices.delete(index=",".join(names[start : start + 50]), ignore_unavailable=True)
            found = es.options(ignore_status=404).indices.get_index_template(name=pattern)
            for template in found.get("index_templates", []):
                es.indices.delete_index_template(name=template["name"])
    finally:
        es.close()
    admin = KafkaAdminClient(bootstrap_servers=kafka.split(","))
    try:
        starts = tuple(topic_prefix for topic_prefix, _ in prefixes)
        topics = [t for t in admin.list_topics() if t.startswith(starts)]
        if topics:
            admin.delete_topics(topics)
    finally:
        admin.close()
