"""`socpipe normalise run`: RawRecords from events.raw, parsed to ECS events on events.ecs."""

from __future__ import annotations

from cli.worker_commands import stage_command
from socpipe.settings import Settings
from socpipe.worker import Stage


def _build(settings: Settings) -> Stage:
    from ingest.normalise import build_stage

    return build_stage(settings)


normalise = stage_command("normalise", _build, lambda s: s.normalise_group, lambda s: s.topics.raw)
