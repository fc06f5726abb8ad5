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


def test_scan_reads_raw_logs_with_an_ingest_parser() -> None:
    """`scan --parser syslog` over a real sshd log: the brute-force heuristic fires on the attacking
    source, every row is a Detection of the given tenant, and bad lines are counted, not fatal."""
    from pathlib import Path

    from schemas.detection import Detection

    log = Path(__file__).parents[2] / "data" / "linuxweb" / "beats-secure-rhel7.log"
    args = ["scan", "--parser", "syslog", "--tenant", "linuxco", "--format", "jsonl", "--no-progress"]
    result = CliRunner().invoke(cli, [*args, str(log)])
    assert result.exit_code == 0, result.output
    rows = [Detection.model_validate_json(x) for x in result.stdout.splitlines() if x.startswith("{")]
    brute = [d for d in rows if d.rule.id == "socpipe-heuristic-brute-force"]
    assert {d.entity.source_ip for d in brute} >= {"202.109.143.106"}
    assert {d.tenant for d in rows} == {"linuxco"}


def test_scan_fires_a_shipped_process_creation_rule_on_joined_auditd_lines() -> None:
    """The default rule set's SigmaHQ process_creation rules fire on auditd once SYSCALL and EXECVE are
    joined: `scan --parser auditd` of the joined sample finds the cp of /etc/shadow to /tmp (Image and
    CommandLine on one event), at the SYSCALL's line."""
    from pathlib import Path

    from schemas.detection import Detection

    log = Path(__file__).parents[2] / "data" / "linuxweb" / "auditd-joined.log"
    args = ["scan", "--parser", "auditd", "--tenant", "linuxco", "--format", "jsonl", "--no-progress"]
    result = CliRunner().invoke(cli, [*args, str(log)])
    assert result.exit_code == 0, result.output
    rows = [Detection.model_validate_json(x) for x in result.stdout.splitlines() if x.startswith("{")]
    copy = [d for d in rows if d.rule.id == "fa4aaed5-4fe0-498d-bbc0-08e3346387ba"]
    assert len(copy) == 1, [d.rule.id for d in rows]
