"""`socpipe <stage> run`: start one stage's worker in the consumer group until SIGTERM.

This is the worker entry point, where a real metrics exporter is bound (STYLE habit 10): a Prometheus
endpoint when `--metrics-port` / SOCPIPE_METRICS_PORT is set, no-op metrics otherwise. The long-running
shippers (`socpipe ingest file | syslog | http`) bind theirs with the same option and `bound_metrics`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click

from socpipe.bus import KafkaBus
from socpipe.logging import get_logger
from socpipe.metrics import Metrics, NullMetrics
from socpipe.outage import Stopped, wait_out
from socpipe.settings import Settings, SettingsError, get_settings
from socpipe.worker import Stage, WorkerStats, run_worker, stop_on_signals

log = get_logger(__name__)


@contextmanager
def bound_metrics(settings: Settings) -> Iterator[Metrics]:
    """Serve Prometheus metrics on metrics_host:metrics_port while the worker runs; NullMetrics if no port.

    A port that cannot be bound stops the worker at start, naming the setting, rather than running blind.
    """
    if settings.metrics_port is None:
        yield NullMetrics()
        return
    from socpipe.metrics_prometheus import PrometheusMetrics  # only workers that export pay for the import

    exporter = PrometheusMetrics()
    try:
        port = exporter.serve(settings.metrics_host, settings.metrics_port)
    except OSError as exc:
        raise SettingsError(
            f"setting SOCPIPE_METRICS_PORT (--metrics-port): cannot listen on "
            f"{settings.metrics_host}:{settings.metrics_port}: {exc}"
        ) from None
    log.info("metrics exporter listening", url=f"http://{settings.metrics_host}:{port}/metrics")
    try:
        yield exporter
    finally:
        exporter.close()


metrics_port_option = click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Serve Prometheus metrics on this port (host: SOCPIPE_METRICS_HOST, default "
    "127.0.0.1); default: SOCPIPE_METRICS_PORT, else no endpoint.",
)


def with_metrics_port(settings: Settings, metrics_port: int | None) -> Settings:
    """The settings with `--metrics-port` applied over SOCPIPE_METRICS_PORT, when it was given."""
    if metrics_port is None:
        return settings
    return settings.model_copy(update={"metrics_port": metrics_port})


def consume(
    settings: Settings,
    stage: Stage,
    group: str,
    topic: str,
    *,
    stop: threading.Event,
    idle_exit: int | None = None,
    metrics: Metrics | None = None,
) -> WorkerStats:
    """One stage in its consumer group on the one loop, with a consumer and publisher it closes after.

    Started while Kafka is away, it waits for it (one log line), as the loop waits out later outages."""
    bus = KafkaBus(settings)
    waiting_for = f"kafka at {settings.kafka_bootstrap_servers} to join group {group}"
    consumer = wait_out(lambda: bus.consumer(group, [topic]), waiting_for=waiting_for, stop=stop)
    try:
        publisher = wait_out(bus.publisher, waiting_for=waiting_for, stop=stop)
    except BaseException:
        consumer.close()
        raise
    try:
        return run_worker(
            stage,
            consumer,
            publisher,
            settings.topics.dlq,
            stop=stop,
            poll_timeout_ms=settings.poll_timeout_ms,
            max_records=settings.batch_size,
            idle_polls_before_exit=idle_exit,
            metrics=metrics,
            lag_interval_s=settings.metrics_lag_interval_s,
        )
    finally:
        consumer.close()
        publisher.close()


def run_stage(
    settings: Settings,
    stage: Stage | Callable[[], Stage],
    group: str,
    topic: str,
    idle_exit: int | None = None,
    *,
    stop: threading.Event | None = None,
) -> None:
    """The same start-up for every stage: metrics, topics exist, the stage built, then `consume` until
    SIGTERM. A server that is down at start is waited for (one log line saying which), not a crash."""
    stop = stop or stop_on_signals()
    with bound_metrics(settings) as metrics:
        try:
            # The stage first: a bad configuration stops the start (exit 2) whatever the servers do; a
            # stage that needs a server to be built (the responder's indices) waits for it here.
            built: Stage = (
                wait_out(
                    stage,
                    waiting_for=f"kafka and elasticsearch ({settings.elasticsearch_url}) to start the stage",
                    stop=stop,
                )
                if callable(stage) and not hasattr(stage, "process")
                else stage  # type: ignore[assignment]
            )
            wait_out(
                KafkaBus(settings).ensure_pipeline_topics,
                waiting_for=f"kafka at {settings.kafka_bootstrap_servers} to create the pipeline topics",
                stop=stop,
            )
            stats = consume(settings, built, group, topic, stop=stop, idle_exit=idle_exit, metrics=metrics)
        except Stopped:
            log.info("stopped before the servers came back")
            return
    click.echo(
        f"{built.name}: {stats.records} records, {stats.outputs} outputs, {stats.dead_letters} dead letters"
    )


def stage_command(
    name: str,
    build: Callable[[Settings], Stage],
    group: Callable[[Settings], str],
    topic: Callable[[Settings], str],
    *,
    run_name: str = "run",
) -> click.Group:
    @click.group(name)
    def group_cmd() -> None:
        pass

    @group_cmd.command(run_name)
    @click.option(
        "--exit-when-idle",
        type=click.IntRange(1),
        default=None,
        help="Stop after this many empty polls (batch jobs, demos); default: run until SIGTERM.",
    )
    @metrics_port_option
    def run(exit_when_idle: int | None, metrics_port: int | None) -> None:
        settings = with_metrics_port(get_settings(), metrics_port)
        run_stage(settings, lambda: build(settings), group(settings), topic(settings), exit_when_idle)

    run.help = f"Run a {name} worker in its consumer group (scale by starting more)."
    group_cmd.help = f"The {name} stage."
    return group_cmd
