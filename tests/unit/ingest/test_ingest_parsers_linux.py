"""Linux system logs to ECS: sshd, sudo, su, PAM, shadow-utils, logind and cron messages through the
syslog parser (and the same messages through journald), on lines written by real systems."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ingest.parsers import ParseError, default_registry
from ingest.read import read_log
from schemas.raw import RawRecord

DATA = Path(__file__).resolve().parents[2] / "data" / "linuxweb"


def flat(make_raw: Callable[..., RawRecord], line: str, parser: str = "syslog") -> dict[str, Any]:
    return default_registry().get(parser).parse(make_raw(line, parser)).flat()


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "Accepted publickey for alice from 2001:db8::7 port 50022 ssh2: ED25519 SHA256:abc",
            {"event.action": "ssh_login", "event.outcome": "success", "user.name": "alice",
             "source.ip": "2001:db8::7", "source.port": 50022, "system.auth.ssh.method": "publickey"},
        ),
        (
            "Failed password for invalid user oracle from 203.0.113.5 port 4242 ssh2",
            {"event.category": ["authentication"], "event.outcome": "failure", "user.name": "oracle",
             "source.ip": "203.0.113.5", "system.auth.ssh.event": "Failed"},
        ),
        (
            "Failed none for invalid user admin from 203.0.113.5 port 4242 ssh2",
            {"event.outcome": "failure", "system.auth.ssh.method": "none", "user.name": "admin"},
        ),
        (
            "Invalid user admin from 203.0.113.5 port 4242",
            {"event.outcome": "failure", "user.name": "admin", "source.port": 4242,
             "system.auth.ssh.event": "Invalid"},
        ),
        (
            "Disconnected from authenticating user root 203.0.113.5 port 4242 [preauth]",
            {"event.action": "ssh_disconnect", "event.category": ["network"], "user.name": "root",
             "system.auth.ssh.preauth": True},
        ),
        (
            "Disconnected from user alice 10.0.2.10 port 50022",
            {"event.action": "ssh_disconnect", "event.type": ["end"], "user.name": "alice"},
        ),
        (
            "Received disconnect from 52.80.34.196: 11: Bye Bye [preauth]",
            {"event.action": "ssh_disconnect", "source.ip": "52.80.34.196", "event.reason": "Bye Bye"},
        ),
        (
            "User root from 203.0.113.5 not allowed because not listed in AllowUsers",
            {"event.outcome": "failure", "user.name": "root", "event.reason": "not listed in AllowUsers"},
        ),
        (
            "message repeated 5 times: [ Failed password for root from 5.36.59.76 port 42393 ssh2]",
            {"event.outcome": "failure", "user.name": "root", "repeated": 5},
        ),
    ],
)  # fmt: skip
def test_sshd_messages(make_raw: Callable[..., RawRecord], message: str, expected: dict[str, Any]) -> None:
    """Each sshd message shape gives Elastic's action, category and outcome, the user and the source."""
    event = flat(make_raw, f"Mar  3 04:00:00 web01 sshd[4242]: {message}")
    assert {k: event.get(k) for k in expected} == expected


def test_sudo_refused_and_target_user(make_raw: Callable[..., RawRecord]) -> None:
    """A refused sudo is a failure with sudo's reason; the target user is user.effective.name."""
    event = flat(
        make_raw,
        "Mar  3 04:00:00 web01 sudo:  mallory : 3 incorrect password attempts ; TTY=pts/0 ; "
        "PWD=/home/mallory ; USER=root ; COMMAND=/usr/bin/cat /etc/shadow",
    )
    assert event["event.outcome"] == "failure" and event["event.reason"] == "3 incorrect password attempts"
    assert (event["user.name"], event["user.effective.name"]) == ("mallory", "root")
    assert event["process.command_line"] == "/usr/bin/cat /etc/shadow" and event["process.name"] == "sudo"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "su[7]: FAILED SU (to root) bob on pts/0",
            {
                "event.action": "su",
                "event.outcome": "failure",
                "user.name": "bob",
                "user.effective.name": "root",
            },
        ),
        (
            "su[7]: Successful su for root by alice",
            {"event.outcome": "success", "user.name": "alice", "user.effective.name": "root"},
        ),
        (
            "sudo[9]: pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1000)",
            {
                "event.action": "logged-on",
                "user.name": "alice",
                "user.effective.name": "root",
                "user.id": "1000",
            },
        ),
        (
            "CRON[5]: pam_unix(cron:session): session closed for user root",
            {"event.action": "logged-off", "event.type": ["end"], "user.name": "root"},
        ),
        (
            "passwd[5]: pam_unix(passwd:chauthtok): password changed for bob",
            {"event.action": "password-changed", "event.outcome": "success", "user.target.name": "bob"},
        ),
        (
            "sshd[5]: pam_faillock(sshd:auth): Consecutive login failures for user root account "
            "temporarily locked",
            {"event.action": "account-locked", "event.outcome": "failure", "user.name": "root"},
        ),
        (
            "usermod[5]: add 'mallory' to group 'sudo'",
            {"event.action": "group-member-added", "user.name": "mallory", "group.name": "sudo"},
        ),
        ("userdel[5]: delete user 'olduser'", {"event.type": ["user", "deletion"], "user.name": "olduser"}),
        (
            "gpasswd[5]: user mallory added by root to group wheel",
            {"event.action": "group-user-added", "user.target.name": "mallory", "group.name": "wheel"},
        ),
        (
            "systemd-logind[5]: New session 42 of user bob.",
            {"event.action": "logged-on", "user.name": "bob", "system.auth.session_id": "42"},
        ),
        (
            "CRON[5]: (root) CMD (/usr/lib/php/sessionclean)",
            {
                "event.action": "cron-command",
                "user.name": "root",
                "process.command_line": "/usr/lib/php/sessionclean",
            },
        ),
        (
            "crontab[5]: (mallory) REPLACE (mallory)",
            {"event.action": "crontab-replaced", "event.category": ["configuration"], "user.name": "mallory"},
        ),
    ],
)
def test_other_programs(make_raw: Callable[..., RawRecord], line: str, expected: dict[str, Any]) -> None:
    """su, PAM, shadow-utils, logind and cron lines get their ECS fields."""
    event = flat(make_raw, f"Mar  3 04:00:00 web01 {line}")
    assert {k: event.get(k) for k in expected} == expected


def test_unknown_programs_keep_plain_syslog(make_raw: Callable[..., RawRecord]) -> None:
    """A message no program parser reads stays a plain syslog event, with no category."""
    event = flat(make_raw, "Mar  3 04:00:00 web01 kernel: eth0: link up")
    assert "event.category" not in event and event["message"] == "eth0: link up"


@pytest.mark.parametrize("sample", ["beats-secure-rhel7.log", "beats-system-auth.log"])
def test_every_sshd_sudo_su_line_of_the_real_samples_is_read(sample: str) -> None:
    """Target of issue 12: every sshd, sudo and su line of the real samples parses, and every line that
    records an attempt or a command has category, outcome or action, user and (sshd) source."""
    for line, event in read_log(DATA / sample, "syslog"):
        assert not isinstance(event, ParseError), (line, event)
        flat_event = event.flat()
        if flat_event.get("process.name") not in ("sshd", "sudo", "su"):
            continue
        message = flat_event["message"]
        if any(word in message for word in ("Failed password", "Accepted", "COMMAND=", "Invalid user")):
            assert flat_event.get("event.category") and flat_event.get("event.action"), (line, message)
            assert flat_event.get("user.name"), (line, message)
            if flat_event["process.name"] == "sshd":
                assert flat_event.get("source.ip"), (line, message)
                assert flat_event.get("event.outcome") in ("success", "failure"), (line, message)


def test_journald_runs_the_same_program_parsers() -> None:
    """journalctl -o json entries: time, host and process from the journal, ECS fields from the message,
    a byte-array MESSAGE decoded."""
    events = [e for _, e in read_log(DATA / "journald-sample.jsonl", "journald")]
    assert not any(isinstance(e, ParseError) for e in events)
    ssh, sudo, kernel = (e.flat() for e in events if not isinstance(e, ParseError))
    assert ssh["@timestamp"] == "2026-03-03T10:00:00.123456Z"
    assert (ssh["event.outcome"], ssh["user.name"], ssh["source.ip"]) == ("failure", "admin", "203.0.113.5")
    assert ssh["host.name"] == "web01" and ssh["process.executable"] == "/usr/sbin/sshd"
    assert ssh["systemd.unit"] == "ssh.service"
    assert (sudo["user.name"], sudo["user.effective.name"]) == ("alice", "root")
    assert kernel["message"] == "hi\ufffd"


def test_journald_refuses_what_is_not_a_journal_entry(make_raw: Callable[..., RawRecord]) -> None:
    """A JSON object without MESSAGE and __REALTIME_TIMESTAMP is refused with the format named."""
    with pytest.raises(ParseError, match="journalctl -o json"):
        default_registry().get("journald").parse(make_raw('{"a": 1}', "journald"))
