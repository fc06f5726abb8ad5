"""The responder's wiring: its collaborators built once from the settings, shared by the stage and triage.

The stage itself (what happens to a batch of detections) is in stage.py; this module only builds: the
Elasticsearch client, claims, the evidence store, the notifier with its channels and templates, the
incident store, and hands them to the stage, to the triage commands and to the notice sweep. A bad
configuration fails here, before the worker reads a message.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from responders.config import ConfigError, ResponderConfig, load_config, missing_secrets
from responders.evidence.claims import Claims
from responders.evidence.recorder import EvidenceStore
from responders.incidents import IncidentStore
from responders.indices import ensure_templates, ensure_tenant
from responders.notices.channels import build_channels
from responders.notices.notifier import Notifier
from responders.notices.render import Renderer
from responders.notices.sweep import NoticeSweep, sweep_round
from responders.paths import tenant_templates_dir
from responders.sla.reader import ClockReader
from responders.sla.watch import SlaWatch
from responders.stage import ResponderStage
from responders.triage import Triage
from schemas.common import Severity
from schemas.detection import Entity
from schemas.incident import Incident
from socpipe.es import es_client
from socpipe.logging import get_logger
from socpipe.periodic import Periodic
from socpipe.settings import Settings

log = get_logger(__name__)


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

    def sla_watch(self) -> SlaWatch:
        return SlaWatch(
            ClockReader(self.es, self.settings, self.config),
            self.evidence,
            self.notifier,
            interval_s=self.settings.sla_check_interval_s,
        )

    def periodic_sla(self, stage: ResponderStage) -> Periodic:
        """The service-level watch every `sla_check_interval_s`, between the stage's batches (not started)."""
        stage.sla = self.sla_watch()
        watch = stage.sla
        return Periodic("sla-watch", self.settings.sla_check_interval_s, lambda: watch.run_once(stage.busy))

    def periodic_sweep(self, stage: ResponderStage) -> Periodic:
        """The stage's tenants swept every `notice_sweep_interval_s`, between its batches (not started)."""
        sweeper = self.sweep()
        return Periodic(
            "notice-sweep",
            self.settings.notice_sweep_interval_s,
            lambda: sweep_round(
                sweeper, stage.busy, on_result=lambda r: stage.count_notices(r.tenant, r.delivered)
            ),
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

    Its notice sweep and service-level watch are started here too (daemon threads: they run between
    batches, and end with the process).
    """
    responders = Responders(settings, config)
    stage = responders.stage()
    responders.periodic_sweep(stage).start()
    responders.periodic_sla(stage).start()
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
