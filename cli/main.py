"""Entry point of the `socpipe` console script.

Subcommand groups live in their own modules and are registered here, so that each stays small
and the import of one stage's code never slows another's command.

Errors a person must act on are caught here, once, for every command (`SocpipeGroup.invoke`):
a bad configuration (`socpipe.errors.ConfigurationError` and its family) exits 2 with every problem
and its location; a server that did not answer exits 1 with one line naming it, the address tried
and what to do. Neither prints a traceback.
"""

from __future__ import annotations

from typing import Any

import click

from socpipe.errors import ConfigurationError, ServerUnavailableError
from socpipe.logging import configure_logging

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class Failure(click.ClickException):
    """A failure told in one `socpipe: ...` line on stderr, with its own exit status."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click reads it per instance

    def show(self, file: Any = None) -> None:
        click.echo(f"socpipe: {self.format_message()}", err=True)


def server_down(exc: BaseException) -> ServerUnavailableError | None:
    """The ServerUnavailableError that a client library's connection error means, or None if it is not one.

    The last resort: commands check their servers first (`check_kafka`, `check_elasticsearch`) so
    they fail in seconds; this catches what a check could not foresee (a server gone mid-command).
    """
    from elastic_transport import ConnectionError as TransportConnectionError
    from elastic_transport import ConnectionTimeout
    from kafka.errors import KafkaConnectionError, KafkaTimeoutError, MetadataEmptyBrokerList

    from socpipe.settings import get_settings

    if isinstance(exc, ServerUnavailableError):
        return exc
    if isinstance(exc, KafkaTimeoutError | KafkaConnectionError | MetadataEmptyBrokerList):
        address = _setting("kafka_bootstrap_servers", get_settings)
        return ServerUnavailableError("Kafka", address, "KAFKA_BOOTSTRAP_SERVERS", type(exc).__name__)
    if isinstance(exc, TransportConnectionError | ConnectionTimeout):
        address = _setting("elasticsearch_url", get_settings)
        return ServerUnavailableError("Elasticsearch", address, "ELASTICSEARCH_URL", type(exc).__name__)
    return None


def server_refused(exc: BaseException) -> str | None:
    """One line for an error an answering server gave (Elasticsearch's status, type and reason), or None."""
    from elasticsearch import ApiError

    from socpipe.settings import get_settings

    if isinstance(exc, ApiError):
        address = _setting("elasticsearch_url", get_settings)
        return f"Elasticsearch at {address} refused the request: {exc.meta.status} {exc.message}"
    return None


def _setting(name: str, get: Any) -> str:
    try:
        return str(getattr(get(), name))
    except ConfigurationError:
        return "(the configured address)"


class SocpipeGroup(click.Group):
    """The top-level group: turns configuration errors and servers that are down into one clear line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError:
            raise  # click shows the usage with it
        except click.ClickException as exc:
            if isinstance(exc, Failure):
                raise
            raise Failure(exc.format_message(), exc.exit_code) from None  # one prefix for every failure
        except ConfigurationError as exc:
            raise Failure(str(exc), 2) from None
        except Exception as exc:
            told = server_down(exc) or server_refused(exc)
            if told is None:
                raise
            raise Failure(str(told), 1) from None


@click.group(cls=SocpipeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="socpipe", prog_name="socpipe")
@click.option(
    "--log-level",
    default="INFO",
    show_default=True,
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    help="Minimum level of log lines.",
)
def cli(log_level: str) -> None:
    """socpipe: a managed-SOC pipeline on Kafka and Elasticsearch."""
    from socpipe.settings import get_settings

    configure_logging(log_level)
    get_settings()  # a bad setting stops every command here, before it does anything (exit 2)


def _register() -> None:
    from cli import (
        correlate,
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
        parse,
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
        correlate.correlate,
        responder.responder,
        dlq.dlq,
        scan.scan,
        parse.parse,
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
    cli(standalone_mode=True)
