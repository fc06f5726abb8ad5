"""`socpipe dev up | status | down`: local Kafka and Elasticsearch without Docker.

`up` prints `export NAME=value` lines on stdout and everything else on stderr, so that
`eval "$(socpipe dev up)"` points the shell at the servers.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click
from pydantic import ValidationError

if TYPE_CHECKING:
    from devtools.settings import DevSettings

# devtools is imported inside the commands: every `socpipe` command loads this module.


def _settings(state_dir: str | None) -> DevSettings:
    from devtools import manager

    try:
        return manager.load_settings(state_dir)
    except ValidationError as exc:
        problems = "; ".join(
            f"SOCPIPE_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise click.UsageError(f"bad dev server setting: {problems}") from exc


_state_option = click.option(
    "--state-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="State folder (pid files, logs, data). Default: $SOCPIPE_STATE_DIR, else <repo>/.socpipe/dev.",
)


@click.group()
def dev() -> None:
    """Local single-node Kafka and Elasticsearch from Maven Central jars."""


@dev.command()
@_state_option
@click.option(
    "--timeout",
    type=click.FloatRange(0, min_open=True),
    default=None,
    help="Seconds to wait for each server (default 180).",
)
def up(state_dir: str | None, timeout: float | None) -> None:
    """Start Kafka and Elasticsearch (reusing running ones) and wait until both answer."""
    from devtools import manager

    settings = _settings(state_dir)
    try:
        reports = manager.start(settings, timeout)
    except RuntimeError as exc:  # DevServerError, and missing java/mvn
        raise click.ClickException(str(exc)) from exc
    for report in reports:
        if report.reused:
            how = "already running" if report.managed else "already running (started elsewhere, not ours)"
        else:
            how = f"started in {report.start_seconds:.1f}s"
            if report.fetch_seconds:
                how += f" (+ {report.fetch_seconds:.1f}s fetching jars)"
        pid = f"pid {report.pid}" if report.pid else "pid ?"
        click.echo(f"{report.name:<14} {pid:<10} {report.address:<24} {how}", err=True)
    click.echo(f"state: {settings.state_path}", err=True)
    for name, value in manager.endpoints(settings).env().items():
        click.echo(f"export {name}={value}")


@dev.command()
@_state_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per server.")
def status(state_dir: str | None, as_json: bool) -> None:
    """Show each server's pid, address and health; exit 1 unless all are healthy."""
    from devtools import manager

    found = manager.status(_settings(state_dir))
    for item in found:
        if as_json:
            click.echo(item.model_dump_json())
            continue
        health = "healthy" if item.healthy else "unhealthy"
        pid = f"pid {item.pid}" if item.pid else "pid -"
        line = f"{item.name:<14} {item.version:<8} {pid:<10} {item.address:<24} {health}"
        if item.detail:
            line += f"  ({item.detail})"
        click.echo(line)
    if not all(item.healthy for item in found):
        click.echo(f"logs: {', '.join(str(item.log_file) for item in found)}", err=True)
        sys.exit(1)


@dev.command()
@_state_option
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds before SIGKILL.")
def down(state_dir: str | None, timeout: float) -> None:
    """Stop the servers this state folder started (SIGTERM, then SIGKILL) and remove their pid files."""
    from devtools import manager

    for report in manager.shutdown(_settings(state_dir), timeout):
        if report.was_running:
            how = "killed (did not stop in time)" if report.killed else "stopped"
        else:
            how = "was not running" + (" (stale pid file removed)" if report.pid else "")
        click.echo(f"{report.name:<14} {how}")
