"""`socpipe responder run`: detections -> incidents, client notices and compliance evidence."""

from __future__ import annotations

from cli.worker_commands import stage_command
from socpipe.settings import Settings
from socpipe.worker import Stage


def _build(settings: Settings) -> Stage:
    from responders.config import load_config
    from responders.worker import build_stage, ensure_indices

    config = load_config(settings)  # a ConfigurationError is told by cli/main.py, exit 2
    # Indices first: while Elasticsearch is away this fails (and is retried) before a sweep thread starts.
    ensure_indices(settings, config)
    return build_stage(settings, config)


responder = stage_command("responder", _build, lambda s: s.responder_group, lambda s: s.topics.detections)
