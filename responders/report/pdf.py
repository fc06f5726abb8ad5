"""The reports as PDF, laid out with ReportLab's platypus (pure Python, no system libraries), from the
same figures and charts as the HTML. Text from the client's logs is escaped before ReportLab's
paragraph markup sees it."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.platypus import Flowable, Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from responders.report.figures import TenantReport, human
from responders.report.fonts import BOLD, REGULAR, markup, register
from responders.report.provider import ProviderReport

WIDTH = A4[0] - 3 * cm
register()  # every style below is DejaVu Sans (fonts.py): Helvetica would box non-Latin-1 client data
_STYLES = getSampleStyleSheet()
BODY = ParagraphStyle("body", parent=_STYLES["BodyText"], fontName=REGULAR, fontSize=9, leading=11.5)
SMALL = ParagraphStyle("small", parent=BODY, fontSize=7.5, leading=9)
HEAD = ParagraphStyle("head", parent=SMALL, fontName=BOLD)
H1 = ParagraphStyle("h1", parent=_STYLES["Title"], fontName=BOLD)
H2 = ParagraphStyle("h2", parent=_STYLES["Heading2"], fontName=BOLD)
H3 = ParagraphStyle("h3", parent=_STYLES["Heading3"], fontName=BOLD)


def _p(text: str, style: ParagraphStyle = BODY) -> Paragraph:
    return Paragraph(markup(text), style)


def _table(
    header: Sequence[str], rows: Sequence[Sequence[Any]], widths: Sequence[float | None] | None = None
) -> Table:
    data = [[_p(h, HEAD) for h in header]] + [
        [c if isinstance(c, Flowable) else _p(str(c), SMALL) for c in row] for row in rows
    ]
    table = Table(data, colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e9ecef")),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#dee2e6")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def _image(png: bytes) -> Image:
    image = Image(io.BytesIO(png))
    scale = WIDTH / image.imageWidth
    image.drawWidth, image.drawHeight = WIDTH, image.imageHeight * scale
    return image


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} %"


def _build(story: list[Flowable], title: str) -> bytes:
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=1.5 * cm,
        rightMargin=1.5 * cm,
        topMargin=1.5 * cm,
        bottomMargin=1.5 * cm,
        title=title,
        author="socpipe",
    )
    doc.build(story)
    return out.getvalue()


def tenant_pdf(report: TenantReport, charts: dict[str, bytes]) -> bytes:
    zone = ZoneInfo(report.month.timezone)

    def when(value: datetime | None) -> str:
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value else "-"

    hours = "business hours" if report.hours == "business" else "24/7"
    counted = "in business hours" if report.hours == "business" else "around the clock"
    story: list[Flowable] = [
        _p(f"Security operations report: {report.name}", H1),
        _p(
            f"{report.month.label} ({report.month.timezone}) - prepared by {report.provider} - figures as of "
            f"{when(report.as_of)} - service hours: {hours}"
        ),
        Spacer(1, 6),
        _table(
            ["incidents", "service-level promises met", "notices delivered"],
            [
                [
                    str(report.incidents),
                    f"{_pct(report.compliance_pct)} ({report.met} met, {report.breached} breached)",
                    f"{report.notices_sent}"
                    + (f" ({report.notices_failed} failed)" if report.notices_failed else ""),
                ]
            ],
        ),
        _p("Incidents", H2),
        _image(charts["per-day"]),
        _image(charts["by-severity"]),
        _p("Service levels", H2),
        _p(
            "For each severity we promise how fast you are notified, how fast an analyst acknowledges the "
            f"incident and how fast it is resolved, counted {counted}; "
            "time an incident waited for your answer is not counted. p90: 9 in 10 incidents were handled at "
            "least this fast."
        ),
        _image(charts["compliance"]),
        _table(
            ["severity", "promise", "target", "measured", "mean", "p90", "met", "breached", "open"],
            [
                [
                    s.severity.value,
                    f"time to {s.kind.value}",
                    human(s.target_s),
                    s.measured,
                    "-" if s.mean_s is None else human(s.mean_s),
                    "-" if s.p90_s is None else human(s.p90_s),
                    s.met,
                    s.breached,
                    s.open,
                ]
                for s in report.stats
            ]
            or [["No service-level clock this month.", "", "", "", "", "", "", "", ""]],
        ),
        _p("Every breach, explained", H3),
    ]
    if report.breaches:
        story.append(
            _table(
                ["incident", "severity", "promise", "deadline", "what happened"],
                [
                    [
                        f"{b.title} ({b.incident_id[:12]})",
                        b.severity.value,
                        b.kind.value,
                        when(b.deadline),
                        b.explanation,
                    ]
                    for b in report.breaches
                ],
                [4.2 * cm, 1.9 * cm, 2.4 * cm, 2.4 * cm, None],
            )
        )
    else:
        story.append(_p("No promise was breached this month."))
    story += [
        _p("What we detected", H2),
        _table(
            ["detection rule", "detections", "incidents"],
            [[f"{c.label or c.key} ({c.key})", c.count, c.incidents] for c in report.top_rules]
            or [["No detections.", "", ""]],
            [12 * cm, 2.5 * cm, 2.5 * cm],
        ),
        Spacer(1, 6),
        _table(
            ["MITRE ATT&CK technique", "incidents"],
            [[c.key, c.count] for c in report.top_techniques] or [["None recorded.", ""]],
            [12 * cm, 2.5 * cm],
        ),
        _p("Notices sent to you", H2),
        _table(
            ["sent", "incident", "change", "to", "status", "delivery receipt"],
            [
                [
                    when(n.sent_at),
                    n.incident_id[:12],
                    n.incident_state,
                    f"{n.channel}: {n.destination}",
                    n.status.value,
                    n.receipt or n.error or "-",
                ]
                for n in report.notices
            ]
            or [["No notices this month.", "", "", "", "", ""]],
        ),
        _p("Evidence", H2),
    ]
    e = report.evidence
    if e:
        verdict = "intact" if e.ok else f"BROKEN: {e.problem}"
        story += [
            _p(
                "Every step above is kept as a tamper-evident evidence record, each chained to the one "
                f"before it by a SHA-256 hash. The whole chain was verified when this report was made: "
                f"{verdict} ({e.checked} records checked)."
            ),
            _table(
                ["records this month", "last record of the month", "its hash (head of the month)"],
                [
                    [
                        e.period_records,
                        "-" if e.period_head_sequence is None else e.period_head_sequence,
                        e.period_head_hash or "-",
                    ]
                ],
                [3.5 * cm, 3.5 * cm, None],
            ),
        ]
    return _build(story, f"{report.name}: security operations report {report.month.label}")


def provider_pdf(report: ProviderReport, charts: dict[str, bytes]) -> bytes:
    story: list[Flowable] = [
        _p(f"{report.provider}: service levels across clients", H1),
        _p(
            f"{report.month.label} - {report.incidents} incidents - {_pct(report.compliance_pct)} of "
            f"promises met ({report.met} met, {report.breached} breached)"
        ),
        _p("Compliance per client", H2),
        _image(charts["clients"]),
        _table(
            ["client", "incidents", "met", "breached", "compliance"],
            [
                [f"{c.name} ({c.tenant})", c.incidents, c.met, c.breached, _pct(c.compliance_pct)]
                for c in report.clients
            ],
        ),
        _p("Analyst workload", H2),
        _table(
            ["analyst", "actions", "incidents", "by action", "acknowledged", "mean time to acknowledge"],
            [
                [
                    a.actor,
                    a.actions,
                    a.incidents,
                    ", ".join(f"{k} {v}" for k, v in a.by_action.items()),
                    a.acknowledged,
                    "-" if a.mean_to_acknowledge_s is None else human(a.mean_to_acknowledge_s),
                ]
                for a in report.analysts
            ]
            or [["No triage actions this month.", "", "", "", "", ""]],
        ),
    ]
    return _build(story, f"{report.provider}: service levels {report.month.label}")
