"""`socpipe scan --heuristics/--no-heuristics`: the anomaly heuristics beside the Sigma rules, offline."""

from __future__ import annotations

import json

from click.testing import CliRunner

from cli.main import cli
from socpipe.paths import samples_dir


def _rule_ids(*args: str) -> list[str]:
    sample = str(samples_dir() / "acme-windows.jsonl")
    result = CliRunner().invoke(cli, ["scan", "--format", "jsonl", "--no-progress", *args, sample])
    assert result.exit_code == 0, result.output
    return [json.loads(x)["rule"]["id"] for x in result.stdout.splitlines() if x.startswith("{")]


def test_scan_runs_the_heuristics_by_default_and_not_when_told() -> None:
    """By default the sample's new service and cleared log also come out as heuristic detections."""
    with_heuristics = _rule_ids("--tenant", "acme")
    without = _rule_ids("--tenant", "acme", "--no-heuristics")
    extra = sorted(set(with_heuristics) - set(without))
    assert extra == ["socpipe-heuristic-first-time-service", "socpipe-heuristic-log-cleared"]
    assert not any(r.startswith("socpipe-heuristic-") for r in without)
