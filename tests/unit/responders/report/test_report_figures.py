"""A month's report figures from a known set of incidents, checked number by number; the PDF renders."""

from __future__ import annotations

import ctypes
from datetime import UTC, date, datetime, timedelta

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest

from responders.report.charts import client_compliance, tenant_charts
from responders.report.figures import EvidenceSummary, Month, TenantReport, tenant_report
from responders.report.fonts import covers
from responders.report.html import provider_html, tenant_html
from responders.report.pdf import provider_pdf, tenant_pdf
from responders.report.provider import ProviderReport, provider_report
from responders.sla.clocks import incident_clocks
from responders.triage import apply_action
from schemas.common import Severity
from schemas.incident import Incident, Verdict
from schemas.notice import Notice, NoticeStatus
from schemas.sla import ServiceLevels

MIN, H = timedelta(minutes=1), timedelta(hours=1)
AS_OF = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
MONTH = Month.parse("2026-11", "Europe/Berlin")
LEVELS = ServiceLevels.model_validate(
    {
        "targets": {
            "critical": {"notify_within": "15m", "acknowledge_within": "30m", "resolve_within": "4h"},
            "high": {"notify_within": "1h", "acknowledge_within": "2h", "resolve_within": "8h"},
        }
    }
)


def _incident(
    name: str, severity: str, opened: datetime, rules: list[str], techniques: list[str]
) -> Incident:
    return Incident(
        id=f"inc-{name}",
        tenant="acme",
        title=f"Incident {name} on <host>",
        severity=severity,
        group_key=name,
        rule_ids=rules,
        techniques=techniques,
        first_seen=opened,
        last_seen=opened,
        opened_at=opened,
        updated_at=opened,
    )


def _close(i: Incident, actor: str, at: datetime) -> Incident:
    return apply_action(i, "close", actor, at, verdict=Verdict.true_positive, reason="contained")


def _month() -> tuple[list[Incident], dict[str, datetime]]:
    """A: critical, all met. B: critical, acknowledged 20 min late and resolved 1 h late. C: high, held
    2 h by the client, resolved within 8 counted hours. D: high, opened late on 30 Nov (Berlin), not
    notified after 1 h 30 min. E: medium, no promise (no clocks)."""
    a0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    a = apply_action(_incident("A", "critical", a0, ["r1"], ["T1059"]), "acknowledge", "ann", a0 + 20 * MIN)
    a = _close(a, "ann", a0 + 3 * H)
    b0 = datetime(2026, 11, 2, 23, 30, tzinfo=UTC)  # 3 Nov 00:30 in Berlin
    b = apply_action(
        _incident("B", "critical", b0, ["r1", "r2"], ["T1059", "T1110"]), "acknowledge", "bob", b0 + 50 * MIN
    )
    b = _close(b, "bob", b0 + 5 * H)
    c0 = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
    c = apply_action(_incident("C", "high", c0, ["r2"], ["T1110"]), "acknowledge", "ann", c0 + H)
    c = apply_action(c, "hold", "ann", c0 + 2 * H, reason="asked the client for proxy logs")
    c = apply_action(c, "resume", "ann", c0 + 4 * H)
    c = _close(c, "bob", c0 + 9 * H)
    d = _incident("D", "high", datetime(2026, 11, 30, 22, 30, tzinfo=UTC), ["r2"], ["T1110"])
    e = _incident("E", "medium", datetime(2026, 11, 15, 12, 0, tzinfo=UTC), ["r3"], [])
    notified = {"inc-A": a0 + 10 * MIN, "inc-B": b0 + 5 * MIN, "inc-C": c0 + 30 * MIN}
    return [a, b, c, d, e], notified


def _notice(n: int, status: NoticeStatus) -> Notice:
    return Notice(
        id=f"n{n}",
        tenant="acme",
        incident_id="inc-A",
        incident_state="open",
        channel="email",
        destination="soc@acme.example",
        subject="s",
        status=status,
        sent_at=datetime(2026, 11, 2, 10, n, tzinfo=UTC) if status == NoticeStatus.sent else None,
        receipt=f"250 queued as {n}" if status == NoticeStatus.sent else None,
        error=None if status == NoticeStatus.sent else "permanent: 550 no such user",
    )


@pytest.fixture(scope="module")
def report() -> TenantReport:
    incidents, notified = _month()
    clocks = [
        c
        for i in incidents
        for c in incident_clocks(
            i, LEVELS, zone="Europe/Berlin", notified=notified.get(i.id), notify_applies=True, now=AS_OF
        )
    ]
    return tenant_report(
        tenant="acme",
        name="ACME Corporation",
        provider="Test MSSP",
        month=MONTH,
        as_of=AS_OF,
        hours="24x7",
        incidents=incidents,
        clocks=clocks,
        notices=[
            _notice(1, NoticeStatus.sent),
            _notice(2, NoticeStatus.sent),
            _notice(3, NoticeStatus.sent),
            _notice(4, NoticeStatus.failed),
        ],
        rule_detections={"r1": 5, "r2": 9},
        rule_titles={"r1": "Encoded PowerShell", "r2": "Password spray"},
        evidence=EvidenceSummary(
            ok=True, checked=120, period_records=57, period_head_sequence=119, period_head_hash="ab" * 32
        ),
    )


def test_month_is_the_tenants_calendar_month() -> None:
    assert MONTH.start == datetime(2026, 10, 31, 23, 0, tzinfo=UTC)
    assert MONTH.end == datetime(2026, 11, 30, 23, 0, tzinfo=UTC) and len(MONTH.days()) == 30


def test_incident_counts_by_severity_and_by_local_day(report: TenantReport) -> None:
    assert report.incidents == 5
    assert report.by_severity == {
        Severity.critical: 2,
        Severity.high: 2,
        Severity.medium: 1,
        Severity.low: 0,
        Severity.informational: 0,
    }
    per_day = {d.day: n for d, n in report.by_day if n}
    assert per_day == {2: 1, 3: 1, 10: 1, 15: 1, 30: 1}  # B is 3 Nov and D 30 Nov in Berlin
    assert len(report.by_day) == 30 and report.by_day[0] == (date(2026, 11, 1), 0)


def test_times_against_targets_mean_p90_met_breached_open(report: TenantReport) -> None:
    rows = {(s.severity.value, s.kind.value): s for s in report.stats}
    expected = {
        # (measured, mean s, p90 s, met, breached, open)
        ("critical", "notify"): (2, 450, 600, 2, 0, 0),
        ("critical", "acknowledge"): (2, 2100, 3000, 1, 1, 0),
        ("critical", "resolve"): (2, 14400, 18000, 1, 1, 0),
        ("high", "notify"): (1, 1800, 1800, 1, 1, 0),
        ("high", "acknowledge"): (1, 3600, 3600, 1, 0, 1),
        ("high", "resolve"): (1, 25200, 25200, 1, 0, 1),  # 9 h less the 2 h the client held it
    }
    assert set(rows) == set(expected)
    for key, (measured, mean, p90, met, breached, still_open) in expected.items():
        s = rows[key]
        assert (s.measured, s.mean_s, s.p90_s, s.met, s.breached, s.open) == (
            measured,
            mean,
            p90,
            met,
            breached,
            still_open,
        ), key
    assert rows[("critical", "acknowledge")].target_s == 1800
    assert (report.met, report.breached, report.compliance_pct) == (7, 3, 70.0)


def test_every_breach_listed_and_explained(report: TenantReport) -> None:
    assert [(b.incident_id, b.kind.value, b.overdue_s) for b in report.breaches] == [
        ("inc-B", "acknowledge", 1200),
        ("inc-B", "resolve", 3600),
        ("inc-D", "notify", 1800),
    ]
    assert report.breaches[0].explanation == (
        "An analyst acknowledged it 50 min after the clock started; "
        "we promised 30 min, so it was 20 min late."
    )
    assert report.breaches[1].explanation == (
        "It was resolved 5 h 00 min after the clock started (time it waited for you not counted); "
        "we promised 4 h 00 min, so it was 1 h 00 min late."
    )
    assert report.breaches[2].explanation.startswith("No notice had reached the client 1 h 30 min after")


def test_top_detections_techniques_and_notices(report: TenantReport) -> None:
    assert [(c.key, c.label, c.count, c.incidents) for c in report.top_rules] == [
        ("r2", "Password spray", 9, 3),
        ("r1", "Encoded PowerShell", 5, 2),
    ]
    assert [(c.key, c.count) for c in report.top_techniques] == [("T1110", 3), ("T1059", 2)]
    assert (report.notices_sent, report.notices_failed, len(report.notices)) == (3, 1, 4)


def test_provider_report_compliance_per_client_and_analyst_workload(report: TenantReport) -> None:
    incidents, _ = _month()
    other = report.model_copy(
        update={
            "tenant": "globex",
            "name": "Globex",
            "met": 1,
            "breached": 0,
            "compliance_pct": 100.0,
            "incidents": 1,
        }
    )
    provider = provider_report("Test MSSP", Month.parse("2026-11", "UTC"), AS_OF, [report, other], incidents)
    assert [(c.tenant, c.compliance_pct) for c in provider.clients] == [("acme", 70.0), ("globex", 100.0)]
    assert (provider.incidents, provider.met, provider.breached, provider.compliance_pct) == (6, 8, 3, 72.7)
    lines = {a.actor: a for a in provider.analysts}
    assert (lines["ann"].actions, lines["ann"].incidents, lines["ann"].acknowledged) == (5, 2, 2)
    assert lines["ann"].by_action == {"acknowledge": 2, "close": 1, "hold": 1, "resume": 1}
    assert lines["ann"].mean_to_acknowledge_s == 2400  # 20 min (A) and 1 h (C)
    assert (lines["bob"].actions, lines["bob"].mean_to_acknowledge_s) == (3, 3000)


def _not_blank(pdf: bytes) -> tuple[int, str]:
    """Pages, and the first page's text; its first page rendered must have ink on at least 2 % of it."""
    doc = pdfium.PdfDocument(pdf)
    page = doc[0]
    image = page.render(scale=1).to_pil().convert("L")
    inked = sum(image.histogram()[:200])
    assert inked > 0.02 * image.width * image.height, f"first page nearly blank: {inked} dark pixels"
    return len(doc), page.get_textpage().get_text_range()


def test_pdf_and_html_render_with_charts(report: TenantReport) -> None:
    """The PDF opens, its first page is not blank and carries the title and the compliance figure; the
    HTML escapes text from the client's logs and inlines its three charts."""
    charts = tenant_charts(report)
    assert all(png.startswith(b"\x89PNG") for png in charts.values()) and len(charts) == 3
    pages, text = _not_blank(tenant_pdf(report, charts))
    assert pages >= 2 and "ACME Corporation" in text and "70.0 %" in text
    html = tenant_html(report, charts)
    assert "Incident B on &lt;host&gt;" in html and "<host>" not in html
    assert html.count("data:image/png;base64,") == 3 and "abab" in html and "20 min late" in html


def test_provider_pdf_renders(report: TenantReport) -> None:
    incidents, _ = _month()
    provider: ProviderReport = provider_report("Test MSSP", MONTH, AS_OF, [report], incidents)
    charts = {"clients": client_compliance(provider)}
    _, text = _not_blank(provider_pdf(provider, charts))
    assert "Analyst workload" in text and "ann" in text
    assert "Compliance per client" in provider_html(provider, charts)


TITLE = "Zürich \u2013 東京 \u2013 Łódź"


def _fonts_of(page: pdfium.PdfPage) -> list[tuple[str, str]]:
    """(character, the name of the font pdfium says draws it) for each character of the page."""
    text = page.get_textpage()
    name, flags = ctypes.create_string_buffer(128), ctypes.c_int()
    out = []
    for i in range(text.count_chars()):
        pdfium_c.FPDFText_GetFontInfo(text.raw, i, name, len(name), ctypes.byref(flags))
        out.append((chr(pdfium_c.FPDFText_GetUnicode(text.raw, i)), name.value.decode()))
    return out


def test_pdf_prints_client_names_in_any_script(report: TenantReport) -> None:
    """A client name outside Latin-1 comes back out of the PDF as written, and every character DejaVu
    Sans has a glyph for is drawn in embedded DejaVu (not Helvetica's box); the CJK ones it lacks are set
    in a CJK font, so they are kept in the text."""
    pdf = tenant_pdf(report.model_copy(update={"name": TITLE}), tenant_charts(report))
    page = pdfium.PdfDocument(pdf)[0]
    assert TITLE in page.get_textpage().get_text_range()
    drawn = _fonts_of(page)
    title = drawn[drawn.index(("Z", "DejaVuSans-Bold")) :][: len(TITLE)]
    assert "".join(c for c, _ in title) == TITLE
    for char, font in title:
        if char.isspace():
            continue
        expected = "DejaVuSans" if covers(char) else "HeiseiKakuGo"
        assert font.startswith(expected), (char, font)
    assert sum(not covers(c) for c in TITLE) == 2  # only 東京 is outside DejaVu
