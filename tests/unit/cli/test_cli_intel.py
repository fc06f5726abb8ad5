"""`socpipe intel`: load, stats, list and test on the sample feeds; one-line errors, exit codes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.intel import parse_since
from cli.main import cli
from tests.unit.detectors.intel.intel_helpers import DATA

FEEDS = [str(DATA / name) for name in ("bundle.json", "misp_event.json", "list.csv", "list.txt")]


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["intel", *args])
    return result.exit_code, result.output


def test_load_reports_per_feed_and_skips() -> None:
    code, out = run("load", *FEEDS)
    assert code == 0
    assert "bundle.json: 10 indicators" in out and "skipped 1 unsupported pattern" in out
    assert "FOLLOWEDBY" in out and "list.csv: 4 indicators" in out


def test_stats_and_list() -> None:
    code, out = run("stats", *FEEDS)
    assert code == 0 and "global: 22 (cidr 2, domain 4" in out
    code, out = run("list", "--kind", "email", *FEEDS)
    assert code == 0 and len(out.splitlines()) == 3 and "TLP:AMBER+STRICT" not in out.split("phisher")[0]


def test_test_value() -> None:
    code, out = run("test", "a.b.evil-updates.example", "--feed", FEEDS[0])
    assert code == 0 and out.startswith("matches: domain evil-updates.example from bundle.json TLP:AMBER")
    code, out = run("test", "8.8.8.8", "--feed", FEEDS[0])
    assert code == 1 and "no indicator matches" in out
    code, out = run("test", "not a value!", "--feed", FEEDS[0])
    assert code == 1 and out.count("\n") == 1 and out.startswith("socpipe: ")


def test_a_feed_that_does_not_load_is_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.txt"
    broken.write_text("no such value\n")
    code, out = run("load", str(DATA / "list.txt"), str(broken))
    assert code == 1 and out.startswith("socpipe: feed broken.txt") and out.count("\n") == 1


def test_parse_since() -> None:
    now = datetime(2026, 12, 7, tzinfo=UTC)
    assert parse_since("7d", now) == datetime(2026, 11, 30, tzinfo=UTC)
    assert parse_since("2026-12-01T00:00:00", now) == datetime(2026, 12, 1, tzinfo=UTC)
    with pytest.raises(Exception, match="duration"):
        parse_since("last week", now)


def test_hunt_with_kafka_down_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing listens on port 9: the hunt stops with one line naming Kafka and what to do."""
    from socpipe.settings import get_settings

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9")
    get_settings.cache_clear()
    try:
        code, out = run("hunt", FEEDS[0])
    finally:
        get_settings.cache_clear()
    assert code == 1 and out.count("\n") == 1
    assert out.startswith("socpipe: Kafka at 127.0.0.1:9 did not answer") and "KAFKA_BOOTSTRAP_SERVERS" in out


def test_watch_without_a_refresh_is_refused_before_any_hunt(tmp_path: Path) -> None:
    """`--watch` with refresh_s 0 would wait for ever: one line says so, before Kafka is asked anything."""
    from socpipe.settings import get_settings

    config = tmp_path / "intel.yaml"
    config.write_text(f"refresh_s: 0\nfeeds:\n  - name: f\n    path: {DATA / 'list.txt'}\n")
    get_settings.cache_clear()
    result = CliRunner().invoke(
        cli,
        ["intel", "hunt", "--watch"],
        env={"SOCPIPE_INTEL_FILE": str(config), "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9"},
    )
    get_settings.cache_clear()
    assert result.exit_code == 2 and "refresh_s above 0" in result.output, result.output
