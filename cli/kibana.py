"""`socpipe kibana load | space`: saved objects and per-client spaces in Kibana."""

from __future__ import annotations

import click
import httpx

from cli.options import tenant_option
from socpipe.errors import ServerUnavailableError
from socpipe.settings import Settings, get_settings


def _unreachable(settings: Settings, url: str | None, exc: httpx.HTTPError) -> Exception:
    """Kibana not answering names the URL tried and where it came from."""
    where = url or settings.kibana_url
    setting = "--url" if url else "SOCPIPE_KIBANA_URL (or --url)"
    start = "`docker compose up -d kibana`; `socpipe dev up` has no Kibana"
    return ServerUnavailableError("Kibana", where, setting, type(exc).__name__, start=start)


@click.group("kibana")
def kibana() -> None:
    """Kibana saved objects (data views, searches, the triage dashboard) and client spaces."""


@kibana.command("load")
@click.option("--url", default=None, help="Kibana's URL (default: the kibana_url setting).")
@click.option(
    "--space",
    default=None,
    help="Import into this client's space (needs --tenant; default: the default space).",
)
@tenant_option(help="Point the data views at this tenant's indices only (its space).")
def load_cmd(url: str | None, space: str | None, tenant: str | None) -> None:
    """Import the saved objects through Kibana's saved objects API (overwrites earlier versions)."""
    from responders.kibana_api import KibanaRefusedError, load

    if space and space != "default" and not tenant:
        raise click.UsageError(
            f"--space {space} needs --tenant: without it every tenant's data would be shown in that space"
        )
    settings = get_settings()
    try:
        count = load(settings, space=space or tenant, tenant=tenant, url=url)
    except httpx.TransportError as exc:
        raise _unreachable(settings, url, exc) from None
    except KibanaRefusedError as exc:
        raise click.ClickException(f"Kibana at {url or settings.kibana_url}: {exc}") from None
    click.echo(f"imported {count} saved objects into space {space or tenant or 'default'}")


@kibana.command("space")
@tenant_option(required=True, help="The client whose space and read-only role are made.")
@click.option("--name", default=None, help="The space's display name (default: the tenant's name).")
@click.option("--url", default=None, help="Kibana's URL (default: SOCPIPE_KIBANA_URL).")
def space_cmd(tenant: str, name: str | None, url: str | None) -> None:
    """Create a client's space (kept if it exists) and its read-only role, then load its saved objects."""
    from responders.config import load_config
    from responders.kibana_api import KibanaRefusedError, load, space_setup

    settings = get_settings()
    display = name or load_config(settings).tenant(tenant).name
    try:
        for line in space_setup(settings, tenant, display, url=url):
            click.echo(line)
        count = load(settings, space=tenant, tenant=tenant, url=url)
    except httpx.TransportError as exc:
        raise _unreachable(settings, url, exc) from None
    except KibanaRefusedError as exc:
        raise click.ClickException(f"Kibana at {url or settings.kibana_url}: {exc}") from None
    click.echo(f"imported {count} saved objects into space {tenant}")
