"""Local single-node Kafka and Elasticsearch for tests and demos, from Maven Central jars.

No Docker is needed: Maven fetches Apache Kafka's and Elasticsearch's own jars into
~/.cache/socpipe/jars, and the servers run as detached JVMs whose pid files, logs and data
live in one state folder (<repo>/.socpipe/dev, or SOCPIPE_STATE_DIR). They outlive the
process that started them, so a test session or `socpipe dev up` reuses running ones.

    import devtools as devservers
    endpoints = devservers.up()          # idempotent; waits until both answer
    endpoints.kafka_bootstrap            # "127.0.0.1:9092"
    endpoints.elasticsearch_url          # "http://127.0.0.1:9200"
    devservers.status()                  # [ServerStatus(...), ...]
    devservers.down()
"""

from __future__ import annotations

from pathlib import Path

from devtools import manager
from devtools.manager import DevServerError
from devtools.models import DevEndpoints, ServerStatus, StartReport, StopReport
from devtools.settings import DevSettings

__all__ = [
    "DevEndpoints",
    "DevServerError",
    "DevSettings",
    "ServerStatus",
    "StartReport",
    "StopReport",
    "down",
    "status",
    "up",
]


def up(state_dir: Path | str | None = None, *, timeout: float | None = None) -> DevEndpoints:
    """Start Kafka and Elasticsearch unless already running; return where they are once both answer.

    Raises DevServerError (naming the log file) when a server cannot start within `timeout`
    seconds (default SOCPIPE_START_TIMEOUT, 180).
    """
    settings = manager.load_settings(state_dir)
    manager.start(settings, timeout)
    return manager.endpoints(settings)


def status(state_dir: Path | str | None = None) -> list[ServerStatus]:
    """The state of each dev server; `healthy` means it answered a real request just now."""
    return manager.status(manager.load_settings(state_dir))


def down(state_dir: Path | str | None = None, *, timeout: float = 30.0) -> list[StopReport]:
    """Stop the servers this state folder started: SIGTERM, SIGKILL after `timeout`; pid files removed."""
    return manager.shutdown(manager.load_settings(state_dir), timeout)
