"""Off a terminal every line a process writes is structlog JSON: its own, the libraries' stdlib logging
(kafka-python, elastic_transport) and uncaught exceptions, in the main thread and in others."""

from __future__ import annotations

import json
import logging
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


KAFKA_LEVEL_PROGRAM = """
import logging
from socpipe.logging import configure_logging
configure_logging("INFO", kafka_level="WARNING")
logging.getLogger("kafka.coordinator").warning("heartbeat failed")
logging.getLogger("kafka.conn").info("hidden: below the kafka level")
logging.getLogger("urllib3").info("hidden: libraries other than kafka-python stay at WARNING")
"""


def test_kafka_level_lets_kafka_pythons_warnings_through_and_nothing_else() -> None:
    done = subprocess.run(
        [sys.executable, "-c", KAFKA_LEVEL_PROGRAM], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    assert [(line["event"], line["logger"]) for line in lines] == [("heartbeat failed", "kafka.coordinator")]


def test_the_cli_takes_the_kafka_level_from_the_settings() -> None:
    from click.testing import CliRunner

    from cli.main import cli
    from socpipe.settings import get_settings

    # The settings are read once per process (cached): an earlier test in this worker may have read
    # them, and this test's must not outlive it.
    get_settings.cache_clear()
    kafka = logging.getLogger("kafka")
    try:
        result = CliRunner().invoke(cli, ["rules", "--help"], env={"SOCPIPE_KAFKA_LOG_LEVEL": "loud"})
        assert result.exit_code == 2
        assert "setting SOCPIPE_KAFKA_LOG_LEVEL: Input should be 'DEBUG'" in result.output
        result = CliRunner().invoke(cli, ["rules", "--help"], env={"SOCPIPE_KAFKA_LOG_LEVEL": "WARNING"})
        assert result.exit_code == 0, result.output
        assert kafka.level == logging.WARNING
    finally:
        kafka.setLevel(logging.CRITICAL)
        get_settings.cache_clear()
