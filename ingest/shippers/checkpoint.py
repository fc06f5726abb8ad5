"""Where a file tail remembers how far it shipped: a compacted Kafka topic, and a local file.

In exactly-once mode the checkpoint record is written in the same Kafka transaction as the lines it
covers, so the two commit or abort together: a SIGKILL at any moment leaves Kafka with lines and a
checkpoint that agree, and a restart resumes from that checkpoint with nothing lost or repeated (the
approach of Kafka Connect's exactly-once source connectors, KIP-618). The local file is written after
the commit; it is what the at-least-once mode (brokers without transactions) resumes from, and is
never ahead of Kafka.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from kafka.errors import KafkaTimeoutError
from kafka.partitioner.default import murmur2
from kafka.structs import TopicPartition

from ingest.shippers.records import ingest_producer_settings
from schemas.raw import FileCheckpoint
from socpipe.bus import DeliveryError, KafkaBus, Outbound, Publisher
from socpipe.logging import get_logger

log = get_logger(__name__)

# How far back from a partition's end one read goes when looking for the latest checkpoint of a key.
_SCAN_STEP = 2_000


def checkpoint_key(checkpoint_id: str) -> bytes:
    return checkpoint_id.encode()


def safe_name(checkpoint_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in checkpoint_id)


class LocalCheckpoints:
    """One JSON file per input under `directory`, replaced atomically (write, fsync, rename)."""

    def __init__(self, directory: Path, checkpoint_id: str) -> None:
        self.path = directory / f"{safe_name(checkpoint_id)}.json"

    @staticmethod
    def load_all(directory: Path, id_prefix: str) -> dict[str, FileCheckpoint]:
        """Every local checkpoint whose id starts with `id_prefix`, by file name (the id made safe)."""
        out = {}
        for path in sorted(directory.glob(f"{safe_name(id_prefix)}*.json")):
            try:
                out[path.stem] = FileCheckpoint.model_validate_json(path.read_bytes())
            except (OSError, ValueError):
                log.warning("unreadable local checkpoint skipped", path=str(path))
        return out

    def load(self) -> FileCheckpoint | None:
        try:
            return FileCheckpoint.model_validate_json(self.path.read_bytes())
        except FileNotFoundError:
            return None

    def save(self, checkpoint: FileCheckpoint) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("wb") as handle:
            handle.write(checkpoint.model_dump_json().encode())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)


class KafkaCheckpoints:
    """The latest checkpoint per key on a compacted topic, read back from the end of its partition."""

    def __init__(self, bus: KafkaBus, checkpoint_id: str) -> None:
        self.bus = bus
        self.topic = bus.topics.ingest_checkpoints
        self.key = checkpoint_key(checkpoint_id)

    def outbound(self, checkpoint: FileCheckpoint) -> Outbound:
        return Outbound(self.topic, checkpoint.model_dump_json().encode(), self.key)

    @staticmethod
    def load_all(bus: KafkaBus, id_prefix: str) -> dict[bytes, FileCheckpoint]:
        """The latest committed checkpoint of every key starting with `id_prefix`: the topic read whole
        (it is compacted, so about one record per key ever written)."""
        topic = bus.topics.ingest_checkpoints
        prefix = checkpoint_key(id_prefix)
        consumer = bus.consumer(None, [topic])  # type: ignore[arg-type]  # no group: a reader
        latest: dict[bytes, bytes | None] = {}
        try:
            consumer.unsubscribe()
            tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
            if not tps:
                return {}
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            end = consumer.end_offsets(tps)
            deadline = time.monotonic() + 60
            while any(consumer.position(tp) < end[tp] for tp in tps):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"reading {topic} took over 60 s")
                for tp, batch in consumer.poll(timeout_ms=1000).items():
                    for record in batch:
                        if record.offset < end[tp] and record.key and record.key.startswith(prefix):
                            latest[record.key] = record.value
        finally:
            consumer.close()
        return {k: FileCheckpoint.model_validate_json(v) for k, v in latest.items() if v is not None}

    def load(self) -> FileCheckpoint | None:
        """The key's latest committed checkpoint: scan back from the end, a step at a time."""
        consumer = self.bus.consumer(None, [self.topic])  # type: ignore[arg-type]  # no group: a reader
        try:
            consumer.unsubscribe()
            partitions = sorted(consumer.partitions_for_topic(self.topic) or ())
            if not partitions:
                return None
            tp = TopicPartition(self.topic, partitions[(murmur2(self.key) & 0x7FFFFFFF) % len(partitions)])
            consumer.assign([tp])
            begin, end = consumer.beginning_offsets([tp])[tp], consumer.end_offsets([tp])[tp]
            upper = end
            while upper > begin:
                lower = max(begin, upper - _SCAN_STEP)
                consumer.seek(tp, lower)
                latest: bytes | None = None
                deadline = time.monotonic() + 30
                while consumer.position(tp) < upper and time.monotonic() < deadline:
                    batch = consumer.poll(timeout_ms=1000).get(tp, [])
                    for record in batch:
                        if record.offset < upper and record.key == self.key:
                            latest = record.value
                if latest is not None:
                    return FileCheckpoint.model_validate_json(latest)
                upper = lower
            return None
        finally:
            consumer.close()


def tail_publisher(bus: KafkaBus, overrides: dict[str, Any], transactional_id: str | None) -> Publisher:
    """A file tail's producer: the shippers' settings, the tail's overrides, and its transactional id in
    exactly-once mode (one id per input, so a restarted tail fences and aborts its killed predecessor)."""
    settings = {**ingest_producer_settings(), **overrides}
    if transactional_id is not None:
        settings["transactional_id"] = transactional_id
    return bus.publisher(**settings)


def start_transactions(bus: KafkaBus, publisher: Publisher, exactly_once: bool) -> None:
    """Before a tail loads its checkpoints: the topic exists, and in exactly-once mode the producer's
    `init_transactions` has aborted what a killed predecessor with its transactional id left open."""
    bus.ensure_topics([bus.topics.ingest_checkpoints], compacted=[bus.topics.ingest_checkpoints])
    if exactly_once:
        publisher.producer.init_transactions()
        publisher.producer.begin_transaction()


def commit_with(publisher: Publisher, checkpoints: list[Outbound], exactly_once: bool) -> None:
    """Make everything sent since the last commit durable: in exactly-once mode together with
    `checkpoints`, in one transaction (aborted if Kafka refuses any of it), then the next one begun;
    otherwise wait for the acknowledgements (the caller then writes its local checkpoints)."""
    producer = publisher.producer
    if not exactly_once:
        publisher.flush()
        return
    for checkpoint in checkpoints:
        publisher.send(checkpoint)
    try:
        publisher.flush()
    except DeliveryError:
        end_transaction(producer, commit=False)
        raise
    end_transaction(producer, commit=True)
    producer.begin_transaction()


END_TRANSACTION_TIMEOUT_S = 60.0


def end_transaction(producer: Any, *, commit: bool, timeout_s: float = END_TRANSACTION_TIMEOUT_S) -> None:
    """`commit_transaction()` / `abort_transaction()` with a deadline (KafkaTimeoutError after it).

    kafka-python waits for the coordinator's answer without one, and a request lost with its connection
    (the broker killed mid-commit) then hung the tail for good: after a Kafka SIGKILL a shipper neither
    shipped nor logged for minutes (benchmarks/kafka_outage_stall.py). The timeout ends the session
    instead; the next one's `init_transactions` completes or aborts what was pending, and the tail
    resumes from the checkpoints Kafka committed: nothing lost, nothing twice.
    """
    manager = producer._transaction_manager  # private: the public calls have no timeout
    result = manager.begin_commit() if commit else manager.begin_abort()
    producer._sender.wakeup()  # as commit_transaction() does
    if not result.wait(timeout_ms=timeout_s * 1000):
        what = "commit" if commit else "abort"
        raise KafkaTimeoutError(f"no answer to the transaction's {what} within {timeout_s:.0f} s")
