"""`socpipe <stage> run`: start one stage's worker in the consumer group until SIGTERM."""

from __future__ import annotations

from collections.abc import Callable

import click

from socpipe.bus import KafkaBus
from socpipe.settings import Settings, get_settings
from socpipe.worker import Stage, run_worker, stop_on_signals


def run_stage(settings: Settings, stage: Stage, group: str, topic: str, idle_exit: int | None = None) -> None:
    """The same start-up for every stage: topics exist, consumer and publisher, the one loop."""
    bus = KafkaBus(settings)
    bus.ensure_pipeline_topics()
    consumer = bus.consumer(group, [topic])
    publisher = bus.publisher()
    try:
        stats = run_worker(
            stage, consumer, publisher, settings.topics.dlq, stop=stop_on_signals(),
            poll_timeout_ms=settings.poll_timeout_ms, max_records=settings.batch_size,
            idle_polls_before_exit=idle_exit,
        )
    finally:
        consumer.close()
        publisher.close()
    click.echo(f"{stage.name}: {stats.records} records, {stats.outputs} outputs, {stats.dead_letters} dead letters")


def stage_command(name: str, build: Callable[[Settings], Stage], group: Callable[[Settings], str],
                  topic: Callable[[Settings], str]) -> click.Group:
    @click.group(name)
    def group_cmd() -> None:
        pass

    @group_cmd.command("run")
    @click.option("--exit-when-idle", type=int, default=None,
                  help="Stop after this many empty polls (batch jobs, demos); default: run until SIGTERM.")
    def run(exit_when_idle: int | None) -> None:
        settings = get_settings()
        run_stage(settings, build(settings), group(settings), topic(settings), exit_when_idle)

    run.help = f"Run a {name} worker in its consumer group (scale by starting more)."
    group_cmd.help = f"The {name} stage."
    return group_cmd
