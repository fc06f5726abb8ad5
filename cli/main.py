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
    from cli import (
        demo,
        detector,
        dev,
        dlq,
        evidence,
        incident,
        ingest,
        intel,
        kibana,
        normalise,
        notice,
        responder,
        rules,
        scan,
        schemas,
    )

    for command in (
        demo.demo,
        dev.dev,
        ingest.ingest,
        normalise.normalise,
        detector.detector,
        responder.responder,
        dlq.dlq,
        scan.scan,
        rules.rules_group,
        intel.intel,
        incident.incident,
        notice.notice,
        evidence.evidence,
        kibana.kibana,
        schemas.schemas_group,
    ):
        cli.add_command(command)


_register()


def main() -> None:
    try:
        cli(standalone_mode=True)
    except SettingsError as exc:
        click.echo(f"socpipe: {exc}", err=True)
        sys.exit(2)
