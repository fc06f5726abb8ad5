"""`socpipe ingest syslog` when Kafka refuses a write for good (issue 17): the receiver used to exit
("the Kafka sink has stopped"), losing every later message. Now the refused message is dead-lettered
with Kafka's reason, its batch-mates are shipped, and the receiver keeps serving.

Reproduced on the real broker with events.raw created with `max.message.bytes` of 4 KiB: a 20 KB syslog
line (within the receiver's own --max-message-bytes) is refused by Kafka with MessageSizeTooLargeError,
a permanent error, as a topic without write authorisation would be."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import time

import pytest
from ingest_helpers import dead_letters, raw_records, socpipe_command, socpipe_env
from kafka import KafkaAdminClient
from kafka.admin import NewTopic

from socpipe.bus import KafkaBus
from socpipe.settings import Settings

pytestmark = pytest.mark.kafka


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _small_raw_topic(settings: Settings) -> None:
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers.split(","))
    try:
        admin.create_topics(
            [NewTopic(settings.topics.raw, 1, 1, topic_configs={"max.message.bytes": "4096"})]
        )
    finally:
        admin.close()
    KafkaBus(settings).ensure_pipeline_topics()  # the others, as the receiver would


def _line(n: int) -> bytes:
    return f"<13>Nov 30 08:00:{n:02d} web-1 app: message {n}\n".encode()


def test_a_message_kafka_refuses_is_dead_lettered_and_the_receiver_keeps_serving(settings: Settings) -> None:
    """Two good lines, one Kafka refuses (too large for the topic), two more: the four good ones reach
    events.raw, the refused one reaches events.dlq with Kafka's reason and its source position, and the
    receiver is still running and stops cleanly (exit 0) on SIGTERM."""
    _small_raw_topic(settings)
    port = _free_port()
    process = subprocess.Popen(
        socpipe_command("ingest", "syslog", "--tcp", f"127.0.0.1:{port}", "--tenant", "acme",
                        "--max-message-bytes", "65536"),
        env=socpipe_env(settings), stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                tcp = socket.create_connection(("127.0.0.1", port), timeout=1)
                break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None, "the receiver did not start"
                time.sleep(0.2)
        big = b"<13>Nov 30 08:00:02 web-1 app: " + base64.b64encode(os.urandom(15_000)) + b"\n"
        with tcp:
            tcp.sendall(_line(0) + _line(1) + big)
            time.sleep(1.0)
            tcp.sendall(_line(3) + _line(4))
        raws = raw_records(settings, at_least=4)
        assert sorted(r.data.rsplit(" ", 1)[-1] for r in raws) == ["0", "1", "3", "4"]
        [letter] = dead_letters(settings, at_least=1)
        assert "Kafka refused the write" in letter.reason and "MessageSizeTooLarge" in letter.reason
        assert letter.error_type == "KafkaRefused" and letter.tenant == "acme" and letter.stage == "ingest"
        assert letter.original.startswith(b"<13>Nov 30 08:00:02 web-1 app: ")
        assert letter.replay_topic == settings.topics.raw and letter.position.peer
        assert process.poll() is None, "the receiver exited"
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err.decode()[-2000:]
