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

from kafka.partitioner.default import murmur2
from kafka.structs import TopicPartition

from schemas.raw import FileCheckpoint
from socpipe.bus import KafkaBus, Outbound
from socpipe.logging import get_logger

log = get_logger(__name__)

# How far back from a partition's end one read goes when looking for the latest checkpoint of a key.
_SCAN_STEP = 2_000


def checkpoint_key(checkpoint_id: str) -> bytes:
    return checkpoint_id.encode()


class LocalCheckpoints:
    """One JSON file per input under `directory`, replaced atomically (write, fsync, rename)."""

    def __init__(self, directory: Path, checkpoint_id: str) -> None:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in checkpoint_id)
        self.path = directory / f"{safe}.json"

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

    def ensure_topic(self) -> None:
        self.bus.ensure_topics([self.topic], compacted=[self.topic])

    def outbound(self, checkpoint: FileCheckpoint) -> Outbound:
        return Outbound(self.topic, checkpoint.model_dump_json().encode(), self.key)

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
