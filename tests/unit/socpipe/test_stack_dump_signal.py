"""SIGUSR1 makes a long-running socpipe process print its threads' stacks and go on (stop_on_signals)."""

from __future__ import annotations

import signal
import subprocess
import sys

PROGRAM = """
from socpipe.worker import stop_on_signals
stop = stop_on_signals()
print("ready", flush=True)
stop.wait(30)
print("stopped" if stop.is_set() else "timed out", flush=True)
"""


def test_sigusr1_dumps_every_stack_and_sigterm_still_stops() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", PROGRAM], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGUSR1)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert out.strip() == "stopped"  # the dump did not end the process; SIGTERM did, cleanly
    # the dump shows the program's own frame
    assert "(most recent call first):" in err and 'File "<string>", line' in err, err
