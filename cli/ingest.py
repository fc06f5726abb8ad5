"""`socpipe ingest file | stdin | syslog | http`: shippers that publish logs, unparsed, to events.raw.

Each runs until its input ends (a file without --follow, stdin) or until SIGTERM/SIGINT (services).
The tenant always comes from the command line (file, stdin, syslog) or the API key (http).
"""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cli.worker_commands import bound_metrics, metrics_port_option, with_metrics_port
from socpipe.metrics import Metrics
from socpipe.settings import Settings, get_settings

if TYPE_CHECKING:
    from ingest.shippers.network_sink import NetworkSink

_TENANT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
DEFAULT_STATE_DIR = Path("~/.local/state/socpipe/ingest").expanduser()


def _tenant(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not _TENANT.match(value):
        raise click.BadParameter("a tenant id is lower-case letters, digits, '-' and '_' (at most 63)")
    return value


def _parser(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from ingest.parsers import default_registry

    registry = default_registry()
    if value not in registry:
        raise click.BadParameter(f"unknown parser {value!r}; registered: {', '.join(registry.names())}")
    return value


def _address(value: str, option: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise click.BadParameter(f"expected HOST:PORT, got {value!r}", param_hint=option)
    return host.strip("[]"), int(port)


def _timezone_of(ctx: click.Context, timezone: str | None, parser: str) -> str | None:
    """`--timezone` checked against the parser at start; the error names the option and the value."""
    from ingest.shippers.records import source_timezone

    try:
        return source_timezone(timezone, parser)
    except ValueError as exc:
        raise click.BadParameter(
            str(exc), ctx=ctx, param_hint="'--timezone' (SOCPIPE_INGEST_TIMEZONE)"
        ) from None


tenant_option = click.option("--tenant", required=True, callback=_tenant, help="Whose logs these are.")
host_option = click.option(
    "--host", default=socket.gethostname, show_default="this machine's name",
    help="Host the logs are from: the Kafka key that keeps its records in order.",
)  # fmt: skip
timezone_option = click.option(
    "--timezone", envvar="SOCPIPE_INGEST_TIMEZONE", metavar="IANA_ZONE", default=None,
    help="Time zone of the source's syslog clocks (Europe/Paris): RFC 3164 times carry none. "
    "Default: UTC. RFC 5424 times keep their own offset.",
)  # fmt: skip
max_record_option = click.option(
    "--max-record-bytes", type=click.IntRange(1024, 900_000), default=512 * 1024, show_default=True,
    help="Longer records are dead-lettered (with their head) instead of shipped.",
)  # fmt: skip


@click.group("ingest")
def ingest() -> None:
    """Shippers: bring logs into Kafka (events.raw), unparsed, stamped with tenant and source."""


@ingest.command("file")
@click.argument("paths", nargs=-1, required=True, metavar="PATH_OR_GLOB...")
@tenant_option
@click.option("--parser", default="json", show_default=True, callback=_parser, help="Parser for normalise.")
@host_option
@click.option(
    "--follow/--no-follow", default=False, help="Keep tailing (rotation, truncation) until SIGTERM."
)
@click.option(
    "--state-dir", type=click.Path(path_type=Path, file_okay=False), default=DEFAULT_STATE_DIR,
    envvar="SOCPIPE_INGEST_STATE_DIR", show_default=True, help="Where local checkpoints are kept.",
)  # fmt: skip
@click.option("--from-beginning", is_flag=True, help="Ignore checkpoints: ship the whole file again.")
@click.option(
    "--rescan-interval", type=click.FloatRange(0.1), default=5.0, show_default=True, metavar="SECONDS",
    help="With globs or several paths and --follow: how often to look for new matching files.",
)  # fmt: skip
@click.option(
    "--at-least-once", is_flag=True,
    help="No Kafka transactions (for brokers without them): a crash may repeat one batch.",
)  # fmt: skip
@timezone_option
@max_record_option
@metrics_port_option
@click.pass_context
def file_command(
    ctx: click.Context, *,
    paths: tuple[str, ...], tenant: str, parser: str, host: str, follow: bool, state_dir: Path,
    from_beginning: bool, rescan_interval: float, at_least_once: bool, timezone: str | None,
    max_record_bytes: int, metrics_port: int | None,
) -> None:  # fmt: skip
    """Ship the lines of PATH (JSON lines or text); resume where the last run stopped.

    Glob patterns ('/var/log/app/*.log', quoted) or several paths: every matching file, each with its
    own checkpoint; with --follow, files that appear later too (looked for every --rescan-interval).
    """
    from ingest.shippers.globs import absolute_pattern, expand, is_pattern
    from ingest.shippers.tail import FileTail, TailOptions
    from socpipe.bus import KafkaBus
    from socpipe.outage import Stopped, wait_out
    from socpipe.worker import stop_on_signals

    single = len(paths) == 1 and not is_pattern(paths[0])
    if single and Path(paths[0]).is_dir():
        raise click.BadParameter(f"{paths[0]} is a directory; for its files give a glob ('DIR/*.log')")
    if not follow and single and not Path(paths[0]).exists():
        raise click.BadParameter(f"{paths[0]} does not exist", param_hint="PATH")
    if not follow and not single and not expand(absolute_pattern(p) for p in paths):
        raise click.BadParameter(f"no file matches {' '.join(paths)}", param_hint="PATH_OR_GLOB")
    timezone = _timezone_of(ctx, timezone, parser)
    settings = with_metrics_port(get_settings(), metrics_port)
    options = TailOptions(
        tenant=tenant, parser=parser, host=host, state_dir=state_dir, follow=follow,
        exactly_once=not at_least_once, from_beginning=from_beginning, max_record_bytes=max_record_bytes,
        timezone=timezone, rescan_interval_s=rescan_interval,
    )  # fmt: skip
    with bound_metrics(settings) as metrics:
        bus = KafkaBus(settings)
        stop = stop_on_signals()
        try:
            waiting_for = f"kafka at {settings.kafka_bootstrap_servers} to create the pipeline topics"
            wait_out(bus.ensure_pipeline_topics, stop=stop, waiting_for=waiting_for)
        except Stopped:
            return
        targets: list[Path | str] = [Path(paths[0])] if single else list(paths)
        stats = FileTail(targets, options, bus, stop, metrics).run()
    click.echo(f"{' '.join(paths)}: {stats.shipped} records shipped, {stats.dead_letters} dead-lettered")


@ingest.command("stdin")
@tenant_option
@click.option("--parser", default="json", show_default=True, callback=_parser, help="Parser for normalise.")
@host_option
@click.option("--source", "source_name", default="stdin", show_default=True, help="Source name to record.")
@max_record_option
def stdin_command(tenant: str, parser: str, host: str, source_name: str, max_record_bytes: int) -> None:
    """Ship standard input's lines until it ends."""
    from ingest.shippers.records import Origin, RawSink, ingest_producer_settings
    from ingest.shippers.stream import ship_stream
    from socpipe.bus import KafkaBus
    from socpipe.outage import Stopped, wait_out
    from socpipe.worker import stop_on_signals

    settings = get_settings()
    bus = KafkaBus(settings)
    stop = stop_on_signals()
    waiting_for = f"kafka at {settings.kafka_bootstrap_servers} to create the pipeline topics"
    try:
        wait_out(bus.ensure_pipeline_topics, waiting_for=waiting_for, stop=stop)
        publisher = wait_out(lambda: bus.publisher(**ingest_producer_settings()), waiting_for=waiting_for,
                             stop=stop).survive_outages(stop)  # fmt: skip
    except Stopped:
        return
    try:
        sink = RawSink(publisher, bus.topics, max_record_bytes)
        origin = Origin(tenant, source_name, parser, host)
        stats = ship_stream(sys.stdin.buffer, origin, sink, stop=stop)
    finally:
        publisher.close()
    click.echo(f"stdin: {stats.shipped} records shipped, {stats.dead_letters} dead-lettered", err=True)


def _serve(run: object) -> None:
    asyncio.run(run)  # type: ignore[arg-type]


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


@ingest.command("syslog")
@tenant_option
@click.option("--udp", multiple=True, metavar="HOST:PORT", help="Listen for UDP datagrams (repeatable).")
@click.option("--tcp", multiple=True, metavar="HOST:PORT", help="Listen on TCP: octet counting or newlines.")
@click.option(
    "--tls", multiple=True, metavar="HOST:PORT", help="Listen on TCP with TLS (needs --cert, --key)."
)
@click.option("--cert", type=click.Path(exists=True, dir_okay=False), help="TLS certificate chain (PEM).")
@click.option("--key", type=click.Path(exists=True, dir_okay=False), help="TLS private key (PEM).")
@click.option(
    "--client-ca", type=click.Path(exists=True, dir_okay=False), help="Require client certificates."
)
@click.option("--parser", default="syslog", show_default=True, callback=_parser)
@timezone_option
@click.option("--max-message-bytes", type=click.IntRange(1024, 900_000), default=64 * 1024, show_default=True)
@click.option("--max-queued-bytes", type=click.IntRange(1 << 20), default=64 << 20, show_default=True,
              help="Unacknowledged bytes held before TCP reads pause and UDP datagrams drop.")  # fmt: skip
@metrics_port_option
@click.pass_context
def syslog_command(
    ctx: click.Context, *,
    tenant: str, udp: tuple[str, ...], tcp: tuple[str, ...], tls: tuple[str, ...], cert: str | None,
    key: str | None, client_ca: str | None, parser: str, timezone: str | None, max_message_bytes: int,
    max_queued_bytes: int, metrics_port: int | None,
) -> None:  # fmt: skip
    """Receive syslog (RFC 3164/5424) over UDP, TCP and TLS; run until SIGTERM."""
    from ingest.shippers.syslog import SyslogListener, serve_syslog, tls_context

    if not (udp or tcp or tls):
        raise click.UsageError("give at least one of --udp, --tcp, --tls")
    if tls and not (cert and key):
        raise click.UsageError("--tls needs --cert and --key")
    timezone = _timezone_of(ctx, timezone, parser)
    context = tls_context(cert, key, client_ca) if tls and cert and key else None
    where = [(protocol, *_address(value, f"--{protocol}")) for protocol, values in
             (("udp", udp), ("tcp", tcp), ("tls", tls)) for value in values]  # fmt: skip
    listeners = [
        SyslogListener(protocol, host, port, tenant=tenant, parser=parser, tls=context, timezone=timezone)
        for protocol, host, port in where
    ]

    settings = with_metrics_port(get_settings(), metrics_port)

    async def run(metrics: Metrics) -> None:
        sink = _network_sink(settings, metrics, max_queued_bytes, max_message_bytes)
        try:
            stats = await serve_syslog(listeners, sink, _stop_event(), max_message_bytes=max_message_bytes)
        finally:
            await asyncio.to_thread(sink.close)
        click.echo(f"syslog: {stats.messages} messages, {stats.dropped} UDP datagrams dropped", err=True)

    with bound_metrics(settings) as metrics:
        _serve(run(metrics))


@ingest.command("http")
@click.option("--listen", default="0.0.0.0:8080", show_default=True, metavar="HOST:PORT")
@click.option(
    "--keys", "keys_file", type=click.Path(path_type=Path, exists=True, dir_okay=False), required=True,
    envvar="SOCPIPE_INGEST_HTTP_KEYS", help="YAML file of API keys per tenant.",
)  # fmt: skip
@click.option("--default-parser", default="json", show_default=True, callback=_parser)
@timezone_option
@click.option("--max-body-bytes", type=click.IntRange(1024), default=10 << 20, show_default=True)
@click.option("--max-queued-bytes", type=click.IntRange(1 << 20), default=64 << 20, show_default=True,
              help="Unacknowledged bytes held before requests get 429.")  # fmt: skip
@max_record_option
@metrics_port_option
@click.pass_context
def http_command(
    ctx: click.Context, *,
    listen: str, keys_file: Path, default_parser: str, timezone: str | None, max_body_bytes: int,
    max_queued_bytes: int, max_record_bytes: int, metrics_port: int | None,
) -> None:  # fmt: skip
    """Receive JSON / NDJSON batches over HTTP, authenticated per tenant; run until SIGTERM.

    `--timezone` needs a `--default-parser` that reads local times (syslog); it is given to every record
    of a request whose parser reads them, whichever parser the request names.
    """
    from ingest.shippers.http import ApiKeys, HttpOptions, KeyFileError, Receiver, serve_http

    host, port = _address(listen, "--listen")
    timezone = _timezone_of(ctx, timezone, default_parser)
    try:
        keys = ApiKeys.load(keys_file)
    except KeyFileError as exc:
        raise click.BadParameter(str(exc), param_hint="--keys") from None
    options = HttpOptions(
        source=f"http:{listen}", max_body_bytes=max_body_bytes, default_parser=default_parser,
        timezone=timezone,
    )  # fmt: skip

    settings = with_metrics_port(get_settings(), metrics_port)

    async def run(metrics: Metrics) -> None:
        sink = _network_sink(settings, metrics, max_queued_bytes, max_record_bytes)
        try:
            await serve_http(Receiver(keys, sink, options), host, port, _stop_event())
        finally:
            await asyncio.to_thread(sink.close)

    with bound_metrics(settings) as metrics:
        _serve(run(metrics))


def _network_sink(
    settings: Settings, metrics: Metrics, max_queued_bytes: int, max_record_bytes: int
) -> NetworkSink:
    from ingest.shippers.network_sink import NetworkSink
    from ingest.shippers.records import RawSink, ingest_producer_settings
    from ingest.shippers.shipper_metrics import ShipperMetrics
    from socpipe.bus import KafkaBus
    from socpipe.outage import wait_out

    bus = KafkaBus(settings)
    waiting_for = f"kafka at {settings.kafka_bootstrap_servers} to start receiving"
    wait_out(bus.ensure_pipeline_topics, waiting_for=waiting_for)
    publisher = wait_out(lambda: bus.publisher(**ingest_producer_settings()), waiting_for=waiting_for)
    # Received messages cannot be asked for again: their flush waits out a Kafka outage and resends.
    publisher.survive_outages(metrics=metrics)
    sink = RawSink(publisher, bus.topics, max_record_bytes, metrics=ShipperMetrics(metrics))
    return NetworkSink(sink, max_queued_bytes=max_queued_bytes).start()
