"""The events indexer (`socpipe events index`): events.ecs in, each tenant's daily events index out.

A stage on the one worker loop (socpipe/worker.py), in its own consumer group, so it reads every event
without slowing the detectors. Per batch, one bulk request writes the events of the tenants that opted
in (`events_index.enabled` in rules/tenants.yaml; off by default) to `<prefix>-events-<tenant>-<day>`,
the day being the event's `@timestamp` in UTC. Then the loop commits.

- **Exactly once, near enough.** The document id is the event's id (the envelope's, deterministic from
  the source record), written with `op_type=create`: a replayed batch finds its documents there (409)
  and writes nothing twice.
- **Tenants apart.** The index is named by the envelope's tenant, and an event whose payload names
  another tenant is a dead letter, never indexed anywhere. A record that is no event envelope at all
  is logged and counted (`events_invalid`) but not dead-lettered: the detector group reads the same
  record and keeps it as its dead letter, and two letters would re-drive it twice.
- **Outages.** Elasticsearch away (connection errors, 429, 5xx, per request or per document) raises an
  error the loop recognises as an outage (socpipe/outage.py): it waits, rewinds to the last commit and
  redoes the batch. A document Elasticsearch refuses for itself (400) is a dead letter with the reason.
- Events older than their tenant's retention are skipped: `events prune` would delete their index.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import structlog
from elasticsearch import Elasticsearch
from elasticsearch.helpers import BulkIndexError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from responders.events.names import events_index
from schemas.common import TenantId
from schemas.envelope import Envelope
from schemas.tenant import Tenant
from socpipe.bus import Inbound
from socpipe.es import bulk_items
from socpipe.logging import get_logger
from socpipe.metrics import Metrics, NullMetrics
from socpipe.settings import Settings
from socpipe.worker import StageOutput, dead_letter

log = get_logger(__name__)
_RECORD_CONTEXT = ("topic", "partition", "offset", "tenant")


class IndexedEvent(BaseModel):
    """What the indexer checks of an event (the normaliser validated the rest): its time and tenant.
    Every other field is kept as it came, so the document is the event as on events.ecs."""

    model_config = ConfigDict(extra="allow")

    timestamp: datetime = Field(alias="@timestamp")
    tenant: TenantId


EventEnvelope = Envelope[IndexedEvent]


class EventRefusedError(ValueError):
    """Elasticsearch refused one event for itself (a 4xx other than a conflict): bad input."""


class EventsIndexStage:
    name = "events-index"

    def __init__(
        self,
        es: Elasticsearch,
        settings: Settings,
        tenants: Mapping[str, Tenant],
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
    ) -> None:
        self.es = es
        self.settings = settings
        self.tenants = tenants
        self.today = today
        self.metrics: Metrics = NullMetrics()

    def use_metrics(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def process(self, batch: Sequence[Inbound]) -> StageOutput:
        out = StageOutput()
        ops: list[dict[str, Any]] = []
        records: list[Inbound] = []
        skipped = invalid = 0
        oldest = {t.id: self.today() - timedelta(days=t.events_index.retention_days) for t in self._on()}
        try:
            for record in batch:
                structlog.contextvars.bind_contextvars(
                    topic=record.topic, partition=record.partition, offset=record.offset, tenant=None
                )
                try:
                    envelope = EventEnvelope.model_validate_json(record.value)
                except ValidationError as exc:
                    # The detector, reading the same record, dead-letters it already: a second letter
                    # would only replay it twice into events.ecs.
                    log.warning("not an event envelope: left to the detector's dead letter", error=str(exc))
                    invalid += 1
                    continue
                if envelope.kind != "event" or envelope.payload.tenant != envelope.tenant:
                    wrong = ValueError(
                        f"not an event of tenant {envelope.tenant!r}: kind {envelope.kind!r}, "
                        f"payload tenant {envelope.payload.tenant!r}"
                    )
                    out.dead_letters.append(dead_letter(record, self.name, wrong, tenant=envelope.tenant))
                    continue
                tenant = envelope.tenant
                if tenant not in oldest:
                    continue  # the tenant has no events index
                if envelope.payload.timestamp.astimezone(UTC).date() < oldest[tenant]:
                    skipped += 1
                    continue
                index = events_index(self.settings, tenant, envelope.payload.timestamp)
                ops += [{"create": {"_index": index, "_id": envelope.id}}, event_document(envelope)]
                records.append(record)
        finally:
            structlog.contextvars.unbind_contextvars(*_RECORD_CONTEXT)
        indexed = self._write(ops, records, out)
        self.metrics.count("events_indexed", indexed, stage=self.name)
        self.metrics.count("events_skipped_past_retention", skipped, stage=self.name)
        self.metrics.count("events_invalid", invalid, stage=self.name)
        return out

    def _on(self) -> list[Tenant]:
        return [t for t in self.tenants.values() if t.events_index.enabled]

    def _write(self, ops: list[dict[str, Any]], records: list[Inbound], out: StageOutput) -> int:
        """One bulk request; the documents created (a replay's are there already: 409, not counted)."""
        results = bulk_items(self.es, ops)
        retriable = [r for r in results if r.get("status", 0) == 429 or r.get("status", 0) >= 500]
        if retriable:  # the loop waits the outage out and redoes the batch (socpipe/outage.py)
            raise BulkIndexError(f"{len(retriable)} events not indexed: Elasticsearch unavailable", retriable)
        for record, result in zip(records, results, strict=True):
            if result.get("error") and result.get("status") != 409:
                refused = EventRefusedError(f"elasticsearch refused the event: {result['error']}")
                out.dead_letters.append(dead_letter(record, self.name, refused))
        return sum(1 for r in results if r.get("status") == 201)


def event_document(envelope: Envelope[IndexedEvent]) -> dict[str, Any]:
    """The event as on events.ecs, with `organization.id` set to its tenant (ECS's name for it, on which
    the client spaces and saved searches filter)."""
    doc = envelope.payload.model_dump(mode="json", by_alias=True, exclude_none=True)
    doc["organization"] = {"id": envelope.tenant}
    return doc
