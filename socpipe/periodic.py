"""A task a long-running worker repeats every `interval_s` in a daemon thread of its own.

A failed round is logged (an outage quietly: the worker loop reports it) and retried at the next
interval; the worker goes on. Used by the responder's service-level watch (responders/sla/watch.py)
and its notice sweep (responders/notices/sweep.py `sweep_round`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from socpipe.logging import get_logger
from socpipe.outage import server_of

log = get_logger(__name__)


class Periodic:
    def __init__(self, name: str, interval_s: float, task: Callable[[], object]) -> None:
        self.name = name
        self.interval_s = interval_s
        self.task = task
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (once); an interval of 0 or less means never."""
        if self.interval_s <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float | None = None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.task()
            except Exception as exc:  # retried next interval; the worker goes on
                if server_of(exc) is None:
                    log.exception("periodic task failed", task=self.name)
                else:
                    log.debug("periodic task waits for the next interval: a server is away", task=self.name)
