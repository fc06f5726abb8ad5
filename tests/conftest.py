"""Session fixtures for the real Kafka broker and Elasticsearch node the integration tests use.

Chosen in this order: KAFKA_BOOTSTRAP_SERVERS / ELASTICSEARCH_URL when set; testcontainers when a
Docker engine answers; otherwise the project's own local servers (`socpipe dev up`). A backend that
cannot start is an error, never a skip: a test that needs Kafka must not pass without it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from devtools.cleanup import remove_prefixed
from socpipe import logging as socpipe_logging
from socpipe.paths import corpus_dir
from socpipe.settings import Settings, load_settings

# Tests run many commands in one process: loggers must never be cached on first use (what
# configure_logging does once in a real process), or structlog.testing.capture_logs in a later test
# would miss the lines of every logger a command used before it.
socpipe_logging._state["configured"] = True


def _docker_answers() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


# (topic prefix, index prefix) of every `settings` fixture this session: removed when the session ends.
_TEST_PREFIXES: list[tuple[str, str]] = []


@pytest.fixture(scope="session")
def backends() -> Iterator[tuple[str, str]]:
    """(kafka bootstrap servers, elasticsearch url) of running servers; at the end of the session, what
    the tests wrote there under their unique prefixes is removed."""
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    es = os.environ.get("ELASTICSEARCH_URL")
    with ExitStack() as stack:
        if (not kafka or not es) and _docker_answers():
            from testcontainers.elasticsearch import ElasticSearchContainer  # type: ignore[import-untyped]
            from testcontainers.kafka import KafkaContainer  # type: ignore[import-untyped]

            if not kafka:
                kafka = stack.enter_context(
                    KafkaContainer("confluentinc/cp-kafka:7.7.1")
                ).get_bootstrap_server()
            if not es:
                container = stack.enter_context(
                    ElasticSearchContainer("elasticsearch:8.19.21", mem_limit="2g")
                )
                es = container.get_url()
        if not kafka or not es:
            import devtools as devservers

            endpoints = devservers.up()
            kafka = kafka or endpoints.kafka_bootstrap
            es = es or endpoints.elasticsearch_url
        yield kafka, es
        remove_prefixed(kafka, es, _TEST_PREFIXES)


@pytest.fixture
def settings(backends: tuple[str, str]) -> Settings:
    """Settings pointing at the real servers, with topic and index prefixes unique to this test."""
    kafka, es = backends
    unique = uuid.uuid4().hex[:8]
    _TEST_PREFIXES.append((f"t{unique}.", f"t{unique}-socpipe"))
    return load_settings(
        kafka_bootstrap_servers=kafka,
        elasticsearch_url=es,
        topic_prefix=f"t{unique}.",
        index_prefix=f"t{unique}-socpipe",
        # Groups of their own too: tests running side by side must not rebalance each other's consumers.
        normalise_group=f"t{unique}-normalise",
        detector_group=f"t{unique}-detectors",
        correlate_group=f"t{unique}-correlators",
        responder_group=f"t{unique}-responders",
        events_index_group=f"t{unique}-events-index",
        poll_timeout_ms=200,
    )


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The shared test corpus: a failure in CI when it is missing, a skip on a developer's machine."""
    found = corpus_dir()
    if found is None:
        message = "corpus not found: ../shared/corpus or $SOCPIPE_CORPUS"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


_TESTS = Path(__file__).resolve().parent
_OWN_PROCESSES = (_TESTS / "e2e", _TESTS / "faults")
_OWN_SERVERS = {  # start a Kafka broker or a server pair of their own
    _TESTS / "integration" / "socpipe" / "test_bus_tls_kafka.py",
    _TESTS / "integration" / "devtools" / "test_devservers_integration.py",
}


def pytest_itemcollected(item: pytest.Item) -> None:
    """The tests that start processes or servers of their own (tests/e2e, tests/faults and two more) are
    marked `own_processes`: scripts/test.sh runs them one at a time after the rest, which runs on two
    xdist workers. Beside other tests on a 2-core machine their deadlines starved (the rebalance test
    stalled in a CI simulation)."""
    if item.path in _OWN_SERVERS or any(item.path.is_relative_to(folder) for folder in _OWN_PROCESSES):
        item.add_marker(pytest.mark.own_processes)
