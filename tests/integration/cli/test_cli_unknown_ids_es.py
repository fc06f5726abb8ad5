"""With the servers up, unknown ids and tenants are told in one line (exit 1), never a traceback.

The servers-down and bad-argument walk over every command is tests/unit/cli/test_cli_errors.py; this
is its part that needs answering servers: Elasticsearch says "no such index" or "not found", and the
command must turn that into what a person can act on.
"""

from __future__ import annotations

import os
import time

import pytest
from click.testing import CliRunner

from cli.main import cli
from socpipe.settings import Settings, get_settings

pytestmark = pytest.mark.elasticsearch

CASES = [
    ("incident show nosuchid", "no incident nosuchid"),
    ("incident ack nosuchid --tenant acme", "no incident nosuchid of tenant acme"),
    ("incident close nosuchid --tenant acme --verdict benign --reason x", "no incident nosuchid"),
    ("evidence export --tenant nosuch --out {tmp}/x.jsonl", "no evidence for tenant 'nosuch'"),
    ("evidence verify --tenant nosuch", "no evidence for tenant 'nosuch'"),
    ("evidence settle --tenant nosuch", "no evidence for tenant 'nosuch'"),
    ("notice retry --tenant nosuch", "tenant 'nosuch' is not configured"),
]


@pytest.mark.parametrize(("command", "says"), CASES, ids=[c for c, _ in CASES])
def test_unknown_ids_and_tenants_are_told_in_one_line(
    command: str, says: str, settings: Settings, tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exit 1, the message on stderr naming what was not found, no exception escaping, in seconds."""
    for name in [n for n in os.environ if n.startswith("SOCPIPE_") and n != "SOCPIPE_CORPUS"]:
        monkeypatch.delenv(name)
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "ELASTICSEARCH_URL": settings.elasticsearch_url,
        "SOCPIPE_TOPIC_PREFIX": settings.topic_prefix,
        "SOCPIPE_INDEX_PREFIX": settings.index_prefix,
    }
    get_settings.cache_clear()
    start = time.monotonic()
    result = CliRunner().invoke(cli, command.format(tmp=tmp_path).split(), env=env)
    took = time.monotonic() - start
    get_settings.cache_clear()
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert says in result.stderr, result.stderr
    assert took < 20, f"took {took:.1f} s"
