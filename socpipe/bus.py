"""The one Kafka wrapper: producers set for durability, consumers set for at-least-once.

Every stage gets its producer and consumers here, so durability settings (acks=all, idempotence,
manual commits) cannot differ between stages by accident.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, KafkaTimeoutError, TopicAlreadyExistsError
from kafka.producer.future import FutureRecordMetadata

from socpipe.errors import ServerUnavailableError
from socpipe.logging import get_logger
from socpipe.metrics import Metrics, NullMetrics
from socpipe.outage import Availability, wait_out
from socpipe.settings import Settings

# Largest message socpipe writes (detector state snapshots); compacted topics are created to accept it.
log = get_logger(__name__)

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
TOPIC_METADATA_WAIT_S = 3.0  # how long a group member waits for a just-created topic's partitions


@dataclass(frozen=True, slots=True)
class Outbound:
    """A message a stage wants written; the worker loop sends it before committing input offsets.
    A None value is a tombstone: on a compacted topic it deletes the key."""

    topic: str
    value: bytes | None
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class Inbound:
    """A consumed record, decoupled from kafka-python's type so stages test without a broker."""

    topic: str
    partition: int
    offset: int
    value: bytes
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp_ms: int | None = None


class DeliveryError(KafkaError):  # type: ignore[misc]  # kafka-python is untyped
    """Kafka did not acknowledge a write: the batch's input offsets must not be committed.

    `retriable` (as kafka-python's own errors) when every failure is one Kafka recovers from (timeouts,
    a broker away): the caller waits the outage out and writes again (socpipe.outage); otherwise the
    write itself was refused.
    """

    def __init__(
        self, message: str, *, transient: bool, failed: Sequence[tuple[int, BaseException]] = ()
    ) -> None:
        super().__init__(message)
        self.retriable = transient
        self.failed = list(failed)  # (position among the flushed sends, why): every write not acknowledged


def _transient(error: BaseException | None) -> bool:
    return error is None or bool(getattr(error, "retriable", False)) or isinstance(error, KafkaTimeoutError)


def _security(settings: Settings) -> dict[str, Any]:
    """The client settings for the brokers' security protocol: SASL and TLS, the same for producers,
    consumers, readers and the admin client."""
    conf: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    if settings.kafka_sasl_mechanism:
        conf["sasl_mechanism"] = settings.kafka_sasl_mechanism
        conf["sasl_plain_username"] = settings.kafka_sasl_username
        conf["sasl_plain_password"] = (
            settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else None
        )
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        conf["ssl_check_hostname"] = settings.kafka_ssl_check_hostname
        files = {
            "ssl_cafile": settings.kafka_ssl_cafile,
            "ssl_certfile": settings.kafka_ssl_certfile,
            "ssl_keyfile": settings.kafka_ssl_keyfile,
        }
        conf.update({name: str(path) for name, path in files.items() if path is not None})
        if settings.kafka_ssl_password is not None:
            conf["ssl_password"] = settings.kafka_ssl_password.get_secret_value()
    return conf


#: What to send instead of a message Kafka refused for good (a dead letter), or None to let it go (the
#: callback logs and counts it). Called with the message and Kafka's error.
OnRefused = Callable[[Outbound, BaseException], "Outbound | None"]


@dataclass
class OutagePolicy:
    """How a publisher waits out Kafka outages: until `stop`, reporting to `metrics`; and, with
    `on_refused`, what becomes of a message Kafka refuses for good (too large for the topic, not
    authorised): without it such a flush raises."""

    stop: threading.Event
    metrics: Metrics | None = None
    on_refused: OnRefused | None = None

    availability: Availability = field(init=False)

    def __post_init__(self) -> None:
        self.availability = Availability(self.metrics or NullMetrics())


@dataclass
class Publisher:
    """Sends messages and waits for every acknowledgement on `flush`.

    kafka-python 3 has no bounded send buffer of its own, so the bound is here: once `max_pending`
    messages await acknowledgement, `send` blocks on a flush. When Kafka is slow, callers slow down
    (a receiver stops reading, a file tail stops reading) instead of memory growing.

    `outages`: set (by `survive_outages`) on publishers whose input cannot be read again (stdin, the
    network receivers): a flush then waits out a Kafka outage of any length and sends what it had not
    got acknowledged again, instead of raising. Not for transactional publishers (the file tail ends
    its transaction and resumes from its checkpoint instead).
    """

    producer: KafkaProducer
    max_pending: int = 50_000
    factory: Callable[[], KafkaProducer] | None = None  # builds a fresh producer for `reset`
    outages: OutagePolicy | None = None
    _pending: list[FutureRecordMetadata] = field(default_factory=list)
    _sent: list[Outbound] = field(default_factory=list)  # what _pending carries, with `outages` set
    _stale: bool = False  # the producer was closed by `reset`: rebuilt at the next send

    def survive_outages(
        self,
        stop: threading.Event | None = None,
        metrics: Metrics | None = None,
        on_refused: OnRefused | None = None,
    ) -> Publisher:
        self.outages = OutagePolicy(stop or threading.Event(), metrics, on_refused)
        return self

    def send(self, message: Outbound) -> None:
        if len(self._pending) >= self.max_pending:
            self.flush()
        if self.outages is not None:
            self._sent.append(message)
        self._pending.append(
            self._live().send(
                message.topic, value=message.value, key=message.key, headers=list(message.headers)
            )
        )

    def send_all(self, messages: Iterable[Outbound]) -> None:
        for message in messages:
            self.send(message)

    def flush(self, timeout_s: float = 60.0) -> int:
        """Block until all sent messages are acknowledged (through outages, with `outages` set)."""
        if self.outages is None:
            return self._flush_once(timeout_s)
        policy, batch, attempts = self.outages, self._sent, [0]
        self._sent = []

        def attempt() -> int:
            if attempts[0]:
                self.reset()
                for message in batch:
                    self._pending.append(self._live().send(
                        message.topic, value=message.value, key=message.key, headers=list(message.headers)
                    ))  # fmt: skip
            attempts[0] += 1
            return self._flush_once(timeout_s)

        try:
            return wait_out(
                attempt, waiting_for="kafka, to deliver what was received", stop=policy.stop,
                availability=policy.availability,
            )  # fmt: skip
        except DeliveryError as exc:
            if policy.on_refused is None or not exc.failed:
                raise
            return self._settle_refused(batch, exc, policy.on_refused, timeout_s)

    def _settle_refused(
        self, batch: list[Outbound], exc: DeliveryError, on_refused: OnRefused, timeout_s: float
    ) -> int:
        """After a flush Kafka refused in part: each refused message alone again (a refusal may be its
        batch-mate's: one record too large fails its whole producer batch), and what Kafka still refuses
        alone goes to `on_refused`, whose replacements (dead letters) are sent and flushed in turn.
        Returns how many of `batch` Kafka acknowledged."""
        refused_at = {position for position, _ in exc.failed}
        acknowledged = len(batch) - len(refused_at)
        replacements: list[Outbound] = []
        policy = self.outages
        assert policy is not None
        alone = OutagePolicy(policy.stop, policy.metrics)  # no on_refused: a refusal alone raises
        alone.availability = policy.availability
        self.reset()  # what the old producer still retries would add copies of its own
        self.outages = alone
        try:
            for position in sorted(refused_at):
                message = batch[position]
                try:
                    self.send(message)
                    self.flush(timeout_s)
                    acknowledged += 1
                except DeliveryError as refusal:
                    reason = refusal.failed[0][1] if refusal.failed else refusal
                    replacement = on_refused(message, reason)
                    if replacement is not None:
                        replacements.append(replacement)
        finally:
            self.outages = policy
        if replacements:
            # A replacement Kafka refuses too is told to `on_refused` (which logs and counts it) and let
            # go: a replacement of a replacement could go on for ever.
            def tell_only(message: Outbound, error: BaseException) -> None:
                on_refused(message, error)

            self.outages = OutagePolicy(policy.stop, policy.metrics, tell_only)
            self.outages.availability = policy.availability
            try:
                self.send_all(replacements)
                self.flush(timeout_s)
            finally:
                self.outages = policy
        return acknowledged

    def _flush_once(self, timeout_s: float) -> int:
        """Block until all sent messages are acknowledged; raise DeliveryError if any failed.

        Either way nothing stays pending: after a DeliveryError the caller sends the lot again
        (after `reset`, so the old producer's retries do not add copies of their own)."""
        timed_out: KafkaError | None = None
        deadline = time.monotonic() + timeout_s
        while not self._stale:  # nothing was sent on a producer not yet rebuilt
            try:
                self.producer.flush(timeout=max(0.1, deadline - time.monotonic()))
                break
            except KafkaTimeoutError as exc:
                timed_out = exc
                break
            except KafkaError as exc:
                # kafka-python's flush gives up early ("Future not done") on a batch the broker refused
                # as too large while it splits and resends it: flush again, within the same time.
                if time.monotonic() >= deadline:
                    timed_out = exc
                    break
                time.sleep(0.05)  # never a busy loop, should an error come back at once
        pending, self._pending = self._pending, []
        failures = [f.exception for f in pending if f.failed()]
        unfinished = sum(1 for f in pending if not f.is_done)
        if failures or unfinished or timed_out:
            unacknowledged = KafkaTimeoutError("not acknowledged within the flush")
            raise DeliveryError(
                f"{len(failures)} writes failed, {unfinished} unacknowledged"
                f"{' (flush timed out)' if timed_out else ''}; first: {failures[:1]}",
                transient=all(_transient(f) for f in failures),
                # Every write not acknowledged, by position: a caller may settle them one by one.
                failed=[(i, f.exception if f.failed() else unacknowledged) for i, f in enumerate(pending)
                        if not f.succeeded()],
            )  # fmt: skip
        return len(pending)

    def reset(self) -> None:
        """After a failed flush: drop the producer (and whatever it still retries) for a fresh one."""
        self._pending = []
        if self.factory is None:
            return
        with contextlib.suppress(Exception):
            self.producer.close(timeout=0)
        self._stale = True  # rebuilt at the next send: while Kafka is away, building one would fail here

    def _live(self) -> KafkaProducer:
        if self._stale and self.factory is not None:
            self.producer = self.factory()
            self._stale = False
        return self.producer

    def close(self, timeout_s: float = 10) -> None:
        if not self._stale:
            self.producer.close(timeout=timeout_s)


def _learn_partitions(consumer: KafkaConsumer, topics: Sequence[str], wait_s: float) -> None:
    """The subscribed topics' partitions in the consumer's metadata before it joins its group.

    Fetched after subscribing, so kafka-python's metadata snapshot of the subscription has them too.
    Without them a group leader assigns nothing ("No partition metadata" from the range assignor, seen
    for topics created a second before); fetched before subscribing, the snapshot misses them and the
    group rebalances again half a second later. Either way the first records waited on a second
    rebalance, and a batch caught in it had to be done again. A topic created a moment before (the
    stage's own ensure_pipeline_topics) may take a moment more to reach the broker's metadata: it is
    waited for up to `wait_s`.
    """
    for topic in topics:
        deadline = time.monotonic() + wait_s
        known = consumer.partitions_for_topic(topic)
        while not known and time.monotonic() < deadline:
            time.sleep(0.1)
            known = consumer.partitions_for_topic(topic)
        if wait_s and not known:
            log.warning("topic has no partitions yet: consuming starts once it has", topic=topic)


def check_kafka(settings: Settings, timeout_s: float = 3.0) -> None:
    """Raise ServerUnavailableError unless one bootstrap server accepts a connection within `timeout_s`.

    kafka-python retries a missing broker for about 30 s before it raises; one-shot commands call this
    first so that a broker that is down costs seconds and one line naming it.
    """
    last: OSError | None = None
    for server in settings.kafka_bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
            return
        except OSError as exc:
            last = exc
    detail = (last.strerror or str(last)) if last else ""
    raise ServerUnavailableError("Kafka", settings.kafka_bootstrap_servers, "KAFKA_BOOTSTRAP_SERVERS", detail)


class KafkaBus:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topics = settings.topics

    def check(self, timeout_s: float = 3.0) -> KafkaBus:
        """This bus, once a broker answered (`check_kafka`): for one-shot commands, before any client."""
        check_kafka(self.settings, timeout_s)
        return self

    def publisher(self, **overrides: Any) -> Publisher:
        conf: dict[str, Any] = {
            "bootstrap_servers": self.settings.kafka_bootstrap_servers.split(","),
            "acks": "all",
            "enable_idempotence": True,
            "retries": 2_147_483_647,
            "max_in_flight_requests_per_connection": 5,
            # lz4, not gzip: kafka-python compresses in the calling process, and gzip (level 9) was the
            # largest single cost of the normalise worker's producer (benchmarks/pipeline-results.md).
            "compression_type": "lz4",
            "linger_ms": 5,
            "batch_size": 256 * 1024,
            "max_block_ms": 60_000,
            "max_request_size": MAX_MESSAGE_BYTES,
            "reconnect_backoff_max_ms": self.settings.kafka_reconnect_backoff_max_ms,
            # Used only by a transactional producer (the file tail): bounds how long a transaction a
            # dead or disconnected shipper left open holds read_committed readers up.
            "transaction_timeout_ms": self.settings.kafka_transaction_timeout_ms,
            **_security(self.settings),
        }
        conf.update(overrides)
        if "buffer_memory" not in KafkaProducer.DEFAULT_CONFIG:
            # kafka-python 3 has no buffer_memory (its accumulator is unbounded) and refuses unknown
            # settings: callers that must bound memory cap their unacknowledged sends and flush.
            conf.pop("buffer_memory", None)
        return Publisher(KafkaProducer(**conf), factory=lambda: KafkaProducer(**conf))

    def consumer(self, group_id: str, topics: Sequence[str], **overrides: Any) -> KafkaConsumer:
        conf: dict[str, Any] = {
            "bootstrap_servers": self.settings.kafka_bootstrap_servers.split(","),
            "group_id": group_id,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "max_poll_records": self.settings.batch_size,
            "isolation_level": "read_committed",
            "session_timeout_ms": self.settings.kafka_session_timeout_ms,
            "heartbeat_interval_ms": self.settings.kafka_heartbeat_interval_ms,
            "max_poll_interval_ms": self.settings.kafka_max_poll_interval_ms,
            "reconnect_backoff_max_ms": self.settings.kafka_reconnect_backoff_max_ms,
            **_security(self.settings),
        }
        if self.settings.kafka_group_instance_id and group_id:
            conf["group_instance_id"] = f"{group_id}-{self.settings.kafka_group_instance_id}"
        conf.update(overrides)
        consumer = KafkaConsumer(**conf)
        consumer.subscribe(list(topics))
        try:
            _learn_partitions(consumer, topics, TOPIC_METADATA_WAIT_S if group_id else 0.0)
        except BaseException:
            consumer.close()
            raise
        return consumer

    def reader(self, **overrides: Any) -> KafkaConsumer:
        """A consumer outside any group, for reading a topic from the start (state, checkpoints)."""
        conf: dict[str, Any] = {
            "bootstrap_servers": self.settings.kafka_bootstrap_servers.split(","),
            "group_id": None,
            "enable_auto_commit": False,
            "isolation_level": "read_committed",
            "reconnect_backoff_max_ms": self.settings.kafka_reconnect_backoff_max_ms,
            **_security(self.settings),
        }
        conf.update(overrides)
        return KafkaConsumer(**conf)

    def admin(self, **overrides: Any) -> KafkaAdminClient:
        """An admin client (topics, consumer groups' committed offsets); the caller closes it."""
        conf: dict[str, Any] = {
            "bootstrap_servers": self.settings.kafka_bootstrap_servers.split(","),
            **_security(self.settings),
        }
        conf.update(overrides)
        return KafkaAdminClient(**conf)

    def ensure_topics(self, names: Iterable[str], compacted: Iterable[str] = ()) -> None:
        """Create missing topics; compacted ones keep the latest value per key (detector state)."""
        compacted_set = set(compacted)
        admin = self.admin()
        try:
            existing = set(admin.list_topics())
            wanted = [
                NewTopic(
                    name=name,
                    num_partitions=self.settings.topic_partitions,
                    replication_factor=self.settings.topic_replication_factor,
                    topic_configs=(
                        {"cleanup.policy": "compact", "max.message.bytes": str(MAX_MESSAGE_BYTES)}
                        if name in compacted_set
                        else {}
                    ),
                )
                for name in dict.fromkeys(names)
                if name not in existing
            ]
            if wanted:
                with contextlib.suppress(TopicAlreadyExistsError):  # another worker created it first
                    admin.create_topics(wanted)
        finally:
            admin.close()

    def ensure_pipeline_topics(self) -> None:
        t = self.topics
        self.ensure_topics(
            [t.raw, t.ecs, t.dlq, t.detections, t.contributions, t.detector_state],
            compacted=[t.detector_state],
        )
