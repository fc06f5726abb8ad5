"""What a shipper tells the operator, through socpipe.metrics (Prometheus when a port is set).

    ingest_records_received   {source, tenant}          records read and taken on for Kafka
    ingest_records_published  {source, tenant}          RawRecords Kafka acknowledged on events.raw
    ingest_dead_letters       {source, tenant, reason}  records Kafka acknowledged on events.dlq
                                                        (oversize, encoding, bad_json)
    ingest_refused            {source, reason}          inputs turned away, nothing written: HTTP
                                                        requests (auth, oversize, backpressure,
                                                        bad_request, unavailable), UDP datagrams
                                                        (udp_drop)
    ingest_pending_records, ingest_pending_bytes        taken on, not yet acknowledged by Kafka

So `received = published + dead letters + pending`. Per-record counts are kept in plain counters
and handed to the Metrics at each acknowledgement (a network sink's flush, a file tail's commit)
and, while records arrive, at most every `interval_s`: a record costs a dict increment, not an
exporter call, and `published` and dead letters count only what Kafka acknowledged. Refusals are
exported at once. Without metrics (NullMetrics) nothing is kept at all.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

from socpipe.metrics import Metrics, NullMetrics

# DeadLetter.error_type -> the `reason` label: short, stable names an alert can match.
DEAD_LETTER_REASONS = {
    "RecordTooLarge": "oversize",
    "UnicodeDecodeError": "encoding",
    "JSONDecodeError": "bad_json",
}

_Labels = tuple[tuple[str, str], ...]


class ShipperMetrics:
    """Thread-safe: receivers count on the event loop, the Kafka sink on its own thread."""

    def __init__(self, metrics: Metrics | None = None, *, interval_s: float = 0.5) -> None:
        self.metrics = metrics or NullMetrics()
        self.enabled = not isinstance(self.metrics, NullMetrics)
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._due: Counter[tuple[str, _Labels]] = Counter()  # deltas not yet exported
        self._unacknowledged: Counter[tuple[str, _Labels]] = Counter()  # written, not yet acknowledged
        self._pending: dict[str, float] = {}
        self._exported_at = time.monotonic()

    # --- counting (cheap) ---------------------------------------------------------------------

    def received(self, source: str, tenant: str, n: int = 1) -> None:
        self._add(self._due, "ingest_records_received", n, source=source, tenant=tenant)

    def refused(self, source: str, reason: str, n: int = 1) -> None:
        """Exported at once: a refusal is rare, and may be the only thing happening (a client's 401s)."""
        if self.enabled:
            self.metrics.count("ingest_refused", n, source=source, reason=reason)

    def written(self, source: str, tenant: str) -> None:
        """A RawRecord handed to the producer: published once `acknowledged`."""
        self._add(self._unacknowledged, "ingest_records_published", 1, source=source, tenant=tenant)

    def dead_lettered(self, source: str, tenant: str, error_type: str) -> None:
        reason = DEAD_LETTER_REASONS.get(error_type, error_type)
        self._add(self._unacknowledged, "ingest_dead_letters", 1, source=source, tenant=tenant, reason=reason)

    def pending(self, records: int, size: int | None = None) -> None:
        """What awaits Kafka's acknowledgement now (records, and bytes where a budget counts them)."""
        if not self.enabled:
            return
        with self._lock:
            self._pending["ingest_pending_records"] = records
            if size is not None:
                self._pending["ingest_pending_bytes"] = size

    # --- exporting ----------------------------------------------------------------------------

    def acknowledged(self) -> None:
        """Kafka acknowledged everything written so far: count it as published, and export."""
        if not self.enabled:
            return
        with self._lock:
            self._due.update(self._unacknowledged)
            self._unacknowledged.clear()
        self.export()

    def export_if_due(self) -> None:
        if self.enabled and time.monotonic() - self._exported_at >= self.interval_s:
            self.export()

    def export(self) -> None:
        """Hand the counts gathered since the last export, and the pending gauges, to the Metrics."""
        if not self.enabled:
            return
        with self._lock:
            due, self._due = self._due, Counter()
            pending = dict(self._pending)
            self._exported_at = time.monotonic()
        for (name, labels), value in due.items():
            self.metrics.count(name, value, **dict(labels))
        for gauge, level in pending.items():
            self.metrics.gauge(gauge, level)

    def _add(self, into: Counter[tuple[str, _Labels]], name: str, n: int, **labels: str) -> None:
        if not self.enabled:
            return
        with self._lock:
            into[(name, tuple(labels.items()))] += n
