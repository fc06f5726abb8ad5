"""The reports as one self-contained HTML file each (charts inlined as PNG data), from Jinja2 templates
with autoescaping on: titles and host names come from the client's own logs."""

from __future__ import annotations

import base64
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from responders.report.figures import TenantReport, human
from responders.report.provider import ProviderReport

TEMPLATES = Path(__file__).resolve().parent / "templates"


def _env(timezone: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    zone = ZoneInfo(timezone)

    def when(value: datetime | None) -> str:
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value else "-"

    env.filters |= {
        "human": lambda s: "-" if s is None else human(s),
        "pct": lambda p: "-" if p is None else f"{p:.1f} %",
        "when": when,
    }
    return env


def _images(charts: dict[str, bytes]) -> dict[str, str]:
    return {name: "data:image/png;base64," + base64.b64encode(png).decode() for name, png in charts.items()}


def tenant_html(report: TenantReport, charts: dict[str, bytes]) -> str:
    context: dict[str, Any] = {"r": report, "charts": _images(charts)}
    return _env(report.month.timezone).get_template("tenant.html.j2").render(context)


def provider_html(report: ProviderReport, charts: dict[str, bytes]) -> str:
    context: dict[str, Any] = {"r": report, "charts": _images(charts)}
    return _env(report.month.timezone).get_template("provider.html.j2").render(context)
