"""up / status / down over both dev servers.

Both JVMs are launched before either is waited for, so a cold start costs the slower of the two
rather than their sum. `up` is idempotent: a server whose pid is alive is only probed; a port
already served by a ready Kafka/Elasticsearch that this state folder did not start (another
checkout's servers) is used as it is and never stopped by this folder's `down`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from devtools.elasticsearch import ElasticsearchServer
from devtools.kafka import KafkaServer
from devtools.models import DevEndpoints, PidRecord, ServerStatus, StartReport, StopReport
from devtools.server import DevServer
from devtools.settings import DevSettings, find_java
from devtools.state import (
    is_alive,
    port_open,
    read_record,
    spawn,
    state_lock,
    stop,
    tail,
    write_record,
)
from socpipe.logging import get_logger

log = get_logger(__name__)


class DevServerError(RuntimeError):
    """A dev server could not be fetched, started or reached; the message names the log to read."""


@dataclass
class _Starting:
    server: DevServer
    pid: int
    reused: bool
    fetch_seconds: float
    since: float


def load_settings(state_dir: Path | str | None = None) -> DevSettings:
    """Settings from SOCPIPE_* variables, with an explicit state folder taking precedence."""
    return DevSettings(state_dir=Path(state_dir)) if state_dir is not None else DevSettings()


def servers(settings: DevSettings) -> list[DevServer]:
    return [KafkaServer(settings), ElasticsearchServer(settings)]


def endpoints(settings: DevSettings) -> DevEndpoints:
    kafka, es = servers(settings)
    return DevEndpoints(kafka_bootstrap=kafka.address, elasticsearch_url=es.address)


def start(settings: DevSettings, timeout: float | None = None) -> list[StartReport]:
    """Start (or reuse) every dev server and wait until each answers real requests."""
    deadline_s = settings.start_timeout if timeout is None else timeout
    with state_lock(settings.state_path):
        reports: dict[str, StartReport] = {}
        starting: list[_Starting] = []
        to_launch: list[DevServer] = []
        for server in servers(settings):
            record = read_record(server.pid_file)
            if record is not None and is_alive(record.pid, record.marker):
                starting.append(_Starting(server, record.pid, True, 0.0, time.monotonic()))
                continue
            server.pid_file.unlink(missing_ok=True)
            if port_open(server.host, server.port):
                reports[server.name] = _adopt(server)
            else:
                to_launch.append(server)
        if to_launch:
            java = find_java(settings)  # before any download: no point fetching without a JDK
            # All fetches first, then all launches: the JVMs start side by side and the timings are fair.
            fetched = [(server, *server.fetch()) for server in to_launch]
            for server, lib, fetch_seconds in fetched:
                since = time.monotonic()
                starting.append(_Starting(server, _launch(server, java, lib), False, fetch_seconds, since))
        for item in _wait_ready(starting, deadline_s):
            reports[item.name] = item
    return [reports[s.name] for s in servers(settings)]


def _launch(server: DevServer, java: Path, lib: Path) -> int:
    server.prepare(java, lib)
    command = server.command(java, lib)
    pid = spawn(command, server.log_file, cwd=server.home)
    record = PidRecord(
        name=server.name,
        pid=pid,
        version=server.version,
        address=server.address,
        marker=server.marker,
        started_at=datetime.now(UTC),
        command=command,
    )
    write_record(server.pid_file, record)
    log.info("started", server=server.name, pid=pid, log=str(server.log_file))
    return pid


def _adopt(server: DevServer) -> StartReport:
    reason = server.probe()
    if reason is not None:
        raise DevServerError(
            f"{server.name}: port {server.port} is taken by a process this state folder did not start, "
            f"and it is not a ready {server.name} ({reason}); stop it or set another SOCPIPE_*_PORT"
        )
    log.warning("reusing a server started elsewhere", server=server.name, address=server.address)
    return StartReport(
        name=server.name,
        pid=None,
        address=server.address,
        reused=True,
        managed=False,
        fetch_seconds=0.0,
        start_seconds=0.0,
    )


def _wait_ready(starting: list[_Starting], timeout: float) -> list[StartReport]:
    """Poll every server until ready; fail fast when one exits, with the tail of its log."""
    deadline = time.monotonic() + timeout
    ready: list[StartReport] = []
    reasons: dict[str, str] = {}
    waiting = list(starting)
    while waiting:
        for item in list(waiting):
            server = item.server
            if not is_alive(item.pid, server.marker):
                raise DevServerError(
                    f"{server.name} (pid {item.pid}) exited during start; log {server.log_file}:\n"
                    f"{tail(server.log_file)}"
                )
            reason = server.probe()
            if reason is None:
                seconds = 0.0 if item.reused else time.monotonic() - item.since
                if not item.reused:
                    log.info("ready", server=server.name, address=server.address, seconds=round(seconds, 1))
                ready.append(
                    StartReport(
                        name=server.name,
                        pid=item.pid,
                        address=server.address,
                        reused=item.reused,
                        managed=True,
                        fetch_seconds=item.fetch_seconds,
                        start_seconds=seconds,
                    )
                )
                waiting.remove(item)
            else:
                reasons[server.name] = reason
        if waiting and time.monotonic() > deadline:
            server = waiting[0].server
            raise DevServerError(
                f"{server.name} (pid {waiting[0].pid}) not ready after {timeout:.0f}s "
                f"({reasons.get(server.name)}); log {server.log_file}:\n{tail(server.log_file)}"
            )
        if waiting:
            time.sleep(0.25)
    return ready


def status(settings: DevSettings) -> list[ServerStatus]:
    """Each server: is its process alive, does it answer, did this state folder start it."""
    found = []
    for server in servers(settings):
        record = read_record(server.pid_file)
        running = record is not None and is_alive(record.pid, record.marker)
        reason = server.probe() if running or port_open(server.host, server.port) else "not running"
        detail = reason or ("" if running else f"answering, but not started from {settings.state_path}")
        found.append(
            ServerStatus(
                name=server.name,
                version=record.version if record is not None and running else server.version,
                address=server.address,
                pid=record.pid if record is not None and running else None,
                running=running,
                healthy=reason is None,
                managed=running,
                log_file=server.log_file,
                detail=detail,
            )
        )
    return found


def shutdown(settings: DevSettings, timeout: float = 30.0) -> list[StopReport]:
    """Stop every server this state folder started (SIGTERM, then SIGKILL after `timeout`)."""
    reports = []
    with state_lock(settings.state_path):
        for server in servers(settings):
            record = read_record(server.pid_file)
            if record is None:
                reports.append(StopReport(name=server.name, pid=None, was_running=False, killed=False))
                continue
            running = is_alive(record.pid, record.marker)
            killed = stop(record.pid, record.marker, timeout) if running else False
            server.pid_file.unlink(missing_ok=True)
            log.info("stopped" if running else "removed stale pid file", server=server.name, pid=record.pid)
            reports.append(StopReport(name=server.name, pid=record.pid, was_running=running, killed=killed))
    return reports
