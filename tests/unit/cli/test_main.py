"""The entry point's last resort: a client library's connection error becomes one line naming the server."""

from __future__ import annotations

import os

import pytest
from elastic_transport import ConnectionError as TransportConnectionError
from kafka.errors import KafkaTimeoutError

from cli.main import server_down
from socpipe.errors import ServerUnavailableError
from socpipe.settings import get_settings


def test_client_connection_errors_become_one_line_naming_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """The last resort: kafka-python's and elastic_transport's errors name the server, the address from
    the settings and the setting to change."""
    for name in [n for n in os.environ if n.startswith("SOCPIPE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka.example:9092")
    monkeypatch.setenv("ELASTICSEARCH_URL", "http://es.example:9200")
    get_settings.cache_clear()
    try:
        kafka = server_down(KafkaTimeoutError("Unable to bootstrap"))
        es = server_down(TransportConnectionError("refused"))
    finally:
        get_settings.cache_clear()
    assert isinstance(kafka, ServerUnavailableError) and isinstance(es, ServerUnavailableError)
    assert str(kafka).startswith(
        "Kafka at kafka.example:9092 did not answer"
    ) and "KAFKA_BOOTSTRAP_SERVERS" in str(kafka)
    assert str(es).startswith("Elasticsearch at http://es.example:9200") and "ELASTICSEARCH_URL" in str(es)
    assert server_down(ValueError("not a server")) is None
