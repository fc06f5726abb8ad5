"""`socpipe ingest file | stdin | syslog | http`: shippers that publish logs, unparsed, to events.raw.

Each runs until its input ends (a file without --follow, stdin) or until SIGTERM/SIGINT (services).
The tenant always comes from the command line (file, stdin, syslog) or the API key (http).
"""

from __future__ import annotations

import asyncio
import errno
import signal
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cli.options import tenant_option
from cli.worker_commands import bound_metrics, metrics_port_option, with_metrics_port
from socpipe.metrics import Metrics
from socpipe.settings import Settings, get_settings

if TYPE_CHECKING:
    from ingest.shippers.network_sink import NetworkSink
    from ingest.shippers.shipper_metrics import ShipperMetrics

DEFAULT_STATE_DIR = Path("~/.local/state/socpipe/ingest").expanduser()


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


def _can_listen(protocol: str, host: str, port: int, option: str | None = None) -> None:
    """Refuse at start, naming the option, an address this process cannot listen on (in use, not ours,
    no such interface), before anything else starts; the listener binds it again right after."""
    kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
    try:
        infos = socket.getaddrinfo(host or None, port, type=kind, flags=socket.AI_PASSIVE)
        family, _, _, _, address = infos[0]
        with socket.socket(family, kind) as probe:
            if kind == socket.SOCK_STREAM:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        in_use = exc.errno == errno.EADDRINUSE
        hint = "; another process listens there: stop it or choose another port" if in_use else ""
        raise click.BadParameter(
            f"cannot listen on {host}:{port} ({protocol}): {reason}{hint}",
            param_hint=option or f"--{protocol}",
        ) from None


def _timezone_of(ctx: click.Context, timezone: str | None, parser: str) -> str | None:
    """`--timezone` checked against the parser at start; the error names the option and the value."""
    from ingest.shippers.records import source_timezone

    try:
        return source_timezone(timezone, parser)
    except ValueError as exc:
        raise click.BadParameter(
            str(exc), ctx=ctx, param_hint="'--timezone' (SOCPIPE_INGEST_TIMEZONE)"
        ) from None


ingest_tenant_option = tenant_option(required=True, help="Whose logs these are.")
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
@ingest_tenant_option
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
        if not follow:  # a one-shot run fails fast; a --follow tail is a service that waits for Kafka
            bus.check()
        try:
            waiting_for = f"kafka at {settings.kafka_bootstrap_servers} to create the pipeline topics"
            wait_out(bus.ensure_pipeline_topics, stop=stop, waiting_for=waiting_for)
        except Stopped:
            return
        targets: list[Path | str] = [Path(paths[0])] if single else list(paths)
        stats = FileTail(targets, options, bus, stop, metrics).run()
    click.echo(f"{' '.join(paths)}: {stats.shipped} records shipped, {stats.dead_letters} dead-lettered")


@ingest.command("stdin")
@ingest_tenant_option
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
    bus = KafkaBus(settings).check()  # fails fast at start; once shipping, an outage is waited out
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
        publisher.survive_outages(stop, on_refused=sink.refused_by_kafka)  # as the network receivers
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
@ingest_tenant_option
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
@click.option(
    "--insecure-listen", is_flag=True,
    help="Allow --udp/--tcp (plain text) beyond loopback: for devices that cannot send syslog over TLS.",
)  # fmt: skip
@click.option("--parser", default="syslog", show_default=True, callback=_parser, help="Parser for normalise.")
@timezone_option
@click.option(
    "--max-message-bytes", type=click.IntRange(1024, 900_000), default=64 * 1024, show_default=True,
    help="Longer messages are dead-lettered (with their head) instead of shipped.",
)  # fmt: skip
@click.option("--max-queued-bytes", type=click.IntRange(1 << 20), default=64 << 20, show_default=True,
              help="Unacknowledged bytes held before TCP reads pause and UDP datagrams drop.")  # fmt: skip
@metrics_port_option
@click.pass_context
def syslog_command(
    ctx: click.Context, *,
    tenant: str, udp: tuple[str, ...], tcp: tuple[str, ...], tls: tuple[str, ...], cert: str | None,
    key: str | None, client_ca: str | None, insecure_listen: bool, parser: str, timezone: str | None,
    max_message_bytes: int, max_queued_bytes: int, metrics_port: int | None,
) -> None:  # fmt: skip
    """Receive syslog (RFC 3164/5424) over UDP, TCP and TLS; run until SIGTERM.

    --udp and --tcp are plain text: beyond loopback they need --insecure-listen (say so explicitly).
    """
    from ingest.shippers.syslog import SyslogListener, serve_syslog, tls_context
    from ingest.shippers.tls import InsecureListenError, check_listen

    if not (udp or tcp or tls):
        raise click.UsageError("give at least one of --udp, --tcp, --tls")
    if tls and not (cert and key):
        raise click.UsageError("--tls needs --cert and --key")
    timezone = _timezone_of(ctx, timezone, parser)
    context = tls_context(cert, key, client_ca) if tls and cert and key else None
    where = [(protocol, *_address(value, f"--{protocol}")) for protocol, values in
             (("udp", udp), ("tcp", tcp), ("tls", tls)) for value in values]  # fmt: skip
    for protocol, host, port in where:
        try:
            check_listen(host, tls=protocol == "tls", insecure=insecure_listen)
        except InsecureListenError as exc:
            what = str(exc).replace("Give --cert and --key", "Use --tls (with --cert and --key)")
            raise click.BadParameter(what, param_hint=f"--{protocol}") from None
        _can_listen(protocol, host, port)
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
@click.option(
    "--listen", default="127.0.0.1:8080", show_default=True, metavar="HOST:PORT",
    help="Address to listen on. Beyond loopback it needs --cert/--key, or --insecure-listen.",
)  # fmt: skip
@click.option(
    "--keys", "keys_file", type=click.Path(path_type=Path, exists=True, dir_okay=False), required=True,
    envvar="SOCPIPE_INGEST_HTTP_KEYS", help="YAML file of API keys per tenant (and client certificates).",
)  # fmt: skip
@click.option(
    "--cert", type=click.Path(exists=True, dir_okay=False), help="TLS certificate chain (PEM): HTTPS."
)
@click.option(
    "--key", "key_file", type=click.Path(exists=True, dir_okay=False), help="TLS private key (PEM)."
)
@click.option(
    "--key-password", envvar="SOCPIPE_INGEST_HTTP_KEY_PASSWORD", default=None,
    help="Password of an encrypted --key (better from the environment variable).",
)  # fmt: skip
@click.option(
    "--client-ca", type=click.Path(exists=True, dir_okay=False),
    help="CA of client certificates (mutual TLS), for tenants whose keys list client_certs.",
)  # fmt: skip
@click.option(
    "--insecure-listen", is_flag=True,
    help="Allow plain HTTP beyond loopback (only where something else encrypts the link).",
)  # fmt: skip
@click.option("--default-parser", default="json", show_default=True, callback=_parser,
              help="Parser of requests that name none (?parser=).")  # fmt: skip
@timezone_option
@click.option("--max-body-bytes", type=click.IntRange(1024), default=10 << 20, show_default=True,
              help="Larger bodies get 413, before they are read.")  # fmt: skip
@click.option("--body-timeout", type=click.FloatRange(0.1), default=30.0, show_default=True, metavar="S",
              help="A body not all there within this gets 408 and the connection closes.")  # fmt: skip
@click.option("--idle-timeout", type=click.FloatRange(0.1), default=15.0, show_default=True, metavar="S",
              help="Keep-alive connections without a request close after this.")  # fmt: skip
@click.option("--max-requests-per-key", type=click.IntRange(1), default=8, show_default=True,
              help="Requests of one API key open at once; more get 429.")  # fmt: skip
@click.option("--max-queued-bytes", type=click.IntRange(1 << 20), default=64 << 20, show_default=True,
              help="Unacknowledged bytes held before requests get 429.")  # fmt: skip
@max_record_option
@metrics_port_option
@click.pass_context
def http_command(
    ctx: click.Context, *,
    listen: str, keys_file: Path, cert: str | None, key_file: str | None, key_password: str | None,
    client_ca: str | None, insecure_listen: bool, default_parser: str, timezone: str | None,
    max_body_bytes: int, body_timeout: float, idle_timeout: float, max_requests_per_key: int,
    max_queued_bytes: int, max_record_bytes: int, metrics_port: int | None,
) -> None:  # fmt: skip
    """Receive JSON / NDJSON batches over HTTP(S), authenticated per tenant; run until SIGTERM.

    \b
    POST /v1/ingest?parser=P[&host=H]           tenant from the key
    POST /v1/tenants/T/ingest?parser=P           the key must be T's (else 403)
    Authorization: Bearer KEY   or   X-API-Key: KEY
    Content-Type: application/json (array or object) | application/x-ndjson | text/plain
    GET  /healthz        200 ready, 503 (with the reason) while Kafka is unavailable
    GET  /openapi.json   the API as OpenAPI 3.1

    \b
    200 {"accepted": N, "dead_lettered": M} once Kafka has every record (an empty batch: 0);
    400 not JSON / unknown parser; 401 no or unknown key; 403 another tenant, a parser or client
    certificate the key lacks; 408 slow body; 413 too large; 429 Kafka behind or too many requests
    of one key (Retry-After); 503 Kafka unavailable (Retry-After), nothing written.

    \b
    curl -H 'Authorization: Bearer KEY' -H 'Content-Type: application/x-ndjson' \\
         --data-binary @events.jsonl 'https://soc.example:8443/v1/ingest?parser=json'

    Listens at once even while Kafka is down (503 until it answers). Plain HTTP only on loopback unless
    --insecure-listen; with --cert/--key it speaks TLS 1.2+. `--timezone` needs a `--default-parser`
    that reads local times (syslog); it is given to every record of a request whose parser reads them.
    """
    from ingest.shippers.http import ApiKeys, HttpOptions, KeyFileError, Receiver, serve_http
    from ingest.shippers.kafka_gate import KafkaGate, bootstrap_addresses
    from ingest.shippers.tls import InsecureListenError, check_listen, server_context

    host, port = _address(listen, "--listen")
    _can_listen("tcp", host, port, option="--listen")
    timezone = _timezone_of(ctx, timezone, default_parser)
    if bool(cert) != bool(key_file):
        raise click.UsageError("--cert and --key go together")
    try:
        check_listen(host, tls=bool(cert), insecure=insecure_listen)
    except InsecureListenError as exc:
        raise click.BadParameter(str(exc), param_hint="--listen") from None
    try:
        keys = ApiKeys.load(keys_file)
    except KeyFileError as exc:
        raise click.BadParameter(str(exc), param_hint="--keys") from None
    if keys.needs_client_certs and not (cert and client_ca):
        raise click.UsageError(
            "tenants in --keys demand client certificates: give --cert, --key and --client-ca"
        )
    tls = None
    if cert and key_file:
        try:
            tls = server_context(
                cert, key_file, client_ca, require_client_cert=False, key_password=key_password
            )
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            raise click.BadParameter(
                f"cannot load the TLS certificate or key: {exc}", param_hint="--cert"
            ) from None
    options = HttpOptions(
        source=f"http:{listen}", max_body_bytes=max_body_bytes, default_parser=default_parser,
        timezone=timezone, body_timeout_s=body_timeout, idle_timeout_s=idle_timeout,
        max_requests_per_key=max_requests_per_key,
    )  # fmt: skip

    settings = with_metrics_port(get_settings(), metrics_port)

    async def run(metrics: Metrics) -> None:
        from ingest.shippers.shipper_metrics import ShipperMetrics

        shipper_metrics = ShipperMetrics(metrics)  # one for the receiver and each sink the gate builds
        gate = KafkaGate(
            lambda: _network_sink(settings, shipper_metrics, max_queued_bytes, max_record_bytes),
            bootstrap_addresses(settings.kafka_bootstrap_servers),
        )
        receiver = Receiver(keys, gate, options, shipper_metrics)
        await serve_http(receiver, host, port, _stop_event(), tls=tls)

    with bound_metrics(settings) as metrics:
        _serve(run(metrics))


def _network_sink(
    settings: Settings, metrics: Metrics | ShipperMetrics, max_queued_bytes: int, max_record_bytes: int
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
    shipper = metrics if isinstance(metrics, ShipperMetrics) else ShipperMetrics(metrics)
    sink = RawSink(publisher, bus.topics, max_record_bytes, metrics=shipper)
    # Received messages cannot be asked for again: their flush waits out a Kafka outage and resends;
    # what Kafka refuses for good (too large for the topic, not authorised) is dead-lettered with
    # Kafka's reason, and the receiver keeps serving.
    publisher.survive_outages(metrics=shipper.metrics, on_refused=sink.refused_by_kafka)
    return NetworkSink(sink, max_queued_bytes=max_queued_bytes).start()
