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
@click.option(
    "--include-failed",
    is_flag=True,
    help="Also resend notices that gave up (every attempt failed, or a permanent failure), once the "
    "cause is fixed (the SMTP relay is back, the endpoint answers); each is still sent once.",
)
def retry(tenant: str | None, older_than: timedelta | None, include_failed: bool) -> None:
    """Deliver pending notices whose claimer is gone, and retry transiently failed ones; exit 1 if any
    still failed. Notices that gave up are resent only with --include-failed."""
    from responders.worker import Responders
    from socpipe.es import check_elasticsearch

    settings = get_settings()
    check_elasticsearch(settings)
    responders = Responders(settings, check=False)
    try:
        sweep = responders.sweep()
        tenants = [tenant] if tenant else sweep.tenants()
        if tenant and tenant not in responders.config.tenants:
            configured = ", ".join(sorted(responders.config.tenants)) or "none"
            raise click.ClickException(
                f"tenant {tenant!r} is not configured in {responders.config.sources.get('tenants')} "
                f"(no routes, no notices); configured: {configured}"
            )
        results = [sweep.sweep(t, older_than, include_failed=include_failed) for t in tenants]
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
