"""`socpipe ingest file | syslog | http --timezone`: checked at start, before any Kafka connection, with an
error that names the option, its variable and the bad value."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.ingest import ingest
from socpipe.settings import get_settings


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("SOCPIPE_"):
            monkeypatch.delenv(name)
    # Nothing listens here: a command that got past its checks would fail to reach Kafka, not pass.
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    get_settings.cache_clear()


def _file(tmp_path: Path) -> str:
    path = tmp_path / "messages"
    path.write_text("Jan 15 10:00:00 h app: x\n")
    return str(path)


def _keys(tmp_path: Path) -> str:
    path = tmp_path / "keys.yaml"
    path.write_text("tenants:\n  acme:\n    keys: [acme-key]\n")
    return str(path)


def _args(args: list[str], tmp_path: Path) -> list[str]:
    if args[0] == "file":
        return [*args, _file(tmp_path)]
    if args[0] == "http":
        return [*args, "--keys", _keys(tmp_path)]
    return args


@pytest.mark.parametrize(
    "args",
    [
        ["syslog", "--tenant", "acme", "--udp", "127.0.0.1:0"],
        ["file", "--tenant", "acme", "--parser", "syslog"],
        ["http", "--listen", "127.0.0.1:0", "--default-parser", "syslog"],
    ],
)
def test_an_unknown_zone_is_refused_naming_the_option_and_the_value(args: list[str], tmp_path: Path) -> None:
    """`--timezone Mars/Olympus` exits 2 with the option, its environment variable and the value named."""
    args = _args(args, tmp_path)
    result = CliRunner().invoke(ingest, [*args, "--timezone", "Mars/Olympus"])
    assert result.exit_code == 2, result.output
    assert "'--timezone' (SOCPIPE_INGEST_TIMEZONE)" in result.output
    assert "unknown time zone 'Mars/Olympus'" in result.output


def test_the_zone_from_the_environment_is_checked_the_same_way(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """SOCPIPE_INGEST_TIMEZONE is the option's variable: a bad value there is refused alike."""
    monkeypatch.setenv("SOCPIPE_INGEST_TIMEZONE", "Europe/Pariss")
    result = CliRunner().invoke(ingest, ["file", "--tenant", "acme", "--parser", "syslog", _file(tmp_path)])
    assert result.exit_code == 2 and "unknown time zone 'Europe/Pariss'" in result.output


def test_a_zone_for_a_parser_that_ignores_it_is_refused(tmp_path: Path) -> None:
    """A zone with `--parser json` would silently do nothing: refused, naming the parsers it applies to."""
    result = CliRunner().invoke(
        ingest, ["file", "--tenant", "acme", "--parser", "json", "--timezone", "UTC", _file(tmp_path)]
    )
    assert result.exit_code == 2
    assert "parser 'json' reads no local times" in result.output and "applies to: syslog" in result.output


@pytest.mark.parametrize("command", ["file", "http"])
def test_a_zone_the_parser_would_ignore_is_refused_alike(command: str, tmp_path: Path) -> None:
    """`ingest http --timezone` checks the zone against `--default-parser` as `ingest file` does against
    `--parser`: json reads no local times, so the same error, naming the option and the parsers."""
    parser = "--parser" if command == "file" else "--default-parser"
    base = ["file", "--tenant", "acme"] if command == "file" else ["http", "--listen", "127.0.0.1:0"]
    result = CliRunner().invoke(ingest, [*_args(base, tmp_path), parser, "json", "--timezone", "UTC"])
    assert result.exit_code == 2, result.output
    assert "'--timezone' (SOCPIPE_INGEST_TIMEZONE)" in result.output
    assert "parser 'json' reads no local times" in result.output and "applies to: syslog" in result.output


def test_the_http_zone_from_the_environment_is_checked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """SOCPIPE_INGEST_TIMEZONE applies to `ingest http` too, refused alike when it names no zone."""
    monkeypatch.setenv("SOCPIPE_INGEST_TIMEZONE", "Europe/Pariss")
    args = _args(["http", "--listen", "127.0.0.1:0", "--default-parser", "syslog"], tmp_path)
    result = CliRunner().invoke(ingest, args)
    assert result.exit_code == 2 and "unknown time zone 'Europe/Pariss'" in result.output
