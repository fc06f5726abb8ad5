"""ECS fields from the messages of Linux system programs, by program name (the syslog tag).

`enrich(program, message)` returns the ECS keyword arguments for `make_event`, or None when the
message means nothing to security (or the program is not one we read). PAM messages are read
whatever program logs them. The syslog and journald parsers call it on every line.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ingest.parsers.linux import accounts, cron, logind, pam, sshd, su, sudo
from ingest.parsers.linux.ecs import Fields

_BY_PROGRAM: dict[str, Callable[[str], Fields | None]] = {
    "sshd": sshd.parse,
    "sshd-session": sshd.parse,  # OpenSSH 9.8+ logs the per-connection process under this name
    "sudo": sudo.parse,
    "su": su.parse,
    "systemd-logind": logind.parse,
    "cron": cron.parse,
    "crond": cron.parse,
    "crontab": cron.parse,
}


_REPEATED = re.compile(r"message repeated (\d+) times: \[ ?(.*)\]$")


def enrich(program: str | None, message: str) -> Fields | None:
    """ECS fields of one message of `program`; None when it has none to add.

    rsyslog's `message repeated 5 times: [ Failed password ...]` is read as the message it repeats,
    with the count in `original.repeated` (heuristics still count it as one event).
    """
    if not program or not message:
        return None
    if message.startswith("message repeated ") and (m := _REPEATED.match(message)):
        inner = enrich(program, m[2])
        if inner is not None:
            inner.setdefault("original", {})["repeated"] = int(m[1])
        return inner
    if message.startswith(("pam_", "PAM ")):
        return pam.parse(message)
    # as logged (lower case, the common case: one lookup), else lower-cased
    name = program
    parse = _BY_PROGRAM.get(program) or _BY_PROGRAM.get(name := program.lower())
    if parse is not None:
        return parse(message)
    if name in accounts.PROGRAMS:
        return accounts.parse(name, message)
    return None
