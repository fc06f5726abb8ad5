"""The reports' charts as PNG images, drawn by matplotlib's Agg renderer (no display, no system
libraries: the wheel is all it needs), in one quiet style a non-specialist can read."""

from __future__ import annotations

import io
from typing import Any

from matplotlib.figure import Figure

from responders.report.figures import KINDS, TenantReport
from responders.report.provider import ProviderReport
from schemas.common import Severity

COLOURS = {
    Severity.critical: "#8b0000",
    Severity.high: "#d9480f",
    Severity.medium: "#f59f00",
    Severity.low: "#1c7ed6",
    Severity.informational: "#868e96",
}
MET, BREACHED = "#2b8a3e", "#c92a2a"
LABELS = {k: f"time to {k.value}" for k in KINDS} | {KINDS[3]: "regulator notified"}


def _figure(width: float = 7.0, height: float = 2.0) -> tuple[Figure, Any]:
    # A Figure of its own, never pyplot's: no global state, no display; PNGs are drawn by Agg.
    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def _png(fig: Figure) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()


def incidents_per_day(report: TenantReport) -> bytes:
    fig, ax = _figure()
    days = [d.day for d, _ in report.by_day]
    ax.bar(days, [n for _, n in report.by_day], color="#1c7ed6")
    ax.set_title(f"Incidents opened per day, {report.month.label}", loc="left", fontsize=10)
    ax.set_xlabel(f"day of the month ({report.month.timezone})", fontsize=8)
    ax.set_xticks(days[::2] if len(days) > 16 else days)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.tick_params(labelsize=8)
    return _png(fig)


def incidents_by_severity(report: TenantReport) -> bytes:
    fig, ax = _figure(height=1.6)
    severities = list(report.by_severity)
    ax.barh(
        [s.value for s in severities],
        list(report.by_severity.values()),
        color=[COLOURS[s] for s in severities],
    )
    ax.invert_yaxis()
    ax.set_title("Incidents by severity", loc="left", fontsize=10)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.tick_params(labelsize=8)
    return _png(fig)


def compliance(report: TenantReport) -> bytes:
    """Met and breached clocks per promise, all severities together."""
    met = {k: sum(s.met for s in report.stats if s.kind == k) for k in KINDS}
    breached = {k: sum(s.breached for s in report.stats if s.kind == k) for k in KINDS}
    kinds = [k for k in KINDS if met[k] or breached[k]] or list(KINDS[:3])
    fig, ax = _figure(height=0.9 + 0.35 * len(kinds))
    labels = [LABELS[k] for k in kinds]
    ax.barh(labels, [met[k] for k in kinds], height=0.6, color=MET, label="met")
    ax.barh(labels, [breached[k] for k in kinds], height=0.6, left=[met[k] for k in kinds], color=BREACHED,
            label="breached")  # fmt: skip
    ax.invert_yaxis()
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title("Service levels: promises met and breached", loc="left", fontsize=10)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.tick_params(labelsize=8)
    return _png(fig)


def client_compliance(report: ProviderReport) -> bytes:
    fig, ax = _figure(height=max(1.6, 0.4 * len(report.clients) + 0.8))
    clients = [c for c in report.clients if c.compliance_pct is not None]
    ax.barh(
        [c.tenant for c in clients],
        [c.compliance_pct or 0 for c in clients],
        color=[MET if (c.compliance_pct or 0) >= 95 else BREACHED for c in clients],
    )
    ax.set_xlim(0, 100)
    ax.invert_yaxis()
    ax.set_title("SLA compliance per client (%)", loc="left", fontsize=10)
    ax.tick_params(labelsize=8)
    return _png(fig)


def tenant_charts(report: TenantReport) -> dict[str, bytes]:
    return {
        "per-day": incidents_per_day(report),
        "by-severity": incidents_by_severity(report),
        "compliance": compliance(report),
    }
