"""Entry point of the `socpipe` console script.

Subcommand groups live in their own modules and are loaded by name only when invoked (`COMMANDS`),
so that each stays small and the import of one stage's code never slows another's command: a scan
does not pay for the HTTP receiver's or Elasticsearch's imports.

Errors a person must act on are caught here, once, for every command (`SocpipeGroup.invoke`):
a bad configuration (`socpipe.errors.ConfigurationError` and its family) exits 2 with every problem
and its location; a server that did not answer exits 1 with one line naming it, the address tried
and what to do. Neither prints a traceback.
"""

from __future__ import annotations

import gc
import importlib
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


# name -> (module, attribute) of every top-level command.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("cli.demo", "demo"),
    "dev": ("cli.dev", "dev"),
    "ingest": ("cli.ingest", "ingest"),
    "normalise": ("cli.normalise", "normalise"),
    "detector": ("cli.detector", "detector"),
    "correlate": ("cli.correlate", "correlate"),
    "responder": ("cli.responder", "responder"),
    "events": ("cli.events", "events"),
    "dlq": ("cli.dlq", "dlq"),
    "scan": ("cli.scan", "scan"),
    "parse": ("cli.parse", "parse"),
    "rules": ("cli.rules", "rules_group"),
    "intel": ("cli.intel", "intel"),
    "incident": ("cli.incident", "incident"),
    "notice": ("cli.notice", "notice"),
    "sla": ("cli.sla", "sla"),
    "report": ("cli.report", "report"),
    "evidence": ("cli.evidence", "evidence"),
    "kibana": ("cli.kibana", "kibana"),
    "triage": ("cli.triage", "triage"),
    "schemas": ("cli.schemas", "schemas_group"),
}


class SocpipeGroup(click.Group):
    """The top-level group: loads a command when it is asked for, and turns configuration errors and
    servers that are down into one clear line."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context | None, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, attribute = COMMANDS[cmd_name]
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return self.commands.get(cmd_name)

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
    settings = get_settings()  # a bad setting stops every command here, before it does anything (exit 2)
    if settings.kafka_log_level != "CRITICAL":
        configure_logging(log_level, kafka_level=settings.kafka_log_level)


def load_all() -> click.Group:
    """The top-level group with every command loaded (for tools and tests that walk the tree)."""
    for name in COMMANDS:
        cli.get_command(None, name)
    return cli


def main() -> None:
    try:
        cli(standalone_mode=True)
    finally:
        # At exit the interpreter's last collection walks every object still alive: after loading
        # the 2,858 Windows rules that is about 0.2 s of a 1 s `scan`. None of it is cyclic garbage
        # worth finding now, so the collector skips it (refcounting still frees it).
        gc.freeze()
