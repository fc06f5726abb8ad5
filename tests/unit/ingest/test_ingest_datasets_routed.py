"""The datasets the parsers set are the ones the Sigma pipeline routes non-Windows rules on: a rule
for linux/zeek/aws/web servers reaches the events of its own parser and no other's."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from detectors.sigma import Engine, load_rules
from ingest.parsers import default_registry
from schemas.raw import RawRecord

LINES = {
    "auditd": 'type=EXECVE msg=audit(1700000000.1:7): argc=2 a0="nc" a1="-e"',
    "syslog": "<38>Nov 30 08:00:00 web1 sshd[42]: Failed password for root from 203.0.113.9 port 22 ssh2",
    "zeek": json.dumps({"_path": "dns", "ts": 1700000000.5, "uid": "C1", "query": "x.example"}),
    "cloudtrail": json.dumps(
        {"eventTime": "2024-02-01T10:00:00Z", "eventSource": "iam.amazonaws.com", "eventName": "X"}
    ),
    "access_log": '203.0.113.9 - - [30/Nov/2026:08:00:00 +0000] "GET /x HTTP/1.1" 200 5',
}
LOGSOURCES = {
    "auditd": "product: linux\n  service: auditd",
    "syslog": "product: linux\n  service: sshd",
    "zeek": "product: zeek\n  service: dns",
    "cloudtrail": "product: aws\n  service: cloudtrail",
    "access_log": "category: webserver",
}


def _rule(parser: str) -> str:
    return (
        f"title: {parser} rule\nid: {uuid.uuid5(uuid.NAMESPACE_URL, parser)}\nstatus: test\nlevel: low\n"
        f"logsource:\n  {LOGSOURCES[parser]}\n"
        "detection:\n  sel:\n    ingest_probe: probe-value\n  condition: sel\n"
    )


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    folder: Path = tmp_path_factory.mktemp("rules")
    for parser in LOGSOURCES:
        (folder / f"{parser}.yml").write_text(_rule(parser))
    return Engine(load_rules([folder], strict=True))


@pytest.mark.parametrize("parser", list(LINES))
def test_each_parser_reaches_its_own_rules_only(
    engine: Engine, parser: str, make_raw: Callable[..., RawRecord]
) -> None:
    event = default_registry().get(parser).parse(make_raw(LINES[parser], parser))
    flat = {**event.flat(), "ingest_probe": "probe-value"}
    fired = [m.rule.title for m in engine.match(flat)]
    assert fired == [f"{parser} rule"], (event.event.dataset if event.event else None, fired)
