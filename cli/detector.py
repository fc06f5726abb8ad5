"""`socpipe detector run`."""

from __future__ import annotations

from cli.worker_commands import stage_command
from socpipe.settings import Settings
from socpipe.worker import Stage


def _build(settings: Settings) -> Stage:
    from detectors.build import build_detector_stage

    return build_detector_stage(settings, reload_on_sighup=True)


detector = stage_command("detector", _build, lambda s: s.detector_group, lambda s: s.topics.ecs)
