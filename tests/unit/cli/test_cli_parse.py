"""`socpipe parse`: raw log lines to ECS JSON lines; refused lines on stderr with their line number."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cli.main import cli

DATA = Path(__file__).resolve().parents[2] / "data" / "linuxweb"


def test_prints_one_ecs_event_per_line() -> None:
    """Every line of a real auth.log excerpt becomes one JSON object with its ECS fields; exit 0."""
    result = CliRunner().invoke(cli, ["parse", "--parser", "syslog", str(DATA / "beats-system-auth.log")])
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(events) == 10
    assert events[3]["event"]["outcome"] == "failure" and events[3]["source"]["ip"] == "216.160.83.57"
    assert events[3]["tenant"] == "local" and events[3]["ingest"]["parser"] == "syslog"


def test_flat_view_and_stdin(tmp_path: Path) -> None:
    """--flat prints the names rules match on; without FILE the lines come from standard input."""
    line = '1.2.3.4 - - [03/Mar/2026:10:05:08 +0000] "GET /a?b=1 HTTP/1.1" 404 153 "-" "curl/8"\n'
    result = CliRunner().invoke(
        cli, ["parse", "--parser", "access_log", "--flat", "--tenant", "acme"], input=line
    )
    assert result.exit_code == 0, result.output
    event = json.loads(result.stdout)
    assert event["url.query"] == "b=1" and event["cs-uri-query"] == "/a?b=1" and event["tenant"] == "acme"


def test_refused_lines_are_reported_and_exit_1(tmp_path: Path) -> None:
    """A line the parser refuses is named on stderr with its number and reason; the others still print."""
    path = tmp_path / "mixed.log"
    path.write_text(
        "Mar  3 04:00:00 web01 sshd[1]: Accepted password for a from 1.2.3.4 port 2 ssh2\nnot syslog\n"
    )
    result = CliRunner().invoke(cli, ["parse", "--parser", "syslog", str(path)])
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == 1
    assert f"{path}:2: not syslog" in result.stderr


def test_bad_usage_fails_in_one_line(tmp_path: Path) -> None:
    """An unknown parser, a missing file or a bad time zone: exit 2 with what to do, no traceback."""
    runner = CliRunner()
    unknown = runner.invoke(cli, ["parse", "--parser", "nope", str(DATA / "beats-system-auth.log")])
    assert unknown.exit_code == 2 and "registered parsers:" in unknown.stderr
    missing = runner.invoke(cli, ["parse", "--parser", "syslog", str(tmp_path / "absent.log")])
    assert missing.exit_code == 2 and "cannot read" in missing.stderr
    zone = runner.invoke(
        cli, ["parse", "--parser", "syslog", "--timezone", "Mars/Base", str(DATA / "beats-secure-rhel7.log")]
    )
    assert zone.exit_code == 2 and "unknown time zone" in zone.stderr
    assert "Traceback" not in unknown.output + missing.output + zone.output
