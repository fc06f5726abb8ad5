"""A periodic task: repeated every interval in its own thread, a failing round does not stop it."""

from __future__ import annotations

import threading

from socpipe.periodic import Periodic


def test_repeats_survives_a_failure_and_stops() -> None:
    """The task runs again after it raised; `stop` ends the thread; an interval of 0 never starts."""
    calls: list[int] = []
    third = threading.Event()

    def task() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first round fails")
        if len(calls) >= 3:
            third.set()

    periodic = Periodic("test", 0.01, task)
    periodic.start()
    assert third.wait(5)
    periodic.stop(5)
    assert periodic._thread is not None and not periodic._thread.is_alive()
    never = Periodic("off", 0, task)
    never.start()
    assert never._thread is None
