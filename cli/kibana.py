"""`socpipe kibana load | space`: saved objects and per-client spaces in Kibana."""

from __future__ import annotations

import click
import httpx

from socpipe.settings import get_settings


@click.group("kibana")
def kibana() -> None:
    """Kibana saved objects (data views, searches, the triage dashboard) and client spaces."""


@kibana.command("load")
@click.option("--url", default=None, help="Kibana's URL (default: the kibana_url setting).")
@click.option("--space", default=None, help="Import into this space (default: the default space).")
@click.option(
    "--tenant", default=None, help="Point the data views at this tenant's indices only (its space)."
)
def load_cmd(url: str | None, space: str | None, tenant: str | None) -> None:
    """Import the saved objects through Kibana's saved objects API (overwrites earlier versions)."""
    from responders.kibana import load

    try:
        answer = load(get_settings(), space=space or tenant, tenant=tenant, url=url)
    except httpx.HTTPError as exc:
        raise click.ClickException(f"Kibana import failed: {exc}") from None
    if not answer.get("success"):
        raise click.ClickException(f"Kibana refused some objects: {answer.get('errors')}")
    click.echo(
        f"imported {answer.get('successCount', 0)} saved objects into space {space or tenant or 'default'}"
    )


@kibana.command("space")
@click.option("--tenant", required=True)
@click.option("--name", default=None, help="The space's display name (default: the tenant's name).")
@click.option("--url", default=None)
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
        raise click.ClickException(f"Kibana: {exc}") from None
    click.echo(f"imported {answer.get('successCount', 0)} saved objects into space {tenant}")
