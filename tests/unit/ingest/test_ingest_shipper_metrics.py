"""Shipper metrics: received, published only once acknowledged, dead letters by reason, refusals,
and the pending gauges, through socpipe.metrics (no exporter calls per record)."""

from __future__ import annotations

from datetime import UTC, datetime

from ingest_fakes import RecordingPublisher

from ingest.shippers.network_sink import Message, NetworkSink
from ingest.shippers.records import Origin, RawSink
from ingest.shippers.shipper_metrics import ShipperMetrics
from schemas.topics import Topics
from socpipe.metrics import InMemoryMetrics, NullMetrics

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
TCP = Origin("acme", "syslog-tcp:0.0.0.0:601", "syslog")
UDP = Origin("acme", "syslog-udp:0.0.0.0:514", "syslog")


def _count(metrics: InMemoryMetrics, name: str, **labels: str) -> int:
    return metrics.counts[(name, tuple(sorted(labels.items())))]


def test_published_and_dead_letters_count_only_once_kafka_acknowledged() -> None:
    """Written records are not `published` until the flush returns; dead letters are counted by a
    short reason (oversize, encoding), each under its source and tenant."""
    metrics = InMemoryMetrics()
    sink = RawSink(RecordingPublisher(), Topics(), max_record_bytes=100, metrics=ShipperMetrics(metrics))  # type: ignore[arg-type]
    sink.ship(TCP, b"<13>Nov 30 08:00:00 h app: one", NOW)
    sink.ship(TCP, b"<13>Nov 30 08:00:00 h app: two", NOW)
    sink.ship(UDP, b"\xff\xfe not utf-8", NOW)
    sink.ship(UDP, b"z" * 200, NOW)
    assert not metrics.counts, "nothing is published before Kafka acknowledges it"
    sink.flush()
    tcp = {"source": TCP.source, "tenant": "acme"}
    assert _count(metrics, "ingest_records_published", **tcp) == 2
    assert _count(metrics, "ingest_dead_letters", source=UDP.source, tenant="acme", reason="encoding") == 1
    assert _count(metrics, "ingest_dead_letters", source=UDP.source, tenant="acme", reason="oversize") == 1
    sink.flush()
    assert _count(metrics, "ingest_records_published", **tcp) == 2, "a second flush counts nothing twice"


def test_network_sink_counts_received_and_pending_until_acknowledged() -> None:
    """Submitted batches count as received; the pending gauges hold them until the sink thread's flush,
    then fall to zero as they become published."""
    metrics = InMemoryMetrics()
    raw = RawSink(RecordingPublisher(), Topics(), metrics=ShipperMetrics(metrics, interval_s=0))  # type: ignore[arg-type]
    sink = NetworkSink(raw, max_queued_bytes=1 << 20)
    sink.try_submit([Message(TCP, b"a" * 100, NOW), Message(TCP, b"b" * 100, NOW)])
    sink.try_submit([Message(UDP, b"c" * 50, NOW)])
    assert _count(metrics, "ingest_records_received", source=TCP.source, tenant="acme") == 2
    assert _count(metrics, "ingest_records_received", source=UDP.source, tenant="acme") == 1
    assert metrics.gauges[("ingest_pending_records", ())] == 3
    assert metrics.gauges[("ingest_pending_bytes", ())] == 250 + 3 * 200
    sink.start()
    sink.close()
    assert _count(metrics, "ingest_records_published", source=TCP.source, tenant="acme") == 2
    assert _count(metrics, "ingest_records_published", source=UDP.source, tenant="acme") == 1
    assert metrics.gauges[("ingest_pending_records", ())] == 0
    assert metrics.gauges[("ingest_pending_bytes", ())] == 0


def test_refusals_are_exported_at_once() -> None:
    """A refusal (a client's 401, a dropped datagram) reaches the exporter immediately, by reason."""
    metrics = InMemoryMetrics()
    counts = ShipperMetrics(metrics, interval_s=3600)
    counts.refused("http:0.0.0.0:8080", "auth")
    counts.refused("http:0.0.0.0:8080", "auth")
    counts.refused(UDP.source, "udp_drop")
    assert _count(metrics, "ingest_refused", source="http:0.0.0.0:8080", reason="auth") == 2
    assert _count(metrics, "ingest_refused", source=UDP.source, reason="udp_drop") == 1


def test_without_an_exporter_nothing_is_kept() -> None:
    """NullMetrics (no --metrics-port): the counting calls return at once and hold nothing."""
    counts = ShipperMetrics(NullMetrics())
    assert not counts.enabled
    counts.received(TCP.source, "acme", 5)
    counts.written(TCP.source, "acme")
    counts.acknowledged()
    assert not counts._due and not counts._unacknowledged
