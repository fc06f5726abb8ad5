"""`socpipe sla status | check`: the service-level clocks of open incidents, and the breach watch on demand.

`status` lists every open clock (running, paused while the client holds, or breached and still
running), most urgent first: breached, then by time left. `check` runs one round of the responder's
breach watch: each new breach becomes one evidence record and one escalation to the provider's on-call
(responders/sla/watch.py), however many times it is run.
"""

from __future__ import annotations

from datetime import timedelta

import click
import orjson

from cli.options import tenant_option
from socpipe.settings import get_settings


@click.group("sla")
def sla() -> None:
    """Service levels: open clocks with time left, and the breach watch."""


def span(seconds: float) -> str:
    """`45m`, `3h05m`, `2d4h`; negative when overdue."""
    sign, s = ("-" if seconds < 0 else ""), int(abs(seconds))
    days, hours, minutes = s // 86400, s % 86400 // 3600, s % 3600 // 60
    text = f"{days}d{hours}h" if days else f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"
    return sign + text


@sla.command("status")
@tenant_option(help="Only this tenant's clocks (default: every tenant).")
@click.option("--breached", is_flag=True, help="Only clocks past their deadline.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of a table.")
def status(tenant: str | None, breached: bool, as_json: bool) -> None:
    """Open clocks, most urgent first: breached, then the least time left."""
    from responders.config import load_config
    from responders.sla.clocks import by_urgency
    from responders.sla.reader import ClockReader
    from schemas.common import utc_now
    from schemas.sla import ClockState
    from socpipe.es import check_elasticsearch, es_client

    settings = get_settings()
    config = load_config(settings)
    check_elasticsearch(settings)
    es = es_client(settings)
    now = utc_now()
    try:
        reader = ClockReader(es, settings, config)
        clocks = [
            c
            for t in ([tenant] if tenant else reader.tenants())
            for c in reader.clocks(t, reader.live(t, now, timedelta(0)), now)
            if c.stop is None and c.state != ClockState.cancelled
        ]
    finally:
        es.close()
    clocks = by_urgency([c for c in clocks if not breached or c.state == ClockState.breached])
    if as_json:
        for c in clocks:
            click.echo(orjson.dumps(c.model_dump(mode="json")).decode())
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Open service-level clocks at {now:%Y-%m-%d %H:%M} UTC", title_justify="left")
    for name in ("tenant", "incident", "severity", "clock", "state", "deadline (UTC)", "left", "title"):
        table.add_column(name, justify="right" if name == "left" else "left", no_wrap=name != "title")
    style = {"breached": "bold red", "paused": "dim", "running": ""}
    for c in clocks:
        table.add_row(
            c.tenant,
            c.incident_id[:12],
            c.severity.value,
            c.kind.value + (" (bh)" if c.business_hours else ""),
            c.state.value,
            f"{c.deadline:%Y-%m-%d %H:%M}" if c.deadline else "on hold",
            span(c.left_s),
            c.title,
            style=style.get(c.state.value, ""),
        )
    Console().print(table if clocks else "no open clocks")


@sla.command("check")
@tenant_option(help="Only this tenant (default: every tenant).")
def check(tenant: str | None) -> None:
    """One round of the breach watch now: record and escalate new breaches, each once."""
    from responders.worker import Responders
    from socpipe.es import check_elasticsearch

    settings = get_settings()
    check_elasticsearch(settings)
    responders = Responders(settings, check=False)
    try:
        watch = responders.sla_watch()
        results = [watch.check(tenant)] if tenant else watch.run_once()
    finally:
        responders.close()
    for r in results:
        breached = sum(c.state == "breached" and c.stop is None for c in r.clocks)
        click.echo(
            f"{r.tenant}: clocks {len(r.clocks)}, breached now {breached}, "
            f"recorded {len(r.recorded)}, escalations sent {len(r.escalated)}"
        )
