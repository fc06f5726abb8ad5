"""RawSink: where every shipper puts what it read, as RawRecords on events.raw or dead letters.

The Kafka key is `tenant:host`, so one host's records stay on one partition, in order. The sink does
not parse: it checks only that a record is UTF-8 and not oversized, and dead-letters it otherwise,
with the original bytes (the head of them when oversized: a dead letter must fit in Kafka too).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from kafka.partitioner.default import DefaultPartitioner, murmur2

from ingest.parsers import default_registry
from ingest.parsers.base import time_zone
from ingest.shippers.shipper_metrics import ShipperMetrics
from schemas.common import utc_now
from schemas.deadletter import DeadLetter, SourcePosition
from schemas.topics import Topics
from socpipe.bus import Outbound, Publisher
from socpipe.logging import get_logger

log = get_logger(__name__)

# A raw line longer than this is refused; the encoded RawRecord must also fit under the broker's
# default message.max.bytes (1 MB), so JSON escaping is checked after encoding as well.
DEFAULT_MAX_RECORD_BYTES = 512 * 1024
MAX_ENCODED_BYTES = 1_000_000
# How much of an oversized record a dead letter keeps.
DEAD_LETTER_HEAD_BYTES = 64 * 1024


class CachedKeyPartitioner(DefaultPartitioner):  # type: ignore[misc]
    """kafka-python's default key -> partition mapping (murmur2, as Java's), memoised per key.

    Shippers send many records under few keys (tenant:host); hashing each key once instead of once
    per record saves a tenth of the producer's per-record cost. The mapping is unchanged, so records
    keyed alike land together whoever produced them.
    """

    def __init__(self, max_keys: int = 100_000) -> None:
        self._cache: dict[tuple[bytes, int], int] = {}
        self._max_keys = max_keys

    def partition(  # noqa: PLR0917 - kafka-python calls it with these six positional arguments
        self,
        topic: str,
        key: Any,
        serialized_key: bytes | None,
        value: Any,
        serialized_value: Any,
        cluster: Any,
    ) -> int:
        partitions = cluster.partitions_for_topic(topic)
        if serialized_key is None or not partitions:
            return int(super().partition(topic, key, serialized_key, value, serialized_value, cluster))
        cached = self._cache.get((serialized_key, len(partitions)))
        if cached is None:
            if len(self._cache) >= self._max_keys:
                self._cache.clear()
            cached = sorted(partitions)[(murmur2(serialized_key) & 0x7FFFFFFF) % len(partitions)]
            self._cache[(serialized_key, len(partitions))] = cached
        return cached


def ingest_producer_settings() -> dict[str, Any]:
    """Overrides of KafkaBus.publisher() for shippers: durability stays (acks=all, idempotence,
    retries); lz4 instead of gzip level 9, 1 MiB batches and a cached partitioner for throughput."""
    return {
        "compression_type": "lz4",
        "batch_size": 1024 * 1024,
        "linger_ms": 20,
        "partitioner": CachedKeyPartitioner(),
    }


def source_timezone(name: str | None, parser: str) -> str | None:
    """A shipper's time zone setting, checked at start: an IANA name, for a parser that reads it.

    ValueError says what is wrong with the value; the caller names the setting it came from.
    """
    if name is None:
        return None
    time_zone(name)
    registry = default_registry()
    if not registry.get(parser).local_times:
        readers = [p for p in registry.names() if registry.get(p).local_times]
        raise ValueError(
            f"parser {parser!r} reads no local times, so time zone {name!r} would be ignored; "
            f"it applies to: {', '.join(readers)}"
        )
    return name


@dataclass(frozen=True, slots=True)
class Origin:
    """What a shipper knows about one input before reading it: whose it is, what it is, how to parse.

    `timezone` is the source's IANA zone for times its lines give without an offset (RFC 3164).
    """

    tenant: str
    source: str
    parser: str
    host: str | None = None
    path: str | None = None
    timezone: str | None = None

    def key(self, host: str | None = None) -> bytes:
        return f"{self.tenant}:{host or self.host or ''}".encode()


@dataclass
class SinkStats:
    shipped: int = 0
    dead_letters: int = 0
    bytes: int = 0


@dataclass
class RawSink:
    publisher: Publisher
    topics: Topics
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
    stats: SinkStats = field(default_factory=SinkStats)
    metrics: ShipperMetrics = field(default_factory=ShipperMetrics)

    def ship(
        self,
        origin: Origin,
        data: bytes,
        received_at: datetime,
        *,
        offset: int | None = None,
        line: int | None = None,
        peer: str | None = None,
        host: str | None = None,
        length: int | None = None,
    ) -> bool:
        """Publish one record (True), or dead-letter it (False). `length` > len(data): data is a head."""
        size = len(data) if length is None else length
        if size > self.max_record_bytes:
            self.refuse(
                origin, data, f"record of {size} bytes exceeds the limit of {self.max_record_bytes} bytes",
                "RecordTooLarge", received_at, offset=offset, line=line, peer=peer,
            )  # fmt: skip
            return False
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.refuse(
                origin, data, f"not UTF-8: {exc.reason} at byte {exc.start}", "UnicodeDecodeError",
                received_at, offset=offset, line=line, peer=peer,
            )  # fmt: skip
            return False
        record = {
            "tenant": origin.tenant,
            "source": origin.source,
            "parser": origin.parser,
            "received_at": received_at,
            "path": origin.path,
            "offset": offset,
            "line": line,
            "peer": peer,
            "host_hint": host or origin.host,
            "data": text,
        }
        if origin.timezone is not None:  # only then: records without one stay readable by older stages
            record["timezone"] = origin.timezone
        value = orjson.dumps(record)
        if len(value) > MAX_ENCODED_BYTES:
            self.refuse(
                origin, data, f"record encodes to {len(value)} bytes, over Kafka's {MAX_ENCODED_BYTES}",
                "RecordTooLarge", received_at, offset=offset, line=line, peer=peer,
            )  # fmt: skip
            return False
        self.publisher.send(Outbound(self.topics.raw, value, origin.key(host)))
        self.metrics.written(origin.source, origin.tenant)
        self.stats.shipped += 1
        self.stats.bytes += size
        return True

    def refuse(
        self,
        origin: Origin,
        data: bytes,
        reason: str,
        error_type: str,
        received_at: datetime,
        *,
        offset: int | None = None,
        line: int | None = None,
        peer: str | None = None,
    ) -> None:
        """Dead-letter what the shipper read but cannot ship, with where it was and why."""
        original = data[:DEAD_LETTER_HEAD_BYTES]
        if len(original) < len(data) or error_type == "RecordTooLarge":
            reason += f"; the dead letter keeps its first {len(original)} bytes"
        letter = DeadLetter(
            reason=reason,
            stage="ingest",
            parser=origin.parser,
            source=origin.source,
            tenant=origin.tenant,
            error_type=error_type,
            position=SourcePosition(path=origin.path, offset=offset, line=line, peer=peer),
            original=original,
            failed_at=received_at,
            replay_topic=self.topics.raw,
            timezone=origin.timezone,
        )
        self.publisher.send(
            Outbound(self.topics.dlq, letter.model_dump_json().encode(), origin.tenant.encode())
        )
        self.metrics.dead_lettered(origin.source, origin.tenant, error_type)
        self.stats.dead_letters += 1

    def refused_by_kafka(self, message: Outbound, error: BaseException) -> Outbound | None:
        """For `Publisher.survive_outages(on_refused=...)`: the dead letter of a record Kafka refused for
        good (larger than the topic's max.message.bytes, not authorised, ...), with Kafka's reason, so a
        receiver keeps serving instead of exiting. A refused dead letter cannot be kept: it is logged
        and counted, and let go."""
        reason = f"Kafka refused the write to {message.topic}: {type(error).__name__}: {error}"
        if message.topic != self.topics.raw or message.value is None:
            log.error("kafka refused a dead letter: it is lost", topic=message.topic, reason=reason)
            self.metrics.refused("dead-letter", "kafka_refused_dead_letter")
            return None
        record = orjson.loads(message.value)
        data = str(record.get("data", "")).encode()
        original = data[:DEAD_LETTER_HEAD_BYTES]
        if len(original) < len(data):
            reason += f"; the dead letter keeps its first {len(original)} bytes"
        letter = DeadLetter(
            reason=reason,
            stage="ingest",
            parser=record.get("parser"),
            source=record.get("source"),
            tenant=record.get("tenant"),
            error_type="KafkaRefused",
            position=SourcePosition(
                path=record.get("path"), offset=record.get("offset"), line=record.get("line"),
                peer=record.get("peer"),
            ),
            original=original,
            failed_at=record.get("received_at") or utc_now(),
            replay_topic=self.topics.raw,
            timezone=record.get("timezone"),
        )  # fmt: skip
        log.warning("kafka refused a record: dead-lettered", tenant=letter.tenant, reason=reason)
        self.metrics.dead_lettered(letter.source or "unknown", letter.tenant or "unknown", "KafkaRefused")
        self.stats.shipped -= 1
        self.stats.dead_letters += 1
        return Outbound(self.topics.dlq, letter.model_dump_json().encode(), (letter.tenant or "").encode())

    def flush(self) -> int:
        """Wait until Kafka acknowledged everything sent; raises socpipe.bus.DeliveryError otherwise."""
        acknowledged = self.publisher.flush()
        self.metrics.acknowledged()
        return acknowledged
