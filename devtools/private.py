"""A private Kafka and Elasticsearch pair on free ports and a state folder of its own, for fault tests.

Fault tests stop and restart servers; they must never touch the shared ones other tests and other
people use. `PrivatePair` starts its own pair (the dev servers' jars and start-up, other ports, other
state), stops either server (SIGTERM, or SIGKILL for a crash) and starts it again with its data kept,
and stops both when closed.

Its ports are written to `pair.json` in its state folder, so another process can drive the same pair
(`PrivatePair.attach`): the fault tests start one pair per session and hand it to the faults benchmark,
which would otherwise start and stop a pair of its own (about half a minute of JVM start-up on two cores).
An attached pair is not its to close: `close` leaves the servers to whoever started them.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import time
from pathlib import Path

from devtools import manager
from devtools.models import DevEndpoints
from devtools.server import DevServer
from devtools.settings import DevSettings
from devtools.state import is_alive, read_record

KAFKA = "kafka"
ELASTICSEARCH = "elasticsearch"


def free_ports(count: int) -> list[int]:
    """Ports the kernel had free just now (held open together, so they differ)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


PAIR_FILE = "pair.json"


class PrivatePair:
    def __init__(
        self,
        state_dir: Path,
        *,
        kafka_heap: str = "384m",
        es_heap: str = "512m",
        ports: tuple[int, int, int, int] | None = None,
        owned: bool = True,
    ) -> None:
        kafka, controller, es, transport = ports or free_ports(4)
        self.owned = owned  # False: attached to a pair another process started, which stops it
        self.settings = DevSettings(
            state_dir=state_dir,
            kafka_port=kafka,
            kafka_controller_port=controller,
            es_port=es,
            es_transport_port=transport,
            kafka_heap=kafka_heap,
            es_heap=es_heap,
            cache_dir=Path(os.environ["SOCPIPE_CACHE_DIR"]) if os.environ.get("SOCPIPE_CACHE_DIR") else None,
        )

    @classmethod
    def attach(cls, state_dir: Path) -> PrivatePair:
        """The pair whose state folder is `state_dir` (started by another process), to stop and start its
        servers with their data kept; `close` leaves it running."""
        saved = json.loads((state_dir / PAIR_FILE).read_text(encoding="utf-8"))
        ports = (
            saved["kafka_port"], saved["kafka_controller_port"], saved["es_port"], saved["es_transport_port"]
        )  # fmt: skip
        heaps = {"kafka_heap": saved["kafka_heap"], "es_heap": saved["es_heap"]}
        return cls(state_dir, **heaps, ports=ports, owned=False)

    @property
    def endpoints(self) -> DevEndpoints:
        return manager.endpoints(self.settings)

    def start(self, timeout_s: float = 240.0) -> DevEndpoints:
        """Start whichever server is not running (both at first) and wait until both answer."""
        manager.start(self.settings, timeout=timeout_s)
        if self.owned:
            s = self.settings
            saved = {"kafka_port": s.kafka_port, "kafka_controller_port": s.kafka_controller_port,
                     "es_port": s.es_port, "es_transport_port": s.es_transport_port,
                     "kafka_heap": s.kafka_heap, "es_heap": s.es_heap}  # fmt: skip
            (s.state_path / PAIR_FILE).write_text(json.dumps(saved), encoding="utf-8")
        return self.endpoints

    def stop(self, name: str, *, kill: bool = False) -> None:
        """Stop one server: SIGTERM (a clean shutdown) or SIGKILL (a crash, a lost host)."""
        server = self._server(name)
        record = read_record(server.pid_file)
        if record is None or not is_alive(record.pid, record.marker):
            return
        os.kill(record.pid, signal.SIGKILL if kill else signal.SIGTERM)
        deadline = time.monotonic() + 60
        while is_alive(record.pid, record.marker) and time.monotonic() < deadline:
            time.sleep(0.1)
        if is_alive(record.pid, record.marker):
            with contextlib.suppress(ProcessLookupError):
                os.kill(record.pid, signal.SIGKILL)
            time.sleep(1)
        server.pid_file.unlink(missing_ok=True)

    def close(self) -> None:
        """Stop both servers, unless the pair is attached (its owner stops it)."""
        if self.owned:
            manager.shutdown(self.settings, timeout=20)

    def _server(self, name: str) -> DevServer:
        for server in manager.servers(self.settings):
            if server.name == name:
                return server
        raise ValueError(f"no server {name!r}: {KAFKA} or {ELASTICSEARCH}")
