"""`socpipe responder run`: detections -> incidents, client notices and compliance evidence."""

from __future__ import annotations

from cli.worker_commands import stage_command
from socpipe.settings import Settings
from socpipe.worker import Stage


def _build(settings: Settings) -> Stage:
    from responders.worker import build_stage, ensure_indices

    stage = build_stage(settings)  # a ConfigurationError is told by cli/main.py, exit 2
    ensure_indices(settings, stage.config)
    return stage


responder = stage_command("responder", _build, lambda s: s.responder_group, lambda s: s.topics.detections)
