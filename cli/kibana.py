"""`socpipe kibana load | space`: saved objects and per-client spaces in Kibana."""

from __future__ import annotations

import click
import httpx

from cli.options import tenant_option
from socpipe.errors import ServerUnavailableError
from socpipe.settings import Settings, get_settings


def _failed(settings: Settings, url: str | None, exc: httpx.HTTPError) -> Exception:
    """Kibana not answering names the URL tried and where it came from; a refusal says what Kibana said."""
    where = url or settings.kibana_url
    setting = "--url" if url else "SOCPIPE_KIBANA_URL (or --url)"
    if isinstance(exc, httpx.TransportError):
        start = "`docker compose up -d kibana`; `socpipe dev up` has no Kibana"
        return ServerUnavailableError("Kibana", where, setting, type(exc).__name__, start=start)
    return click.ClickException(f"Kibana at {where} refused the request: {exc}")


@click.group("kibana")
def kibana() -> None:
    """Kibana saved objects (data views, searches, the triage dashboard) and client spaces."""


@kibana.command("load")
@click.option("--url", default=None, help="Kibana's URL (default: the kibana_url setting).")
@click.option("--space", default=None, help="Import into this space (default: the default space).")
@tenant_option(help="Point the data views at this tenant's indices only (its space).")
def load_cmd(url: str | None, space: str | None, tenant: str | None) -> None:
    """Import the saved objects through Kibana's saved objects API (overwrites earlier versions)."""
    from responders.kibana import load

    settings = get_settings()
    try:
        answer = load(settings, space=space or tenant, tenant=tenant, url=url)
    except httpx.HTTPError as exc:
        raise _failed(settings, url, exc) from None
    if not answer.get("success"):
        raise click.ClickException(f"Kibana refused some objects: {answer.get('errors')}")
    click.echo(
        f"imported {answer.get('successCount', 0)} saved objects into space {space or tenant or 'default'}"
    )


@kibana.command("space")
@tenant_option(required=True, help="The client whose space and read-only role are made.")
@click.option("--name", default=None, help="The space's display name (default: the tenant's name).")
@click.option("--url", default=None, help="Kibana's URL (default: SOCPIPE_KIBANA_URL).")
def space_cmd(tenant: str, name: str | None, url: str | None) -> None:
    """Create a client's space and a read-only role on its indices, then load its saved objects."""
    from responders.config import load_config
    from responders.kibana import load, space_setup

    settings = get_settings()
    display = name or load_config(settings).tenant(tenant).name
    try:
        for line in space_setup(settings, tenant, display, url=url):
            click.echo(f"created {line}")
        answer = load(settings, space=tenant, tenant=tenant, url=url)
    except httpx.HTTPError as exc:
        raise _failed(settings, url, exc) from None
    click.echo(f"imported {answer.get('successCount', 0)} saved objects into space {tenant}")
