"""The `auditd` parser: key=value records with auditd's own names, hex-encoded strings decoded."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ingest.parsers import ParseError
from ingest.parsers.auditd import parse
from schemas.raw import RawRecord

SYSCALL = (
    "type=SYSCALL msg=audit(1364481363.243:24287): arch=c000003e syscall=59 success=yes exit=0 a0=41 "
    'ppid=2686 pid=3538 auid=1000 uid=1000 comm="cat" exe="/usr/bin/cat" key="exec"'
)


def test_syscall_record_fields_and_translation(make_raw: Callable[..., RawRecord]) -> None:
    """SYSCALL records keep their fields, get SYSCALL=<name> for x86-64, and map to process.*."""
    event = parse(make_raw(SYSCALL, "auditd"))
    assert event.timestamp.isoformat() == "2013-03-28T14:36:03.243000+00:00"
    assert event.original["type"] == "SYSCALL" and event.original["SYSCALL"] == "execve"
    assert event.original["a0"] == "41", "SYSCALL arguments are numbers, not hex-encoded strings"
    assert event.original["audit_serial"] == 24287
    assert event.process is not None and (event.process.pid, event.process.name) == (3538, "cat")
    assert event.event.outcome == "success"


def test_execve_and_proctitle_hex_values_are_decoded(make_raw: Callable[..., RawRecord]) -> None:
    """EXECVE arguments and proctitle written as hex (they had spaces or NULs) come back as text."""
    execve = parse(
        make_raw('type=EXECVE msg=audit(1.0:1): argc=2 a0="chmod" a1=2F746D702F6D792066696C65', "auditd")
    )
    assert execve.original["a1"] == "/tmp/my file"
    title = parse(
        make_raw("type=PROCTITLE msg=audit(1.0:1): proctitle=636174002F6574632F736861646F77", "auditd")
    )
    assert title.original["proctitle"] == "cat /etc/shadow"


def test_enriched_and_nested_msg_fields(make_raw: Callable[..., RawRecord]) -> None:
    """USER_* records' msg='...' pairs are lifted; enriched upper-case fields after 0x1d are kept."""
    line = (
        "node=web1 type=USER_AUTH msg=audit(1611246781.437:99): pid=1 uid=0 msg='op=PAM:authentication "
        'acct="root" exe="/usr/sbin/sshd" res=failed\'\x1dUID="root" AUID="unset"'
    )
    event = parse(make_raw(line, "auditd"))
    assert event.original["acct"] == "root" and event.original["UID"] == "root"
    assert event.host is not None and event.host.name == "web1"
    assert event.event.outcome == "failure"


@pytest.mark.parametrize(
    "line", ["", "type=SYSCALL arch=x", "msg=audit(1:2): type=X", "type=X msg=audit(abc:1):"]
)
def test_non_audit_lines_raise_parse_error(make_raw: Callable[..., RawRecord], line: str) -> None:
    """Lines without the `type=... msg=audit(epoch:serial):` header are refused."""
    with pytest.raises(ParseError, match="not an auditd record"):
        parse(make_raw(line, "auditd"))
