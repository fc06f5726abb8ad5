"""End to end through real Kafka and Elasticsearch: sample logs -> incidents, notices, evidence.

The same path `socpipe demo` runs: the file-tail shipper, the normalise, detector and responder
workers in their consumer groups, and a real SMTP server receiving the client notices.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cli.demo import run_pipeline_once, sample_files
from cli.demo_levels import check_service_levels, write_demo_tenants
from devtools.mailbox import RFC5321_MAX_LINE, Mailbox
from responders.config import tenants_path
from responders.evidence.audit import verify_live
from responders.report.gather import ReportReader
from responders.worker import Responders
from schemas.common import utc_now
from schemas.sla import ClockKind
from socpipe.settings import Settings

pytestmark = [pytest.mark.kafka, pytest.mark.elasticsearch]


@pytest.fixture
def mailbox(tmp_path: Path) -> Mailbox:
    with Mailbox(tmp_path / "mailbox") as box:
        yield box  # type: ignore[misc]


def test_samples_become_grouped_incidents_notices_and_evidence(
    settings: Settings, mailbox: Mailbox, tmp_path: Path
) -> None:
    """Every stage runs for real; each tenant gets its own incidents, notices and an intact chain. On the
    demo's tenants file, ACME's critical incident breaches its 3 s acknowledgement promise: one breach
    recorded, one escalation to the provider's on-call however often the check runs, and the breach in
    ACME's report."""
    tenants = write_demo_tenants(tenants_path(None), tmp_path / "tenants.yaml")
    settings = settings.model_copy(
        update={"smtp_host": mailbox.host, "smtp_port": mailbox.port, "tenants_file": tenants}
    )
    run = run_pipeline_once(settings, sample_files(), tmp_path / "checkpoints")
    assert run.shipped == 67
    assert run.stages["normalise"].records == 67 and run.stages["normalise"].dead_letters == 0
    assert run.stages["detector"].records == 67

    responders = Responders(settings, check=False)
    try:
        acme = {i.title: i for i in responders.triage().list("acme")}
        globex = responders.triage().list("globex")
        # rules/incident_grouping.yaml: acme wants one incident per host, credential dumping on its own.
        assert sorted(acme) == sorted(
            [
                "2 rules on WS-ACME-02",
                "Mimikatz Credential Dumping Command Line on WS-ACME-02",
                "4 rules on SRV-ACME-DB",
            ]
        ), sorted(acme)
        ws = acme["2 rules on WS-ACME-02"]
        assert ws.detection_count == 2 and ws.severity == "high"
        db = acme["4 rules on SRV-ACME-DB"]
        assert {"socpipe-heuristic-first-time-service", "9c2d4e5f-6a7b-4c8d-9e0f-1a2b3c4d0c04"} <= set(
            db.rule_ids
        )
        mimikatz = acme["Mimikatz Credential Dumping Command Line on WS-ACME-02"]
        assert mimikatz.detection_count == 2
        assert mimikatz.severity == "critical"
        assert mimikatz.entity.host == "WS-ACME-02"
        assert "T1003.001" in mimikatz.techniques
        assert [i.title for i in globex] == ["Encoded PowerShell Command Line on GLX-WEB-1"]
        assert globex[0].entity.host == "GLX-WEB-1"

        for tenant in ("acme", "globex"):
            result = verify_live(responders.es, settings, tenant)
            assert result.ok and result.checked > 0, (tenant, result)
        recipients = [p.name for p in mailbox.messages()]
        # acme is told of incidents from high up (3), globex from medium (1): rules/tenants.yaml.
        assert len(recipients) == 4, recipients

        checked = check_service_levels(responders) + check_service_levels(responders)
        assert [k for r in checked for k in r.recorded] == [f"sla_breach:{mimikatz.id}:acknowledge"]
        assert sum(len(r.escalated) for r in checked) == 1
        oncall = [p for p in mailbox.messages() if "provider.example" in p.name]
        assert len(oncall) == 1 and mimikatz.id in oncall[0].read_text(errors="replace")
        now = utc_now()
        report, _ = ReportReader(responders.es, settings, responders.config).tenant_report(
            "acme", f"{now.astimezone(ZoneInfo('Europe/Berlin')):%Y-%m}", now
        )
        assert [(b.incident_id, b.kind) for b in report.breaches] == [(mimikatz.id, ClockKind.acknowledge)]
        assert report.breached == 1 and report.compliance_pct is not None and report.compliance_pct < 100
    finally:
        responders.close()

    recipients = [p.name for p in mailbox.messages() if "provider.example" not in p.name]
    assert all("acme.example" in r or "globex.example" in r for r in recipients)
    for path in mailbox.messages():
        assert max(len(line) for line in path.read_bytes().splitlines()) <= RFC5321_MAX_LINE - 2
        body = path.read_text(errors="replace")
        other = "globex" if "acme.example" in path.name else "acme"
        assert f"{other}.example" not in body.lower().replace(path.name, ""), "a notice leaked another tenant"


def test_a_replay_duplicates_nothing(settings: Settings, mailbox: Mailbox, tmp_path: Path) -> None:
    """A second run ships nothing new (checkpoints); re-driving the same logs from the start through every
    stage adds no incident, no detection count, no notice and no evidence record."""
    settings = settings.model_copy(update={"smtp_host": mailbox.host, "smtp_port": mailbox.port})
    run_pipeline_once(settings, sample_files(), tmp_path / "checkpoints")
    responders = Responders(settings, check=False)
    try:
        before = {i.id: i.detection_count for i in responders.triage().list()}
        notices_before = len(mailbox.messages())
        evidence_before = {t: verify_live(responders.es, settings, t).checked for t in ("acme", "globex")}
        again = run_pipeline_once(settings, sample_files(), tmp_path / "checkpoints")
        assert again.shipped == 0
        replay = run_pipeline_once(settings, sample_files(), tmp_path / "checkpoints", replay=True)
        assert replay.shipped == 67 and replay.stages["responder"].records >= 7
        after = {i.id: i.detection_count for i in responders.triage().list()}
        assert after == before
        assert len(mailbox.messages()) == notices_before
        evidence_after = {t: verify_live(responders.es, settings, t).checked for t in ("acme", "globex")}
        assert evidence_after == evidence_before
    finally:
        responders.close()
