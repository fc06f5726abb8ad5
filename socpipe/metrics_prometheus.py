"""The Prometheus exporter behind the Metrics interface: what the operator scrapes, graphs and alerts on.

Each instance keeps its own registry, so tests (and two exporters in one process) never collide, with
the process collectors (CPU, memory, open files, GC) beside socpipe's metrics. A metric is declared on
its first use with that call's label names; a later call with other label names or another kind is a
bug in the caller and raises ValueError, as prometheus-client itself would.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from contextlib import suppress
from typing import TypeVar
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    GC_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

NAMESPACE = "socpipe"

# Seconds: from a few milliseconds (a small batch) to the two minutes a slow Elasticsearch write may take.
BATCH_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

HELP: dict[str, str] = {
    "records_processed": "Input records a stage processed and committed.",
    "dead_letters": "Input records a stage sent to the dead-letter topic (bad input, kept with the reason).",
    "outputs": "Messages a stage wrote, by output topic.",
    "batch_duration_seconds": "Wall time of one batch: process, write, wait for acknowledgements, commit.",
    "consumer_lag": "Records behind: end offset minus the worker's position, per assigned partition.",
    "server_available": "1 while the process reaches the server (kafka, elasticsearch), 0 during an outage.",
    "notices": "Client notices the responder handled, by tenant and result (sent, failed, superseded).",
    "batches_redone": "Batches done again from the last commit after an outage or a lost partition.",
    # The responder's service-level watch (responders/sla/watch.py).
    "sla_clocks": "Open service-level clocks by tenant, severity, clock, state (running, paused, breached).",
    "sla_breaches": "Service-level breaches recorded (each once, as evidence, and escalated to the on-call).",
    # The shippers' (socpipe ingest file | syslog | http), from ingest.shippers.shipper_metrics.
    "ingest_records_received": "Records a shipper read and took on for Kafka.",
    "ingest_records_published": "Records a shipper wrote to the raw topic, acknowledged by Kafka.",
    "ingest_dead_letters": "Records a shipper dead-lettered (acknowledged by Kafka), by reason.",
    "ingest_refused": "Inputs a shipper turned away, nothing written: HTTP requests, UDP datagrams.",
    "ingest_pending_records": "Records a shipper took on that Kafka has not acknowledged yet.",
    "ingest_pending_bytes": "Bytes held against a network shipper's budget (--max-queued-bytes).",
}

M = TypeVar("M", Counter, Gauge, Histogram)


class PrometheusMetrics:
    """Metrics in a Prometheus registry, served over HTTP by `serve` (text exposition format)."""

    def __init__(self, *, process_collectors: bool = True, buckets: Sequence[float] = BATCH_BUCKETS) -> None:
        self.registry = CollectorRegistry()
        self._buckets = tuple(buckets)
        self._declared: dict[str, tuple[MetricWrapperBase, tuple[str, ...]]] = {}
        self._lock = threading.Lock()
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        if process_collectors:
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
            self.registry.register(GC_COLLECTOR)

    def count(self, name: str, value: int = 1, **labels: str) -> None:
        self._child(Counter, name, labels).inc(value)

    def gauge(self, name: str, value: float, **labels: str) -> None:
        self._child(Gauge, name, labels).set(value)

    def observe(self, name: str, value: float, **labels: str) -> None:
        self._child(Histogram, name, labels).observe(value)

    def unset(self, name: str, **labels: str) -> None:
        declared = self._declared.get(name)
        if declared is None:
            return
        metric, names = declared
        with suppress(KeyError):  # never set, or already gone: nothing to forget
            metric.remove(*(labels[n] for n in names))

    def exposition(self) -> bytes:
        """The text a scrape returns; for tests and for a one-off look without an HTTP server."""
        return generate_latest(self.registry)

    def serve(self, host: str, port: int) -> int:
        """Serve /metrics on host:port in a daemon thread; port 0 takes a free one. Returns the port."""
        if self._server is not None:
            raise RuntimeError("this exporter is already serving")
        self._server, self._thread = start_http_server(port, addr=host, registry=self.registry)
        return int(self._server.server_port)

    def close(self) -> None:
        """Stop serving (the registry stays readable through `exposition`)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _child(self, kind: type[M], name: str, labels: dict[str, str]) -> M:
        declared = self._declared.get(name)
        if declared is None:
            with self._lock:
                declared = self._declared.get(name) or self._declare(kind, name, tuple(sorted(labels)))
        metric, names = declared
        if not isinstance(metric, kind):
            raise ValueError(f"metric {name!r} is a {type(metric).__name__}, not a {kind.__name__}")
        if labels.keys() != set(names):
            raise ValueError(f"metric {name!r} has labels {list(names)}, got {sorted(labels)}")
        return metric.labels(*(labels[n] for n in names)) if names else metric

    def _declare(
        self, kind: type[M], name: str, names: tuple[str, ...]
    ) -> tuple[MetricWrapperBase, tuple[str, ...]]:
        doc = HELP.get(name, f"socpipe {name.replace('_', ' ')}.")
        metric: MetricWrapperBase = (
            Histogram(name, doc, names, namespace=NAMESPACE, registry=self.registry, buckets=self._buckets)
            if kind is Histogram
            else kind(name, doc, names, namespace=NAMESPACE, registry=self.registry)
        )
        self._declared[name] = (metric, names)
        return metric, names
