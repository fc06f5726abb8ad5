"""`socpipe correlate run`: the stateful stage (Sigma correlations and heuristics)."""

from __future__ import annotations

from cli.worker_commands import stage_command
from socpipe.settings import Settings
from socpipe.worker import Stage


def _build(settings: Settings) -> Stage:
    from detectors.build import build_correlate_stage

    return build_correlate_stage(settings, reload_on_sighup=True)


correlate = stage_command("correlate", _build, lambda s: s.correlate_group, lambda s: s.topics.contributions)
