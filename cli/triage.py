"""`socpipe triage serve | login-link`: the triage web page and the analysts' one-time login links."""

from __future__ import annotations

import click

from cli.ingest import _address, _can_listen
from socpipe.settings import Settings, get_settings


def _secret(settings: Settings) -> str:
    if settings.triage_secret is None or len(settings.triage_secret.get_secret_value()) < 16:
        raise click.UsageError(
            "SOCPIPE_TRIAGE_SECRET is not set (or shorter than 16 characters): set it to a long random "
            "string, the same for `triage login-link` and `triage serve`"
        )
    return settings.triage_secret.get_secret_value()


def _tenants(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    from responders.config import load_config

    names = tuple(t.strip() for t in value.split(",") if t.strip())
    known = set(load_config(get_settings()).tenants)
    unknown = sorted(set(names) - known)
    if not names or unknown:
        raise click.BadParameter(
            f"unknown tenant {', '.join(unknown) or '(none given)'}; known: {', '.join(sorted(known))}",
            param_hint="--tenants",
        )
    return names


@click.group("triage")
def triage() -> None:
    """The triage web page: incidents, their detections and events, and actions recorded as evidence."""


@triage.command("login-link")
@click.option("--analyst", required=True, help="Who signs in: recorded as the actor of every action.")
@click.option("--tenants", default=None, help="Comma-separated tenants they may see (default: every tenant).")
@click.option(
    "--valid-for",
    type=click.IntRange(1, 24 * 60),
    default=15,
    show_default=True,
    help="Minutes the link may be opened in (once).",
)
def login_link(analyst: str, tenants: str | None, valid_for: int) -> None:
    """Print a one-time URL that signs ANALYST in to the triage page."""
    from pydantic import ValidationError

    from responders.triage_web.auth import Analyst, login_token

    settings = get_settings()
    secret = _secret(settings)
    try:
        who = Analyst(name=analyst, tenants=_tenants(tenants))
    except ValidationError as exc:
        raise click.BadParameter(exc.errors()[0]["msg"], param_hint="--analyst") from None
    token = login_token(secret, who, valid_for * 60)
    click.echo(f"{settings.triage_url.rstrip('/')}/login?token={token}")


@triage.command("serve")
@click.option(
    "--listen",
    default="127.0.0.1:8470",
    show_default=True,
    metavar="HOST:PORT",
    help="Address to listen on; plain HTTP: beyond loopback, put a TLS reverse proxy in front.",
)
def serve(listen: str) -> None:
    """Serve the triage page until stopped (Ctrl-C): analysts sign in with `triage login-link`."""
    import uvicorn

    from responders.triage_web.app import create_app
    from responders.worker import Responders
    from socpipe.es import check_elasticsearch

    host, port = _address(listen, "--listen")
    settings = get_settings()
    secret = _secret(settings)
    _can_listen("tcp", host, port, "--listen")
    check_elasticsearch(settings)
    responders = Responders(settings, check=False)
    app = create_app(
        responders.triage(),
        secret,
        kibana_url=settings.kibana_url,
        https_only=settings.triage_url.startswith("https://"),
    )
    click.echo(f"triage page on http://{host}:{port}/ (links: {settings.triage_url})", err=True)
    try:
        uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)
    finally:
        responders.close()
