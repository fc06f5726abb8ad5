"""The responder stage: detections in, incidents, evidence and notices out (all in Elasticsearch).

`process(batch)` validates each `Envelope[Detection]` (bad ones become dead letters), then per tenant
(several tenants at once, in threads: they share no document, and the time is mostly Elasticsearch
round trips): groups the detections into incidents (incidents.py), writes the evidence of each detection
and each incident version (evidence.py), and sends the notices the incidents' states call for (notices/).
Every write is idempotent, so the worker loop may commit offsets once `process` returns, and a replay
or a crash before the commit repeats nothing visible.

A tenant whose evidence chain is broken (`ChainForkError`: a record of the last block altered by a writer
outside the protocol) holds up only itself: its detections in the batch become dead letters saying what
to do (verify, repair, `socpipe dlq replay`), with one error log line, and the other tenants' are
processed and committed as usual. The chain is checked before the tenant's incidents are touched, so
such a tenant's batch normally writes nothing until it is replayed (a fork met mid-append comes after the
incidents; the replay finds them already counted).
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import structlog
from elasticsearch import Elasticsearch
from pydantic import ValidationError

from responders.config import ResponderConfig
from responders.evidence.chain import ChainForkError
from responders.evidence.recorder import EvidenceItem, EvidenceStore
from responders.evidence.records import detection_evidence, incident_evidence
from responders.incidents import IncidentStore
from responders.indices import ensure_tenant
from responders.notices.notifier import Notifier, NotifyResult
from responders.sla.watch import SlaWatch
from schemas.deadletter import DeadLetter
from schemas.detection import Detection
from schemas.envelope import Envelope
from socpipe.bus import Inbound
from socpipe.logging import get_logger
from socpipe.metrics import Metrics, NullMetrics
from socpipe.settings import Settings
from socpipe.worker import StageOutput, dead_letter

log = get_logger(__name__)


class InvalidDetection(ValueError):  # noqa: N818 - it is bad input, named for what it is
    """A well-formed message that is not a detection this stage may trust."""


class ResponderStage:
    name = "responder"

    def __init__(
        self,
        es: Elasticsearch,
        settings: Settings,
        config: ResponderConfig,
        *,
        incidents: IncidentStore,
        evidence: EvidenceStore,
        notifier: Notifier,
        tenants_at_once: int = 4,
    ) -> None:
        self.es = es
        self.settings = settings
        self.config = config
        self.incidents = incidents
        self.evidence = evidence
        self.notifier = notifier
        self.tenants_at_once = tenants_at_once
        self._ready: set[str] = set()
        self.metrics: Metrics = NullMetrics()
        self.busy = threading.Lock()  # held while a batch is processed: the notice sweep runs outside it
        self.sla: SlaWatch | None = None  # the service-level watch run beside it (build_stage)

    def use_metrics(self, metrics: Metrics) -> None:
        """The worker's metrics: notice outcomes are counted per tenant, not only logged; service-level
        clocks are gauged per tenant, severity, clock and state."""
        self.metrics = metrics
        if self.sla is not None:
            self.sla.metrics = metrics

    def process(self, batch: Sequence[Inbound]) -> StageOutput:
        with self.busy:
            return self._process(batch)

    def _process(self, batch: Sequence[Inbound]) -> StageOutput:
        output = StageOutput()
        by_tenant: dict[str, dict[str, Detection]] = {}
        records: dict[str, list[Inbound]] = {}
        for record in batch:
            try:
                detection = parse(record)
            except (ValidationError, InvalidDetection) as exc:
                output.dead_letters.append(dead_letter(record, self.name, exc, tenant=_key(record)))
                continue
            by_tenant.setdefault(detection.tenant, {})[detection.id] = detection
            records.setdefault(detection.tenant, []).append(record)

        def one(tenant: str) -> list[DeadLetter]:
            with structlog.contextvars.bound_contextvars(tenant=tenant):
                try:
                    return self.handle(tenant, list(by_tenant[tenant].values()))
                except ChainForkError as exc:
                    return self._chain_broken(tenant, records[tenant], exc)

        # Tenants share no document: their round trips overlap (a thread each, up to tenants_at_once),
        # each in a copy of this thread's log context. The first failure propagates once all are done.
        with ThreadPoolExecutor(max_workers=max(1, min(self.tenants_at_once, len(by_tenant)))) as pool:
            futures = [pool.submit(contextvars.copy_context().run, one, tenant) for tenant in by_tenant]
        for future in futures:
            output.dead_letters += future.result()
        return output

    def handle(self, tenant: str, detections: list[Detection]) -> list[DeadLetter]:
        """One tenant's detections: incidents, then evidence, then notices; return undelivered notices."""
        if tenant not in self._ready:
            ensure_tenant(self.es, self.settings, tenant)
            self._ready.add(tenant)
        # A broken chain stops the tenant before any write (ChainForkError): no incident moves on without
        # its evidence. The last block is recomputed (one mget), whether or not the head is cached.
        self.evidence.chain.check(tenant)
        applied = self.incidents.apply(tenant, detections)
        incidents = {i.id: i for i in applied.incidents}
        items: list[EvidenceItem] = [
            detection_evidence(d, incidents[applied.assignments[d.id]]) for d in detections
        ]
        items += [incident_evidence(i) for i in applied.incidents]
        written = self.evidence.record(tenant, items)
        notified = self.notifier.notify(tenant, applied.incidents)
        self.count_notices(tenant, notified)
        log.info(
            "responded",
            detections=len(detections),
            new=len(applied.new_detections),
            incidents=len(incidents),
            evidence=len(written),
            notices_sent=len(notified.sent),
            notices_failed=len(notified.failed),
            notices_superseded=len(notified.superseded),
        )
        return notified.dead_letters

    def count_notices(self, tenant: str, result: NotifyResult) -> None:
        """notices{tenant, result=sent|failed|superseded|expired}: of a batch, or of a sweep round."""
        for outcome, n in result.counts().items():
            self.metrics.count("notices", n, stage=self.name, tenant=tenant, result=outcome)

    def _chain_broken(self, tenant: str, records: list[Inbound], exc: ChainForkError) -> list[DeadLetter]:
        """The tenant's records of this batch as dead letters that say how to repair and re-drive them."""
        fix = (
            f"run `socpipe evidence verify --tenant {tenant}`, restore the altered evidence record, then "
            f"`socpipe dlq replay --tenant {tenant} --stage {self.name}`"
        )
        log.error(
            "evidence chain broken: the tenant's detections go to the dead-letter topic",
            error=str(exc),
            detections=len(records),
            fix=fix,
        )
        reason = f"evidence chain of tenant {tenant} is broken, detection not processed: {exc}; fix: {fix}"
        return [
            dead_letter(record, self.name, exc, tenant=tenant).model_copy(update={"reason": reason})
            for record in records
        ]


def _key(record: Inbound) -> str | None:
    return record.key.decode(errors="replace") if record.key else None


def parse(record: Inbound) -> Detection:
    """Validate a consumed message; its envelope, payload and Kafka key must name one tenant."""
    envelope = Envelope[Detection].model_validate_json(record.value)
    if envelope.kind != "detection":
        raise InvalidDetection(f"expected kind 'detection', got {envelope.kind!r}")
    detection = envelope.payload
    key_differs = record.key is not None and _key(record) != envelope.tenant
    if detection.tenant != envelope.tenant or key_differs:
        raise InvalidDetection(
            f"tenant mismatch: envelope {envelope.tenant!r}, payload {detection.tenant!r}, "
            f"key {_key(record)!r}"
        )
    return detection
