"""`socpipe demo`: the whole pipeline on the shipped sample logs, in one command.

Starts the local servers unless a cluster is configured, receives the notices in a local SMTP
mailbox, runs every stage until it is idle, and prints what was found and where to look, with each
tenant's monthly report (HTML and PDF) so far. Runs are
idempotent: a second run ships nothing new (the file checkpoints) and duplicates nothing.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import click

from cli.worker_commands import consume
from socpipe.bus import KafkaBus
from socpipe.paths import REPO_DIR, samples_dir
from socpipe.settings import Settings, load_settings
from socpipe.worker import Stage, WorkerStats

if TYPE_CHECKING:
    from responders.sla.watch import CheckResult
    from responders.worker import Responders

DEMO_DIR = REPO_DIR / ".socpipe" / "demo"
IDLE_POLLS = 4  # a stage is done once this many polls in a row bring nothing


@dataclass
class PipelineRun:
    shipped: int = 0
    stages: dict[str, WorkerStats] = field(default_factory=dict)


def sample_files() -> dict[str, Path]:
    """Tenant -> sample file: `acme-windows.jsonl` belongs to tenant `acme`."""
    return {p.name.split("-", 1)[0]: p for p in sorted(samples_dir().glob("*-windows.jsonl"))}


def ship_files(
    settings: Settings,
    files: dict[str, Path],
    state_dir: Path,
    *,
    replay: bool = False,
    parsers: Mapping[str, str] | None = None,
) -> int:
    """Ship each tenant's file to events.raw with the file-tail shipper, once, from its checkpoint
    (or, with `replay`, from the start again: what an operator does to re-drive a day of logs).
    `parsers` names each tenant's parser (default: windows, the samples' format)."""
    from ingest.shippers.tail import FileTail, TailOptions

    bus = KafkaBus(settings)
    shipped = 0
    for tenant, path in files.items():
        parser = (parsers or {}).get(tenant, "windows")
        options = TailOptions(
            tenant=tenant, parser=parser, host="demo-shipper", state_dir=state_dir, from_beginning=replay
        )
        shipped += FileTail(path, options, bus).run().shipped
    return shipped


def run_until_idle(settings: Settings, stage: Stage, group: str, topic: str) -> WorkerStats:
    return consume(settings, stage, group, topic, stop=threading.Event(), idle_exit=IDLE_POLLS)


def run_pipeline_once(
    settings: Settings,
    files: dict[str, Path],
    state_dir: Path,
    *,
    replay: bool = False,
    parsers: Mapping[str, str] | None = None,
) -> PipelineRun:
    """Ship the files, then run normalise, detector, correlate and responder until each is idle."""
    from detectors.build import build_correlate_stage, build_detector_stage
    from ingest.normalise import build_stage as build_normalise_stage
    from responders.worker import build_stage as build_responder_stage
    from responders.worker import ensure_indices

    KafkaBus(settings).ensure_pipeline_topics()
    responder = build_responder_stage(settings)
    ensure_indices(settings, responder.config)
    run = PipelineRun(shipped=ship_files(settings, files, state_dir, replay=replay, parsers=parsers))
    topics = settings.topics
    run.stages["normalise"] = run_until_idle(
        settings, build_normalise_stage(settings), settings.normalise_group, topics.raw
    )
    detector = build_detector_stage(settings)
    run.stages["detector"] = run_until_idle(settings, detector, settings.detector_group, topics.ecs)
    correlate = build_correlate_stage(settings)
    run.stages["correlate"] = run_until_idle(
        settings, correlate, settings.correlate_group, topics.contributions
    )
    run.stages["responder"] = run_until_idle(settings, responder, settings.responder_group, topics.detections)
    return run


def _endpoints() -> tuple[str, str]:
    kafka, es = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("ELASTICSEARCH_URL")
    if kafka and es:
        return kafka, es
    import devtools as devservers

    click.echo("starting local Kafka and Elasticsearch (socpipe dev up) ...", err=True)
    endpoints = devservers.up()
    return kafka or endpoints.kafka_bootstrap, es or endpoints.elasticsearch_url


@click.command("demo")
def demo() -> None:
    """Run every stage on the sample logs and show the incidents, notices and evidence."""
    from cli.demo_levels import write_demo_tenants
    from devtools.mailbox import Mailbox
    from responders.config import load_config, tenants_path
    from socpipe.bus import check_kafka
    from socpipe.es import check_elasticsearch

    kafka, es = _endpoints()
    servers = load_settings(kafka_bootstrap_servers=kafka, elasticsearch_url=es)
    load_config(servers)  # the tenants file the demo copies is valid, or one line says where it is not
    check_kafka(servers)
    check_elasticsearch(servers)
    tenants = write_demo_tenants(tenants_path(servers), DEMO_DIR / "tenants.yaml")
    with Mailbox(DEMO_DIR / "mailbox") as mailbox:
        settings = load_settings(
            kafka_bootstrap_servers=kafka,
            elasticsearch_url=es,
            tenants_file=tenants,
            topic_prefix="demo.",
            index_prefix="socpipe-demo",
            smtp_host=mailbox.host,
            smtp_port=mailbox.port,
            normalise_group="demo-normalise",
            detector_group="demo-detectors",
            correlate_group="demo-correlators",
            poll_timeout_ms=500,
            responder_group="demo-responders",
        )
        run = run_pipeline_once(settings, sample_files(), DEMO_DIR / "checkpoints")
        _report(settings, run, mailbox.directory)


def _triage_hint(settings: Settings) -> str:
    """The triage command as it can be pasted: with the settings a bare `socpipe` would not have."""
    defaults = load_settings()
    env = {"SOCPIPE_INDEX_PREFIX": settings.index_prefix}
    if settings.tenants_file is not None:
        env["SOCPIPE_TENANTS_FILE"] = str(settings.tenants_file)
    if settings.elasticsearch_url != defaults.elasticsearch_url:
        env["ELASTICSEARCH_URL"] = settings.elasticsearch_url
    prefix = " ".join(f"{k}={v}" for k, v in env.items())
    return f"{prefix} socpipe incident list"


def _service_levels(responders: Responders, checked: list[CheckResult]) -> str:
    """What the SLA watch found: clocks breached, and what this run recorded and escalated of them (a
    second demo run finds the same breach, already recorded and escalated once)."""
    from schemas.sla import ClockState

    breached = {c.key for r in checked for c in r.clocks if c.state == ClockState.breached}
    recorded = sum(len(r.recorded) for r in checked)
    escalated = sum(len(r.escalated) for r in checked)
    oncall = ", ".join(r.destination for r in responders.config.provider.oncall) or "no on-call route"
    return (
        f"\nservice levels: {len(breached)} promise(s) breached; this run recorded {recorded} breach(es) as "
        f"evidence and sent {escalated} escalation(s) to the provider's on-call ({oncall})\n"
        f"  the demo's promises: {responders.settings.tenants_file}"
    )


def _report(settings: Settings, run: PipelineRun, mailbox: Path) -> None:
    """The summary, built whole and then printed at once, so log lines (stderr) cannot land inside it
    when both go to one file."""
    from cli.demo_levels import check_service_levels
    from responders.evidence.audit import verify_live
    from responders.report.gather import ReportReader, write_tenant
    from responders.worker import Responders
    from schemas.common import utc_now

    lines: list[str] = []
    responders = Responders(settings, check=False)
    reports = ReportReader(responders.es, settings, responders.config)
    try:
        checked = check_service_levels(responders)
        now = utc_now()
        lines.append(f"\nshipped {run.shipped} new log lines from {samples_dir()}")
        for name, stats in run.stages.items():
            written = ", ".join(
                f"{n} to {t.removeprefix(settings.topic_prefix)}"
                for t, n in sorted(stats.outputs_by_topic.items())
            )
            lines.append(
                f"  {name:9s} {stats.records:5d} in  {stats.dead_letters} dead letters  "
                f"{written or 'no Kafka output'}"
            )
        for tenant in sample_files():
            incidents = responders.triage().list(tenant)
            lines.append(f"\ntenant {tenant}: {len(incidents)} incidents")
            for inc in incidents:
                lines.append(
                    f"  [{inc.severity.value:8s}] {inc.title}  x{inc.detection_count}  "
                    f"{inc.entity.host or '-'}  id={inc.id}"
                )
            result = verify_live(responders.es, settings, tenant)
            verdict = "intact" if result.ok else f"BROKEN at {result.first_break}"
            lines.append(f"  evidence chain: {result.checked} records, {verdict}")
            month = f"{now.astimezone(ZoneInfo(responders.config.tenant(tenant).timezone)):%Y-%m}"
            files = write_tenant(reports.tenant_report(tenant, month, now)[0], DEMO_DIR / "reports")
            lines.append(f"  monthly report: {files.pdf} (and .html)")
        lines.append(_service_levels(responders, checked))
        mails = sorted(mailbox.glob("*.eml"))
        lines.append(f"\n{len(mails)} notices in the demo mailbox {mailbox}")
        lines.append(
            f"\nElasticsearch indices: {settings.index_prefix}-incidents-<tenant>, -evidence-<tenant> ... at "
            f"{settings.elasticsearch_url}\n"
            f"triage:  {_triage_hint(settings)}\n"
            f"service levels: {_triage_hint(settings).replace('incident list', 'sla status')}\n"
            f"stop the local servers: socpipe dev down"
        )
    finally:
        responders.close()
    click.echo("\n".join(lines))
