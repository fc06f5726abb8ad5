"""Every parser end to end on real Kafka: shipped by `socpipe ingest stdin`, normalised, and bad
records of each format (truncated, hostile, wrong format) dead-lettered with the parser's reason."""

from __future__ import annotations

import json
import subprocess
from collections import defaultdict

import pytest
from ingest_helpers import dead_letters, events, raw_records, run_normalise, socpipe_command, socpipe_env

from ingest.parsers import default_registry
from socpipe.settings import Settings

pytestmark = pytest.mark.kafka

GOOD = {
    "json": ['{"time": "2026-11-30T08:00:00Z", "message": "hello", "nested": {"k": 1}}'],
    "text": ["a plain text line"],
    "windows": [
        json.dumps(
            {
                "EventID": 1,
                "Channel": "Microsoft-Windows-Sysmon/Operational",
                "Computer": "ws1",
                "SystemTime": "2026-11-30T08:00:00Z",
                "Image": "C:\\Windows\\cmd.exe",
            }
        ),
        json.dumps(
            {
                "Event": {
                    "System": {
                        "EventID": 4625,
                        "Channel": "Security",
                        "Computer": "dc1",
                        "TimeCreated": {"#attributes": {"SystemTime": "2026-11-30T08:00:00Z"}},
                    },
                    "EventData": {"TargetUserName": "bob"},
                }
            }
        ),
    ],
    "syslog": ["<34>1 2026-11-30T08:00:00Z host app - - - rfc5424", "<13>Nov 30 08:00:00 host app[1]: bsd"],
    "auditd": ['type=EXECVE msg=audit(1764489600.000:7): argc=2 a0="cat" a1=2F6574632F736861646F77'],
    "access_log": ['10.0.0.1 - - [30/Nov/2026:08:00:00 +0000] "GET /etc/passwd HTTP/1.1" 404 12 "-" "curl"'],
    "web_error": [
        '2026/11/30 08:00:00 [error] 7#7: *1 open() "/x" failed, client: 10.0.0.1, request: "GET / HTTP/1.0"'
        "[Mon Nov 30 08:00:00.5 2026] [core:error] [pid 7:tid 8] [client 10.0.0.1:5000] File does not exist",
    ],
    "journald": [
        '{"__REALTIME_TIMESTAMP": "1764489600000000", "_HOSTNAME": "h", "SYSLOG_IDENTIFIER": "sshd", '
        '"MESSAGE": "Failed password for root from 10.0.0.9 port 22 ssh2"}'
    ],
    "zeek": ['{"_path": "conn", "ts": 1764489600.1, "id.orig_h": "10.0.0.1", "id.resp_h": "10.0.0.2"}'],
    "suricata": [
        '{"timestamp": "2026-11-30T08:00:00+0000", "event_type": "dns", "dns": {"rrname": "x.org"}}'
    ],
    "cloudtrail": [
        '{"eventTime": "2026-11-30T08:00:00Z", "eventName": "GetObject", "sourceIPAddress": "1.2.3.4"}'
    ],
}
BAD = {
    "json": ['{"time": "2026-11-30T08:00:00Z", "message": "cut'],
    "text": [" \t "],
    "windows": ['{"Channel": "Security"}', '{"EventID": 1, "SystemTime": "not a time"}'],
    "syslog": ["<300>1 2026-11-30T08:00:00Z host app - - - x"],
    "auditd": ["type=SYSCALL msg=audit(oops): x=1"],
    "access_log": ['10.0.0.1 - - [30/Nov/2026:08:00:00 +0000] "GET /'],
    "web_error": ["2026/11/30 08:00:00 error without brackets"],
    "journald": ['{"unit": "not a journal entry"}'],
    "zeek": ['{"_path": "conn"}'],
    "suricata": ["[" * 5000 + "]" * 5000],
    "cloudtrail": ['{"Records": [{"eventTime": "2026-11-30T08:00:00Z"}]}'],
}


def test_each_parser_normalises_its_format_and_dead_letters_bad_records(settings: Settings) -> None:
    """One stdin shipper per parser; after normalise, every good line is an event of that parser and
    every bad one a `normalise` dead letter naming the parser, with a reason."""
    assert set(GOOD) == set(BAD) == set(default_registry().names()), "a registered parser has no test data"
    for parser, good in GOOD.items():
        lines = "\n".join(good + BAD[parser]) + "\n"
        done = subprocess.run(
            socpipe_command("ingest", "stdin", "--tenant", "acme", "--parser", parser, "--host", parser),
            check=False,
            input=lines.encode(), env=socpipe_env(settings), capture_output=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr.decode()[-2000:]
    total_good = sum(map(len, GOOD.values()))
    total_bad = sum(map(len, BAD.values()))
    assert len(raw_records(settings, at_least=total_good + total_bad)) == total_good + total_bad
    run_normalise(settings)
    by_parser: dict[str, int] = defaultdict(int)
    for envelope in events(settings, at_least=total_good):
        by_parser[envelope.payload.ingest.parser] += 1
        assert envelope.tenant == "acme" and envelope.payload.original
    assert by_parser == {parser: len(lines) for parser, lines in GOOD.items()}
    letters = dead_letters(settings, at_least=total_bad)
    refused: dict[str, int] = defaultdict(int)
    for letter in letters:
        assert letter.stage == "normalise" and letter.reason and letter.source == "stdin"
        refused[letter.parser or ""] += 1
    assert refused == {parser: len(lines) for parser, lines in BAD.items()}
