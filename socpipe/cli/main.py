"""Entry point of the `socpipe` console script.

Subcommand groups live in their own modules and are registered here, so that each stays small
and the import of one stage's code never slows another's command.
"""

from __future__ import annotations

import sys

import click

from socpipe.logging import configure_logging
from socpipe.settings import SettingsError


@click.group()
@click.option("--log-level", default="INFO", show_default=True, help="Minimum level of log lines.")
def cli(log_level: str) -> None:
    """socpipe: a managed-SOC pipeline on Kafka and Elasticsearch."""
    configure_logging(log_level)


def _register() -> None:
    from socpipe.cli import demo, detector, dev, rules, schemas

    cli.add_command(demo.demo)
    cli.add_command(dev.dev)
    cli.add_command(detector.detector)
    cli.add_command(rules.rules_group)
    cli.add_command(schemas.schemas_group)

    from socpipe.cli import evidence, incident, kibana, responder

    cli.add_command(responder.responder)
    cli.add_command(incident.incident)
    cli.add_command(evidence.evidence)
    cli.add_command(kibana.kibana)

    from socpipe.cli import scan

    cli.add_command(scan.scan)

    from socpipe.cli import dlq, ingest, normalise

    cli.add_command(ingest.ingest)
    cli.add_command(normalise.normalise)
    cli.add_command(dlq.dlq)


_register()


def main() -> None:
    try:
        cli(standalone_mode=True)
    except SettingsError as exc:
        click.echo(f"socpipe: {exc}", err=True)
        sys.exit(2)
