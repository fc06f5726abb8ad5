"""The service-level watch on real Elasticsearch, with a real SMTP server as the provider's on-call.

A breached clock yields exactly one `sla_breach` evidence record and one escalation email, however many
responders race the check, after a restart, and after a crash in the middle of the escalation.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from click.testing import Result
from elasticsearch import Elasticsearch
from responder_helpers import SmtpSink, detection, inbound, sources

from responders.notices.channels import Message
from responders.report.gather import ReportReader
from responders.worker import Responders
from schemas.common import utc_now
from socpipe.metrics import InMemoryMetrics
from socpipe.settings import Settings, get_settings

pytestmark = pytest.mark.elasticsearch

ONCALL = "oncall@provider.example"
LEVELS = (
    f"provider: {{name: Test MSSP, oncall: [{{channel: email, destination: {ONCALL}}}]}}\n"
    "service_levels:\n"
    "  targets:\n"
    "    high: {notify_within: 15m, acknowledge_within: 2h, resolve_within: 1d}\n"
)


@pytest.fixture
def sla_settings(rsettings: Settings, tmp_path: Path) -> Settings:
    """The responders' test tenants, with service levels and an on-call mailbox; stale claims after 1 s."""
    path = tmp_path / "tenants-sla.yaml"
    assert rsettings.tenants_file is not None
    path.write_text(LEVELS + Path(rsettings.tenants_file).read_text())
    return rsettings.model_copy(update={"tenants_file": path, "claim_timeout_s": 1.0})


@pytest.fixture
def make_responders(sla_settings: Settings) -> Iterator[Callable[[], Responders]]:
    built: list[Responders] = []

    def make() -> Responders:
        built.append(Responders(sla_settings))
        return built[-1]

    yield make
    for r in built:
        r.close()


def _breaches(es: Elasticsearch, settings: Settings, tenant: str = "red") -> list[str]:
    return sorted(
        s["evidence"]["evidence_key"]
        for s in sources(es, settings, "evidence", tenant)
        if s["evidence"]["record_type"] == "sla_breach"
    )


def _escalations(es: Elasticsearch, settings: Settings, tenant: str = "red") -> list[str]:
    return sorted(
        s["notice"]["incident_state"]
        for s in sources(es, settings, "notices", tenant)
        if s["notice"]["incident_state"].startswith("sla_breach:")
    )


class _CrashError(Exception):
    """The process dies in the middle of sending the escalation."""


class _CrashingChannel:
    def send(self, message: Message) -> str:
        raise _CrashError(message.notice_id)


def test_breach_recorded_and_escalated_once_across_racing_workers_a_restart_and_a_crash(
    make_responders: Callable[[], Responders], es: Elasticsearch, sla_settings: Settings, smtp: SmtpSink
) -> None:
    """Four responders race the check 3 hours on: the acknowledge clock (2h) breached, one record and one
    email to the on-call (the client notice went out at once: notify is met). A restarted responder finds
    nothing new. 25 hours on the resolve clock breaches; the first checker dies mid-send, and after the
    claim timeout a restarted one sends that escalation once, under the same notice id."""
    first = make_responders()
    first.stage().process(inbound([detection(1)]))
    later = utc_now() + timedelta(hours=3)
    workers = [make_responders().sla_watch() for _ in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda w: w.check("red", later), workers))
    assert sum(len(r.recorded) for r in results) == 1
    assert sum(len(r.escalated) for r in results) == 1
    [incident_id] = {c.incident_id for c in results[0].clocks}
    assert _breaches(es, sla_settings) == [f"sla_breach:{incident_id}:acknowledge"]
    assert _escalations(es, sla_settings) == ["sla_breach:acknowledge"]
    [mail] = smtp.to(ONCALL)
    assert "SLA BREACH" in mail["Subject"] and "acknowledge deadline missed" in mail["Subject"]
    assert all(ONCALL not in r for r in smtp.recipients if r != [ONCALL])  # the client never sees it

    restarted = make_responders().sla_watch()
    again = restarted.check("red", later)
    assert again.recorded == [] and again.escalated == []
    assert len(smtp.to(ONCALL)) == 1 and len(_breaches(es, sla_settings)) == 1

    much_later = utc_now() + timedelta(hours=25)
    dying = make_responders()
    dying.notifier.channels["email"] = _CrashingChannel()  # type: ignore[assignment]
    with pytest.raises(_CrashError):
        dying.sla_watch().check("red", much_later)
    assert len(_breaches(es, sla_settings)) == 2  # the record comes first: it is in
    assert len(smtp.to(ONCALL)) == 1  # the escalation is claimed, not sent
    time.sleep(sla_settings.claim_timeout_s + 0.2)
    metrics = InMemoryMetrics()
    after_crash = make_responders().sla_watch()
    after_crash.metrics = metrics
    resumed = after_crash.check("red", much_later)
    assert resumed.recorded == [] and len(resumed.escalated) == 1
    assert _escalations(es, sla_settings) == ["sla_breach:acknowledge", "sla_breach:resolve"]
    assert len(smtp.to(ONCALL)) == 2 and "resolve deadline missed" in smtp.to(ONCALL)[-1]["Subject"]
    assert make_responders().sla_watch().check("red", much_later).escalated == []
    assert len(smtp.to(ONCALL)) == 2
    gauges = {dict(k[1])["clock"]: v for k, v in metrics.gauges.items() if dict(k[1])["state"] == "breached"}
    assert gauges == {"acknowledge": 1, "resolve": 1}

    # The client's report lists both breaches, explained, and the verified evidence chain's head.
    reader = ReportReader(es, sla_settings, first.config)
    report, _ = reader.tenant_report("red", f"{much_later:%Y-%m}", much_later)
    assert [(b.incident_id, b.kind.value) for b in report.breaches] == [
        (incident_id, "acknowledge"),
        (incident_id, "resolve"),
    ]
    assert report.incidents == 1 and report.notices_sent >= 1 and report.compliance_pct is not None
    assert report.evidence is not None and report.evidence.ok and report.evidence.period_head_hash
    assert [r.key for r in report.top_rules] == ["rule-a"] and report.top_rules[0].count == 1


@pytest.fixture
def sla_cli(
    socpipe: Callable[..., Result], sla_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Result]:
    monkeypatch.setenv("SOCPIPE_TENANTS_FILE", str(sla_settings.tenants_file))
    get_settings.cache_clear()
    return socpipe


def test_personal_data_breach_flag_regulator_notification_sla_status_and_reports(
    sla_cli: Callable[..., Result],
    make_responders: Callable[[], Responders],
    es: Elasticsearch,
    sla_settings: Settings,
    tmp_path: Path,
) -> None:
    """Flag a blue incident as a personal-data breach: a regulator clock appears in `sla status`; the
    regulator notification stops it and is evidence; a hold shows the resolve clock paused. Then the
    client's report and the provider's are written from what was recorded."""
    make_responders().stage().process(inbound([detection(1, "blue")]))
    [clock_line, *_] = sla_cli("sla", "status", "--tenant", "blue", "--json").output.splitlines()
    incident_id = orjson.loads(clock_line)["incident_id"]
    flagged = sla_cli("incident", "flag", incident_id, "--personal-data-breach", "--reason", "HR files")
    assert flagged.exit_code == 0, flagged.output
    status = [orjson.loads(x) for x in sla_cli("sla", "status", "--json").output.splitlines()]
    kinds = {c["kind"]: c for c in status if c["incident_id"] == incident_id}
    assert set(kinds) == {"acknowledge", "resolve", "regulator"}  # notify: met when the notice went out
    assert kinds["regulator"]["state"] == "running" and 71 * 3600 < kinds["regulator"]["left_s"] <= 72 * 3600
    held = sla_cli("incident", "hold", incident_id, "--reason", "waiting for the client's answer")
    assert held.exit_code == 0, held.output
    told = sla_cli("incident", "notify-regulator", incident_id, "--reference", "BfDI-2026-7")
    assert told.exit_code == 0, told.output
    table = sla_cli("sla", "status", "--tenant", "blue")
    assert table.exit_code == 0 and "paused" in table.output and "regulator" not in table.output
    assert "on hold" in table.output
    assert sla_cli("sla", "status", "--breached").output.strip() == "no open clocks"
    shown = sla_cli("incident", "show", incident_id)
    assert "regulator notified" in shown.output and "BfDI-2026-7" in shown.output
    records = [s["evidence"] for s in sources(es, sla_settings, "evidence", "blue")]
    [regulator] = [r for r in records if r["details"].get("action") == "notify_regulator"]
    assert (
        regulator["details"]["regulator_reference"] == "BfDI-2026-7"
        and "GDPR:Art.33" in regulator["controls"]
    )
    checked = sla_cli("sla", "check", "--tenant", "blue")
    assert checked.exit_code == 0 and "recorded 0" in checked.output

    month = f"{utc_now():%Y-%m}"
    written = sla_cli("report", "--tenant", "blue", "--month", month, "--out", str(tmp_path))
    assert written.exit_code == 0, written.output
    html, pdf = (Path(line) for line in written.output.splitlines())
    assert pdf.read_bytes().startswith(b"%PDF") and "Blue Org" in html.read_text()
    assert (
        "BfDI" not in html.read_text()
    )  # the regulator's reference is the provider's record, not the client's
    provider = sla_cli("report", "--provider", "--month", month, "--out", str(tmp_path))
    assert provider.exit_code == 0, provider.output
    assert "ann" in Path(provider.output.splitlines()[0]).read_text()  # the analyst's workload


def test_the_responder_runs_the_watch_between_batches(
    rsettings: Settings, tmp_path: Path, es: Elasticsearch, smtp: SmtpSink
) -> None:
    """A responder built as `responder run` builds it, with a 1-second acknowledge target: its own watch
    thread records the breach and pages the on-call within a few of its rounds, and gauges it."""
    assert rsettings.tenants_file is not None
    path = tmp_path / "tenants-fast.yaml"
    path.write_text(
        LEVELS.replace("acknowledge_within: 2h", "acknowledge_within: 1s")
        + Path(rsettings.tenants_file).read_text()
    )
    settings = rsettings.model_copy(update={"tenants_file": path, "sla_check_interval_s": 0.3})
    responders = Responders(settings)
    try:
        stage = responders.stage()
        periodic = responders.periodic_sla(stage)
        metrics = InMemoryMetrics()
        stage.use_metrics(metrics)
        stage.process(inbound([detection(1)]))
        periodic.start()
        deadline = time.monotonic() + 15
        while not smtp.to(ONCALL) and time.monotonic() < deadline:
            time.sleep(0.1)
        periodic.stop(5)
    finally:
        responders.close()
    assert len(smtp.to(ONCALL)) == 1 and "acknowledge deadline missed" in smtp.to(ONCALL)[0]["Subject"]
    assert [k.rsplit(":", 1)[1] for k in _breaches(es, settings)] == ["acknowledge"]
    assert (
        "sla_breaches",
        (("clock", "acknowledge"), ("severity", "high"), ("tenant", "red")),
    ) in metrics.counts
