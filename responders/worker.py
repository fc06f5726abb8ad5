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
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import structlog
from elasticsearch import Elasticsearch
from pydantic import ValidationError

from responders.config import ConfigError, ResponderConfig, load_config, missing_secrets
from responders.evidence.chain import ChainForkError
from responders.evidence.claims import Claims
from responders.evidence.recorder import EvidenceItem, EvidenceStore
from responders.evidence.records import detection_evidence, incident_evidence
from responders.incidents import IncidentStore
from responders.indices import ensure_templates, ensure_tenant
from responders.notices.channels import build_channels
from responders.notices.notifier import Notifier, NotifyResult
from responders.notices.render import Renderer
from responders.notices.sweep import NoticeSweep, PeriodicSweep
from responders.paths import tenant_templates_dir
from responders.triage import Triage
from schemas.common import Severity
from schemas.deadletter import DeadLetter
from schemas.detection import Detection, Entity
from schemas.envelope import Envelope
from schemas.incident import Incident
from socpipe.bus import Inbound
from socpipe.es import es_client
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

    def use_metrics(self, metrics: Metrics) -> None:
        """The worker's metrics: notice outcomes are counted per tenant, not only logged."""
        self.metrics = metrics

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


def ensure_indices(settings: Settings, config: ResponderConfig | None = None) -> None:
    """Index templates, and the indices and alias of every configured tenant (idempotent)."""
    config = config or load_config(settings)
    es = es_client(settings)
    try:
        ensure_templates(es, settings)
        for tenant in config.tenants:
            ensure_tenant(es, settings, tenant)
    finally:
        es.close()


class Responders:
    """Everything the responder stage and the triage CLI share, built once from the settings."""

    def __init__(
        self, settings: Settings, config: ResponderConfig | None = None, *, check: bool = True
    ) -> None:
        self.settings = settings
        self.config = config or load_config(settings)
        self.renderer = Renderer(tenant_templates_dir())
        if check:
            problems = missing_secrets(self.config) + self.renderer.check(
                list(self.config.tenants.values()), _sample()
            )
            if problems:
                raise ConfigError(problems, title="responder configuration")
        worst = _longest_delivery_s(settings)
        if settings.claim_timeout_s < worst:
            log.warning(
                "claim timeout shorter than the longest notice delivery: a slow send may be taken over and "
                "repeated (same id)",
                claim_timeout_s=settings.claim_timeout_s,
                longest_delivery_s=worst,
            )
        self.es = es_client(settings)
        self.claims = Claims(
            self.es, owner=f"responder-{uuid.uuid4().hex[:12]}", timeout_s=settings.claim_timeout_s
        )
        self.evidence = EvidenceStore(self.es, settings, self.config.controls, self.claims)
        self.notifier = Notifier(
            self.es,
            settings,
            self.config,
            claims=self.claims,
            evidence=self.evidence,
            channels=build_channels(settings),
            renderer=self.renderer,
        )
        self.incidents = IncidentStore(self.es, settings, self.config)

    def stage(self) -> ResponderStage:
        return ResponderStage(
            self.es,
            self.settings,
            self.config,
            incidents=self.incidents,
            evidence=self.evidence,
            notifier=self.notifier,
        )

    def triage(self) -> Triage:
        return Triage(self.es, self.settings, self.evidence, self.notifier)

    def sweep(self) -> NoticeSweep:
        return NoticeSweep(self.es, self.settings, self.notifier, owner=self.claims.owner)

    def periodic_sweep(self, stage: ResponderStage) -> PeriodicSweep:
        """The stage's tenants swept every `notice_sweep_interval_s`, between its batches (not started)."""
        return PeriodicSweep(
            self.sweep(),
            self.settings.notice_sweep_interval_s,
            stage.busy,
            on_result=lambda r: stage.count_notices(r.tenant, r.delivered),
        )

    def close(self) -> None:
        self.es.close()


def _longest_delivery_s(settings: Settings) -> float:
    """Every attempt timing out, with the longest backoff (and jitter) between attempts."""
    waits = [
        min(settings.notice_backoff_s * 2**i, settings.notice_backoff_s * 16) + settings.notice_backoff_s
        for i in range(settings.notice_attempts - 1)
    ]
    return float(settings.notice_attempts * settings.notice_timeout_s + sum(waits))


def build_stage(settings: Settings, config: ResponderConfig | None = None) -> ResponderStage:
    """The stage for `socpipe.worker.run_worker`; a bad configuration fails here, before any message.

    Its notice sweep is started here too (a daemon thread: it runs between batches, ends with the process).
    """
    responders = Responders(settings, config)
    stage = responders.stage()
    responders.periodic_sweep(stage).start()
    return stage


def _sample() -> Incident:
    now = datetime.now(UTC)
    return Incident(
        id="sample",
        tenant="sample",
        title="Sample incident on host-1",
        severity=Severity.high,
        group_key="host=host-1",
        entity=Entity(host="host-1", user="alice", source_ip="192.0.2.1"),
        first_seen=now,
        last_seen=now,
        updated_at=now,
        techniques=["T1059.001"],
    )
