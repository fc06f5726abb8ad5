"""Off a terminal every line a process writes is structlog JSON: its own, the libraries' stdlib logging
(kafka-python, elastic_transport) and uncaught exceptions, in the main thread and in others."""

from __future__ import annotations

import json
import subprocess
import sys

PROGRAM = """
import logging, threading
from socpipe.logging import configure_logging, get_logger
configure_logging("INFO")
get_logger("socpipe.test").info("ours", tenant="acme")
logging.getLogger("elastic_transport.transport").error("node failed")
logging.getLogger("kafka.conn").critical("broker gone")
logging.getLogger("kafka.conn").error("hidden: kafka-python's errors are logged once by socpipe.outage")
thread = threading.Thread(target=lambda: 1 / 0, name="worker-thread")
thread.start(); thread.join()
raise RuntimeError("a bug")
"""


def test_all_output_is_json_lines() -> None:
    command = [sys.executable, "-c", PROGRAM]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]  # raises if one is not
    by_event = {line["event"]: line for line in lines}
    assert by_event["ours"]["tenant"] == "acme"
    assert by_event["node failed"]["logger"] == "elastic_transport.transport"
    assert by_event["broker gone"]["level"] == "critical"
    assert not any("hidden" in line["event"] for line in lines)
    thread_crash = by_event["uncaught exception in a thread"]
    assert thread_crash["thread"] == "worker-thread" and "ZeroDivisionError" in thread_crash["exception"]
    assert "RuntimeError: a bug" in by_event["uncaught exception: the process stops"]["exception"]
