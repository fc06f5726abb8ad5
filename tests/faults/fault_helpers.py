"""Helpers of the fault tests: run socpipe commands as processes on the private pair, read what they wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from socpipe.settings import Settings


def socpipe_process(settings: Settings, *args: str, log: Path, **env: str) -> subprocess.Popen[bytes]:
    """`socpipe ARGS` on the settings' servers and prefixes, its JSON log lines (stderr) into `log`."""
    command = [str(Path(sys.executable).parent / "socpipe"), *args]
    environment = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "ELASTICSEARCH_URL": settings.elasticsearch_url,
        "SOCPIPE_TOPIC_PREFIX": settings.topic_prefix,
        "SOCPIPE_INDEX_PREFIX": settings.index_prefix,
        "SOCPIPE_POLL_TIMEOUT_MS": "300",
        **env,
    }
    handle = log.open("ab")
    return subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=handle)


def log_lines(log: Path) -> list[dict[str, object]]:
    """The JSON lines of a process's log; a line that is not JSON fails the test (logs are all JSON)."""
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"a log line of {log.name} is not JSON: {line!r}") from None
    return out


def wait_for(check: Callable[[], bool], timeout_s: float, what: str, step_s: float = 0.5) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out after {timeout_s:.0f} s waiting for {what}"
        time.sleep(step_s)


def stop_process(process: subprocess.Popen[bytes], timeout_s: float = 30) -> int:
    process.terminate()
    try:
        return process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
        raise AssertionError("the process did not stop within 30 s of SIGTERM") from None


def topic_values(settings: Settings, topic: str) -> list[bytes]:
    """Every committed record of `topic` (read_committed), read from the start."""
    from kafka.structs import TopicPartition

    from socpipe.bus import KafkaBus

    consumer = KafkaBus(settings).reader()
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not tps:
            return []
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        out: list[bytes] = []
        deadline = time.monotonic() + 30
        while any(consumer.position(tp) < end[tp] for tp in tps) and time.monotonic() < deadline:
            for tp, batch in consumer.poll(timeout_ms=500).items():
                out += [r.value for r in batch if r.offset < end[tp]]
        return out
    finally:
        consumer.close()
