"""Every command, on bad input or with its servers down, fails within seconds with a clear message.

The command tree is walked from click itself (`leaf_commands`), so a new command is covered without
editing this file: it gets the generic cases (an unknown option, every option explained in --help, a
broken configuration file), and `test_every_command_has_its_own_cases` fails until it is given a
servers-down case and bad inputs of its own below. The servers are "down" by pointing the settings at a
closed port (127.0.0.1:1). Each case asserts exit status 1 or 2, the message on stderr, no traceback
(no exception escaping click), and a bound on time generous enough not to be flaky: the point is no
30-second hang.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from cli.main import cli, load_all
from socpipe.logging import configure_logging
from socpipe.settings import get_settings

configure_logging("WARNING")  # once, outside any runner: later lines go to the runner's stderr

DOWN = "127.0.0.1:1"
SECONDS = 15.0  # a command that fails fast takes 1-5 s here; 30 s is the hang this test is about

# Long-running commands: their wait-and-resume when a server is down is the workers' and shippers'
# (issue 17); here they get bad arguments and bad configuration only. `dev up` starts real servers.
LONG_RUNNING = {
    "normalise run",
    "detector run",
    "correlate run",
    "responder run",
    "events index",
    "ingest syslog",
    "ingest http",
    "dev up",
}
# Commands that talk to no server (local files, or the dev servers' own state).
NO_SERVER = {
    "dev down", "dev status", "rules check", "rules test", "scan", "parse", "schemas export",
    "intel load", "intel list", "intel stats", "intel test", "triage login-link",
}  # fmt: skip
# Commands whose options' help text is someone else's change in flight.
HELP_OWNED_ELSEWHERE: set[str] = set()


def leaf_commands(group: click.Group = cli, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from leaf_commands(command, (*prefix, name))
        else:
            yield (*prefix, name)


COMMANDS = [" ".join(path) for path in leaf_commands(load_all())]


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    codes: tuple[int, ...]
    says: str  # what stderr must mention (case-insensitive)
    env: tuple[tuple[str, str], ...] = ()  # settings the case needs besides the servers-down ones


def case(args: str | list[str], says: str, *codes: int, env: dict[str, str] | None = None) -> Case:
    return Case(
        tuple(args.split() if isinstance(args, str) else args),
        codes or (1, 2),
        says,
        tuple((env or {}).items()),
    )


TRIAGE_SECRET = {"SOCPIPE_TRIAGE_SECRET": "a-test-secret-of-32-characters!!"}


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """Inputs the cases name: an event file, a keys file, broken rules and rule tests, a garbage manifest."""
    (tmp_path / "ev.jsonl").write_text('{"a": 1}\n')
    (tmp_path / "keys.yaml").write_text("tenants: {acme: {keys: [x]}}\n")
    (tmp_path / "garbage.jsonl").write_text('{"a": 1}\n')
    (tmp_path / "garbage.jsonl.manifest.json").write_text("not json {")
    (tmp_path / "bad.yaml").write_text("tenants: [unclosed\n")
    broken = tmp_path / "broken-rules"
    broken.mkdir()
    (broken / "bad.yml").write_text("title: [unclosed\n")
    rule = Path(__file__).parents[3] / "rules/sigma/windows/proc_creation_recon_whoami.yml"
    for name, tests in (("no-tests", None), ("bad-tests", '[{"name": "x", "evnt": {}}]')):
        folder = tmp_path / name
        folder.mkdir()
        (folder / rule.name).write_text(rule.read_text())
        if tests:
            (folder / rule.name.replace(".yml", ".tests.json")).write_text(tests)
    (tmp_path / "a-file").write_text("")
    return tmp_path


INTEL_LIST = str(Path(__file__).parents[2] / "data" / "intel" / "list.txt")


def own_cases(command: str, f: Path, busy_port: int) -> list[Case]:
    """Bad inputs, missing files, unknown ids and tenants, and servers down, per command."""
    missing = str(f / "nope.jsonl")
    return {
        "demo": [
            case("demo", "kafka at 127.0.0.1:1"),
            case("demo", "bad.yaml", 2, env={"SOCPIPE_TENANTS_FILE": str(f / "bad.yaml")}),
        ],
        "dev down": [case(["dev", "down", "--state-dir", str(f / "a-file")], "state-dir")],
        "dev status": [case(["dev", "status", "--state-dir", str(f / "a-file")], "state-dir")],
        "dev up": [case("dev up --timeout -1", "timeout", 2)],
        "detector run": [
            case("detector run --exit-when-idle -1", "exit-when-idle", 2),
            case("detector run --metrics-port 70000", "metrics-port", 2),
        ],
        "correlate run": [
            case("correlate run --exit-when-idle -1", "exit-when-idle", 2),
            case("correlate run --metrics-port 70000", "metrics-port", 2),
        ],
        "dlq inspect": [
            case("dlq inspect", "kafka at 127.0.0.1:1", 1),
            case("dlq inspect --limit 0", "limit", 2),
        ],
        "dlq replay": [
            case("dlq replay --dry-run", "kafka at 127.0.0.1:1", 1),
            case("dlq replay --as-parser nosuch", "unknown parser", 2),
            case("dlq replay --encoding nosuch", "unknown encoding", 2),
            case(["dlq", "replay", "--tenant", "Not Valid"], "tenant id", 2),
        ],
        "evidence export": [
            case(
                ["evidence", "export", "--tenant", "acme", "--out", missing],
                "elasticsearch at http://127.0.0.1:1",
                1,
            ),
            case(
                ["evidence", "export", "--tenant", "acme", "--out", str(f / "no/dir/x.jsonl")],
                "does not exist",
                2,
            ),
            case(["evidence", "export", "--tenant", "Not Valid", "--out", missing], "tenant id", 2),
            case(
                ["evidence", "export", "--tenant", "acme", "--out", missing, "--from", "2026-13-01"],
                "iso 8601",
                2,
            ),
            case(
                [
                    "evidence",
                    "export",
                    "--tenant",
                    "acme",
                    "--out",
                    missing,
                    "--from",
                    "2026-02-01",
                    "--to",
                    "2026-01-01",
                ],
                "after --to",
                2,
            ),
            case(
                ["evidence", "export", "--tenant", "acme", "--out", missing, "--control", "NOPE:1"],
                "unknown control",
                2,
            ),
        ],
        "evidence settle": [
            case("evidence settle --tenant acme", "elasticsearch at http://127.0.0.1:1", 1),
            case(["evidence", "settle", "--tenant", "Not Valid"], "tenant id", 2),
        ],
        "evidence verify": [
            case("evidence verify --tenant acme", "elasticsearch at http://127.0.0.1:1", 1),
            case("evidence verify", "export_file or --tenant", 2),
            case(["evidence", "verify", missing], "does not exist", 2),
            case(["evidence", "verify", str(f / "ev.jsonl")], "no manifest", 1),
            case(["evidence", "verify", str(f / "garbage.jsonl")], "not a socpipe export manifest", 1),
        ],
        "incident ack": [
            case("incident ack abc", "elasticsearch at http://127.0.0.1:1", 1),
            case("incident ack", "incident_id", 2),
        ],
        "incident assign": [
            case("incident assign abc --to ann", "elasticsearch at http://127.0.0.1:1", 1),
            case("incident assign abc", "--to", 2),
        ],
        "incident close": [
            case("incident close abc --verdict benign --reason x", "elasticsearch at http://127.0.0.1:1", 1),
            case("incident close abc --verdict maybe --reason x", "verdict", 2),
        ],
        "incident escalate": [
            case("incident escalate abc --reason x", "elasticsearch at http://127.0.0.1:1", 1),
            case("incident escalate abc --reason x --severity huge", "severity", 2),
            case("incident escalate abc", "--reason", 2),
        ],
        "incident flag": [
            case("incident flag abc --personal-data", "elasticsearch at http://127.0.0.1:1", 1),
            case("incident flag abc --personal-data-breach", "elasticsearch at http://127.0.0.1:1", 1),
            case("incident flag abc", "personal-data", 2),
        ],
        "incident hold": [
            case("incident hold abc --reason x", "elasticsearch at http://127.0.0.1:1", 1),
            case("incident hold abc", "--reason", 2),
        ],
        "incident resume": [
            case("incident resume abc", "elasticsearch at http://127.0.0.1:1", 1),
            case(["incident", "resume", "abc", "--tenant", "Not Valid"], "tenant id", 2),
        ],
        "incident reopen": [
            case("incident reopen abc --reason x", "elasticsearch at http://127.0.0.1:1", 1),
            case("incident reopen abc", "--reason", 2),
        ],
        "incident notify-regulator": [
            case("incident notify-regulator abc --reference R-1", "elasticsearch at http://127.0.0.1:1", 1),
            case("incident notify-regulator abc", "--reference", 2),
        ],
        "sla status": [
            case("sla status", "elasticsearch at http://127.0.0.1:1", 1),
            case(["sla", "status", "--tenant", "Not Valid"], "tenant id", 2),
        ],
        "sla check": [
            case("sla check", "elasticsearch at http://127.0.0.1:1", 1),
            case(["sla", "check", "--tenant", "Not Valid"], "tenant id", 2),
        ],
        "report": [
            case(
                ["report", "--tenant", "acme", "--out", str(f / "r")],
                "elasticsearch at http://127.0.0.1:1",
                1,
            ),
            case(["report", "--tenant", "acme", "--month", "2026-13", "--out", str(f)], "month", 2),
            case(["report", "--out", str(f)], "--provider", 2),
            case(["report", "--tenant", "acme", "--out", str(f / "a-file")], "a-file", 2),
        ],
        "incident list": [
            case("incident list", "elasticsearch at http://127.0.0.1:1", 1),
            case("incident list --limit -5", "limit", 2),
            case(["incident", "list", "--tenant", "Not Valid"], "tenant id", 2),
        ],
        "incident show": [
            case("incident show abc", "elasticsearch at http://127.0.0.1:1", 1),
            case(["incident", "show", "abc", "--tenant", "Not Valid"], "tenant id", 2),
        ],
        "ingest file": [
            case(["ingest", "file", str(f / "ev.jsonl"), "--tenant", "acme"], "kafka at 127.0.0.1:1", 1),
            case(["ingest", "file", missing, "--tenant", "acme"], "does not exist", 2),
            case(["ingest", "file", str(f / "ev.jsonl"), "--tenant", "Not Valid"], "tenant id", 2),
            case(
                ["ingest", "file", str(f / "ev.jsonl"), "--tenant", "acme", "--parser", "nosuch"],
                "unknown parser",
                2,
            ),
        ],
        "ingest http": [
            case(
                ["ingest", "http", "--keys", str(f / "keys.yaml"), "--listen", f"127.0.0.1:{busy_port}"],
                "in use",
                2,
            ),
            case(["ingest", "http", "--keys", missing], "does not exist", 2),
            case(
                ["ingest", "http", "--keys", str(f / "bad.yaml"), "--listen", "127.0.0.1:0"],
                "api key file",
                2,
            ),
            case(["ingest", "http", "--keys", str(f / "keys.yaml"), "--listen", "nowhere"], "host:port", 2),
        ],
        "ingest stdin": [
            case("ingest stdin --tenant acme", "kafka at 127.0.0.1:1", 1),
            case(["ingest", "stdin", "--tenant", "Not Valid"], "tenant id", 2),
        ],
        "ingest syslog": [
            case(["ingest", "syslog", "--tenant", "acme", "--tcp", f"127.0.0.1:{busy_port}"], "in use", 2),
            case("ingest syslog --tenant acme", "at least one of", 2),
            case("ingest syslog --tenant acme --udp 127.0.0.1:99999", "host:port", 2),
        ],
        "kibana load": [
            case("kibana load", "kibana at http://127.0.0.1:1", 1),
            case(["kibana", "load", "--tenant", "Not Valid"], "tenant id", 2),
            case("kibana load --space acme", "--space acme needs --tenant", 2),
        ],
        "kibana space": [
            case("kibana space --tenant acme", "kibana at http://127.0.0.1:1", 1),
            case("kibana space", "--tenant", 2),
        ],
        "normalise run": [case("normalise run --exit-when-idle -1", "exit-when-idle", 2)],
        "notice retry": [
            case("notice retry", "elasticsearch at http://127.0.0.1:1", 1),
            case("notice retry --older-than 5parsecs", "duration", 2),
        ],
        "responder run": [case("responder run --metrics-port -1", "metrics-port", 2)],
        "events index": [
            case("events index --exit-when-idle 0", "exit-when-idle", 2),
            case("events index --metrics-port -1", "metrics-port", 2),
        ],
        "events prune": [
            case("events prune", "elasticsearch at http://127.0.0.1:1", 1),
            case("events prune --dry-run", "elasticsearch at http://127.0.0.1:1", 1),
            case("events prune --days 3", "no such option", 2),
        ],
        "rules check": [
            case(["rules", "check", "--rules", str(f / "broken-rules")], "bad.yml", 1),
            case(["rules", "check", "--rules", missing], "does not exist", 2),
        ],
        "rules test": [
            case(["rules", "test", "--rules", str(f / "broken-rules")], "bad.yml", 2),
            case(["rules", "test", "--rules", str(f / "no-tests")], "no test files", 1),
            case(["rules", "test", "--rules", str(f / "bad-tests")], "0.event", 2),
        ],
        "scan": [
            case(["scan", missing], "does not exist", 2),
            case(["scan", "--parser", "nosuch", str(f / "a-file")], "unknown parser", 2),
            case(["scan", "--tenant", "Not Valid", str(f / "a-file")], "tenant id", 2),
        ],
        "intel load": [case(["intel", "load", missing], "does not exist", 2)],
        "intel list": [case(["intel", "list", "--tenant", "Not Valid", INTEL_LIST], "tenant id", 2)],
        "intel stats": [case(["intel", "stats", str(f / "garbage.jsonl.manifest.json")], "manifest", 1)],
        "intel test": [case(["intel", "test", "x", "--feed", missing], "does not exist", 2)],
        "intel hunt": [
            case(["intel", "hunt", "--since", "sometime", INTEL_LIST], "since", 2),
            case(["intel", "hunt", INTEL_LIST], "kafka at 127.0.0.1:1", 1),
        ],
        "parse": [
            case(["parse", "--parser", "nosuch", str(f / "a-file")], "unknown parser", 2),
            case(["parse", "--parser", "syslog", missing], "no such file", 2),
        ],
        "schemas export": [case(["schemas", "export", str(f / "a-file")], "a-file", 1, 2)],
        "triage login-link": [
            case("triage login-link --analyst ann", "SOCPIPE_TRIAGE_SECRET", 2),
            case("triage login-link --analyst ann --valid-for 0", "valid-for", 2),
            case(["triage", "login-link", "--analyst", "a b"], "--analyst", 2, env=TRIAGE_SECRET),
            case(
                "triage login-link --analyst ann --tenants nosuch",
                "unknown tenant nosuch",
                2,
                env=TRIAGE_SECRET,
            ),
        ],
        "triage serve": [
            case("triage serve", "elasticsearch at http://127.0.0.1:1", 1, env=TRIAGE_SECRET),
            case("triage serve", "SOCPIPE_TRIAGE_SECRET", 2),
            case("triage serve --listen nowhere", "host:port", 2, env=TRIAGE_SECRET),
            case(["triage", "serve", "--listen", f"127.0.0.1:{busy_port}"], "in use", 2, env=TRIAGE_SECRET),
        ],
    }.get(command, [])


@pytest.fixture
def invoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Run `socpipe ARGS` in-process with every server down; the result, after the common checks."""
    for name in list(os.environ):
        if name.startswith("SOCPIPE_") and name not in ("SOCPIPE_CORPUS",):
            monkeypatch.delenv(name)
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": DOWN,
        "ELASTICSEARCH_URL": f"http://{DOWN}",
        "SOCPIPE_KIBANA_URL": f"http://{DOWN}",
        "SOCPIPE_STATE_DIR": str(tmp_path / "dev-state"),
        "SOCPIPE_INGEST_STATE_DIR": str(tmp_path / "ingest-state"),
    }

    def run(args: tuple[str, ...], extra: dict[str, str] | None = None) -> tuple[Result, float]:
        get_settings.cache_clear()
        start = time.monotonic()
        result = CliRunner().invoke(cli, list(args), env={**env, **(extra or {})}, input="")
        return result, time.monotonic() - start

    yield run
    get_settings.cache_clear()


def check_failure(result: Result, took: float, expected: Case) -> None:
    where = f"socpipe {' '.join(expected.args)}"
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{where}: {type(result.exception).__name__} escaped: {result.exception}"
    )
    assert "Traceback" not in result.output, f"{where}: {result.output}"
    assert result.exit_code in expected.codes, f"{where}: exit {result.exit_code}: {result.output}"
    assert expected.says.lower() in result.stderr.lower(), f"{where}: stderr: {result.stderr}"
    assert took < SECONDS, f"{where}: took {took:.1f} s"


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A TCP port another socket listens on."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        yield busy.getsockname()[1]


@pytest.mark.parametrize("command", COMMANDS)
def test_own_cases_fail_clearly_and_fast(command: str, files: Path, busy_port: int, invoke) -> None:  # type: ignore[no-untyped-def]
    """Each command's bad inputs, missing files and servers-down case: exit 1 or 2, said on stderr."""
    for expected in own_cases(command, files, busy_port):
        result, took = invoke(expected.args, dict(expected.env))
        check_failure(result, took, expected)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_its_own_cases(command: str, files: Path) -> None:
    """A new command fails here until it is given cases above: one with its servers down (unless it is
    long-running, or needs no server) and at least one bad input."""
    cases = own_cases(command, files, 1)
    assert cases, f"give `socpipe {command}` cases in own_cases()"
    if command not in LONG_RUNNING | NO_SERVER:
        assert any(" at " in c.says for c in cases), f"give `socpipe {command}` a servers-down case"


@pytest.mark.parametrize("command", COMMANDS)
def test_an_unknown_option_is_a_usage_error(command: str, invoke) -> None:  # type: ignore[no-untyped-def]
    """Every command refuses an option it does not have, with exit 2 and the option named."""
    result, took = invoke((*command.split(), "--no-such-option"))
    check_failure(result, took, case([*command.split(), "--no-such-option"], "no-such-option", 2))


@pytest.mark.parametrize("command", COMMANDS)
def test_a_broken_configuration_file_stops_every_command(command: str, tmp_path: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    """SOCPIPE_CONFIG with a bad value: every command exits 2 naming the setting and the file, before it
    does anything (a subcommand's required arguments are given so that the settings are reached)."""
    config = tmp_path / "socpipe.yaml"
    config.write_text("batch_size: 0\n")
    args = {
        "evidence export": ("--tenant", "acme", "--out", str(tmp_path / "x")),
        "evidence settle": ("--tenant", "acme"),
        "incident ack": ("abc",),
        "incident assign": ("abc", "--to", "ann"),
        "incident close": ("abc", "--verdict", "benign", "--reason", "x"),
        "incident escalate": ("abc", "--reason", "x"),
        "incident flag": ("abc", "--personal-data"),
        "incident hold": ("abc", "--reason", "x"),
        "incident reopen": ("abc", "--reason", "x"),
        "incident notify-regulator": ("abc", "--reference", "R-1"),
        "report": ("--tenant", "acme", "--out", str(tmp_path / "r")),
        "incident show": ("abc",),
        "ingest file": (str(config), "--tenant", "acme"),
        "ingest http": ("--keys", str(config)),
        "ingest stdin": ("--tenant", "acme"),
        "ingest syslog": ("--tenant", "acme", "--udp", "127.0.0.1:0"),
        "kibana space": ("--tenant", "acme"),
        "scan": (str(config),),
        "schemas export": (str(tmp_path / "schemas"),),
    }.get(command, ())
    full = (*command.split(), *args)
    result, took = invoke(full, {"SOCPIPE_CONFIG": str(config)})
    check_failure(result, took, case(list(full), "SOCPIPE_BATCH_SIZE", 2))
    assert str(config) in result.stderr


@pytest.mark.parametrize("command", sorted(set(COMMANDS) - HELP_OWNED_ELSEWHERE))
def test_every_option_has_help(command: str) -> None:
    """`socpipe COMMAND --help` explains every option it lists."""
    node: click.Command = cli
    for name in command.split():
        assert isinstance(node, click.Group)
        node = node.commands[name]
    bare = [p.name for p in node.params if isinstance(p, click.Option) and not p.help]
    assert bare == [], f"socpipe {command}: options without help: {bare}"
    assert node.help or node.short_help, f"socpipe {command} has no help text"


def test_bad_top_level_options(invoke) -> None:  # type: ignore[no-untyped-def]
    """`--log-level NOPE` is a usage error naming the choices; `--version` prints the version."""
    result, took = invoke(("--log-level", "NOPE", "incident", "list"))
    check_failure(result, took, case("--log-level NOPE incident list", "--log-level", 2))
    version, _ = invoke(("--version",))
    assert version.exit_code == 0 and version.output.startswith("socpipe, version ")


def test_the_lists_name_known_commands() -> None:
    """The long-running and no-server lists name commands that exist."""
    assert set(COMMANDS) >= LONG_RUNNING | NO_SERVER | HELP_OWNED_ELSEWHERE


@pytest.mark.parametrize(
    ("args", "server"),
    [
        (("dlq", "inspect"), "Kafka at 127.0.0.1:1"),
        (("incident", "list"), "Elasticsearch at http://127.0.0.1:1"),
    ],
)
def test_the_console_script_says_one_line_when_a_server_is_down(
    args: tuple[str, ...], server: str, tmp_path: Path
) -> None:
    """The installed `socpipe` script, not only the click group: exactly one line on stderr, naming the
    server, its address and what to do, exit 1, in seconds (was: a 30 s wait, then a traceback)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCPIPE_")}
    env |= {"KAFKA_BOOTSTRAP_SERVERS": DOWN, "ELASTICSEARCH_URL": f"http://{DOWN}", "HOME": str(tmp_path)}
    start = time.monotonic()
    done = subprocess.run(
        [str(Path(sys.executable).parent / "socpipe"), *args],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    took = time.monotonic() - start
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1, done.stderr
    assert lines[0].startswith(f"socpipe: {server} did not answer") and "socpipe dev up" in lines[0]
    assert took < SECONDS, f"took {took:.1f} s"


def test_workers_with_a_broken_configuration_exit_2_with_located_problems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, invoke
) -> None:  # type: ignore[no-untyped-def]
    """The detector with a broken heuristics.yaml or (strict) a broken rule, the responder with a broken
    tenants file: each exits 2 naming the file, line or key, before it touches Kafka (it used to be a
    traceback from the detector and a clear line from the responder)."""
    import detectors.heuristics.config as heuristics_config

    heuristics = tmp_path / "heuristics.yaml"
    heuristics.write_text("defaults:\n  brute_force: {window: 5 parsecs}\n")
    monkeypatch.setattr(heuristics_config, "default_path", lambda: heuristics)
    result, took = invoke(("detector", "run"))
    check_failure(result, took, case("detector run", f"{heuristics}:2: defaults.brute_force.window", 2))
    monkeypatch.undo()

    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "bad.yml").write_text("title: [unclosed\n")
    strict = {"SOCPIPE_STRICT_RULES": "true", "SOCPIPE_RULES_DIRS": f'["{rules}"]'}
    result, took = invoke(("detector", "run"), strict)
    check_failure(result, took, case("detector run", f"{rules / 'bad.yml'}: [parse]", 2))

    tenants = tmp_path / "tenants.yaml"
    tenants.write_text("tenants:\n  - {id: acme, name: A, routes: [{channel: pager, destination: x}]}\n")
    result, took = invoke(("responder", "run"), {"SOCPIPE_TENANTS_FILE": str(tenants)})
    check_failure(result, took, case("responder run", f"{tenants}: tenants.0.routes.0.channel", 2))


@pytest.mark.parametrize("command", ["events index", "events prune"])
def test_a_bad_events_retention_is_refused_with_its_location(command: str, tmp_path: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    """A tenant's events_index.retention_days that is not a whole number of days from 1 stops both events
    commands (exit 2) with the file and the key path, before any server is asked."""
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text(
        "tenants:\n  - id: acme\n    name: ACME\n    events_index: {enabled: true, retention_days: 0}\n"
        "  - id: globex\n    name: Globex\n    events_index: {retention_days: two weeks}\n"
    )
    result, took = invoke(tuple(command.split()), {"SOCPIPE_TENANTS_FILE": str(tenants)})
    check_failure(result, took, case(command, f"{tenants}: tenants.0.events_index.retention_days", 2))
    assert "tenants.1.events_index.retention_days" in result.stderr, result.stderr
