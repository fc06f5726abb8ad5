"""What the dev servers API returns, and what a pid file holds."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict


class DevEndpoints(BaseModel):
    """Addresses of the running dev servers, in the form the pipeline's settings take them."""

    model_config = ConfigDict(frozen=True)

    kafka_bootstrap: str
    elasticsearch_url: str

    def env(self) -> dict[str, str]:
        """The environment variables that point socpipe (and its tests) at these servers."""
        return {"KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap, "ELASTICSEARCH_URL": self.elasticsearch_url}


class ServerStatus(BaseModel):
    """One server as `socpipe dev status` sees it.

    managed is False when something answers on the port but was not started from this state
    folder (another checkout's dev servers, say): it is used, but `down` leaves it alone.
    """

    name: str
    version: str
    address: str
    pid: int | None
    running: bool
    healthy: bool
    managed: bool
    log_file: Path
    detail: str = ""


class PidRecord(BaseModel):
    """Content of <state>/<name>.pid: enough to find the process again and tell it is ours."""

    name: str
    pid: int
    version: str
    address: str
    marker: str
    started_at: datetime
    command: list[str]


class StartReport(BaseModel):
    """How one server came up: whether it was reused and where the time went (cold-start figures)."""

    name: str
    pid: int | None
    address: str
    reused: bool
    managed: bool
    fetch_seconds: float
    start_seconds: float


class StopReport(BaseModel):
    """What `down` did to one server."""

    name: str
    pid: int | None
    was_running: bool
    killed: bool
