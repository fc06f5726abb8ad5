"""`socpipe report`: a client's monthly report (HTML and PDF), or the provider's own across clients.

The client's report shows its incidents by severity and by day, the times to notify, acknowledge and
resolve against the promised targets, SLA compliance with every breach explained, top detections and
ATT&CK techniques, the notices sent with their delivery receipts, and the evidence chain's verification
and head hash for the month. `--provider` writes the provider's: compliance per client, analyst workload.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from cli.options import tenant_option
from socpipe.settings import get_settings


def _previous_month() -> str:
    first = datetime.now(UTC).date().replace(day=1)
    return (first - timedelta(days=1)).strftime("%Y-%m")


def check_month(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    try:
        datetime.strptime(value + "-01", "%Y-%m-%d")
    except ValueError:
        raise click.BadParameter(f"expected a month like 2026-11, got {value!r}") from None
    return value


@click.command("report")
@tenant_option(help="The client whose report to write.")
@click.option("--provider", is_flag=True, help="The provider's own report across every client instead.")
@click.option(
    "--month",
    default=_previous_month,
    callback=check_month,
    show_default="last month",
    help="The month, as 2026-11 (the client's own timezone; UTC for the provider's report).",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write <tenant>-<month>.html and .pdf (or provider-<month>.*) into.",
)
def report(tenant: str | None, provider: bool, month: str, out: Path) -> None:
    """Write a client's monthly report, or the provider's (--provider), as HTML and PDF."""
    if bool(tenant) == provider:
        raise click.UsageError("give either --tenant T (a client's report) or --provider (the provider's)")
    from responders.config import load_config
    from responders.report.gather import ReportReader, provider_month, write_provider, write_tenant
    from schemas.common import utc_now
    from socpipe.es import check_elasticsearch, es_client

    settings = get_settings()
    config = load_config(settings)
    check_elasticsearch(settings)
    es = es_client(settings)
    try:
        reader = ReportReader(es, settings, config)
        known = reader.clocks.tenants()
        if tenant and tenant not in known:
            raise click.ClickException(
                f"tenant {tenant!r} has no incidents and is not configured in "
                f"{config.sources.get('tenants')}; known: {', '.join(known) or 'none'}"
            )
        if tenant:
            written = write_tenant(reader.tenant_report(tenant, month, utc_now())[0], out)
        else:
            written = write_provider(provider_month(reader, known, month, utc_now())[0], out)
    finally:
        es.close()
    click.echo(f"{written.html}\n{written.pdf}")
