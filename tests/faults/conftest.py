"""A private Kafka and Elasticsearch pair for the fault tests: started once per session, stopped at the end.

Fault tests stop and restart servers, so they never use the shared ones (KAFKA_BOOTSTRAP_SERVERS /
ELASTICSEARCH_URL): the pair runs on free ports with a state folder in the session's temporary folder.
A test that stopped a server starts it again before it ends (`restarted`), so the next test finds both up.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.private import PrivatePair
from socpipe.settings import Settings, load_settings


@pytest.fixture(scope="session")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivatePair]:
    servers = PrivatePair(tmp_path_factory.mktemp("faults-servers"))
    try:
        servers.start()  # raises (the tests error, never skip) when a server cannot start
        yield servers
    finally:
        servers.close()


@pytest.fixture
def fault_settings(pair: PrivatePair) -> Iterator[Settings]:
    """Settings on the private pair, unique topic and index prefixes; both servers up again at the end."""
    endpoints = pair.endpoints
    unique = uuid.uuid4().hex[:8]
    yield load_settings(
        kafka_bootstrap_servers=endpoints.kafka_bootstrap,
        elasticsearch_url=endpoints.elasticsearch_url,
        topic_prefix=f"f{unique}.",
        index_prefix=f"f{unique}-socpipe",
        poll_timeout_ms=300,
    )
    pair.start()


@pytest.fixture
def tenants_file(tmp_path: Path) -> Path:
    """Two tenants without notice routes: the outage tests check incidents and evidence."""
    path = tmp_path / "tenants.yaml"
    path.write_text("tenants:\n  - {id: red, name: Red Org}\n  - {id: blue, name: Blue Org}\n")
    return path
