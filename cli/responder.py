"""`socpipe responder run`: detections -> incidents, client notices and compliance evidence."""

from __future__ import annotations

import click

from cli.worker_commands import stage_command
from socpipe.settings import Settings
from socpipe.worker import Stage


def _build(settings: Settings) -> Stage:
    from responders.config import ConfigError
    from responders.worker import build_stage, ensure_indices

    try:
        stage = build_stage(settings)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    ensure_indices(settings, stage.config)
    return stage


responder = stage_command("responder", _build, lambda s: s.responder_group, lambda s: s.topics.detections)
