"""`socpipe notice retry`: deliver the client notices a crash left pending, or that failed transiently.

A crashed command or worker leaves a claimed but unsent notice; the responder's sweep finishes it within
`SOCPIPE_NOTICE_SWEEP_INTERVAL_S` plus the claim timeout, and this does it now. Each is sent under its
own notice id (receivers deduplicate on it), by one sweeper only, and never while a live process holds
a fresh claim on it (responders/notices/sweep.py).
"""

from __future__ import annotations

from datetime import timedelta

import click

from cli.options import check_duration, tenant_option
from socpipe.settings import get_settings


@click.group("notice")
def notice() -> None:
    """Client notices: deliver the ones a crash left behind."""


@notice.command("retry")
@tenant_option(help="Only this tenant (default: every tenant with routes).")
@click.option(
    "--older-than",
    callback=check_duration,
    default=None,
    help="Only notices claimed or last tried longer ago (30s, 5m, 2h); never less than the claim "
    "timeout (SOCPIPE_CLAIM_TIMEOUT_S), the default.",
)
def retry(tenant: str | None, older_than: timedelta | None) -> None:
    """Deliver pending notices whose claimer is gone, and retry transiently failed ones; exit 1 if any
    still failed."""
    from responders.worker import Responders
    from socpipe.es import check_elasticsearch

    settings = get_settings()
    check_elasticsearch(settings)
    responders = Responders(settings, check=False)
    try:
        sweep = responders.sweep()
        tenants = [tenant] if tenant else sweep.tenants()
        if tenant and tenant not in responders.config.tenants:
            raise click.ClickException(f"tenant {tenant!r} is not configured (no routes, no notices)")
        results = [sweep.sweep(t, older_than) for t in tenants]
    finally:
        responders.close()
    failed = 0
    for result in results:
        done = result.delivered
        click.echo(
            f"{result.tenant}: sent {len(done.sent)}, failed {len(done.failed)}, "
            f"superseded {len(done.superseded)}, left {len(result.left)}"
        )
        for n in done.failed:
            click.echo(f"  notice {n.id} to {n.destination} failed: {n.error}", err=True)
        for n in result.left:
            click.echo(f"  notice {n.id} left: held by a live process, or no route/incident for it")
        failed += len(done.failed)
    if failed:
        raise SystemExit(1)
