"""sudo's log line: who ran what as whom, and why sudo refused it.

`alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls -la` and the refused variants
(`alice : user NOT in sudoers ; TTY=...`, `alice : 3 incorrect password attempts ; ...`). As Elastic's
system integration: `user.name` is the invoking user, `user.effective.name` the target (USER=),
category process and type start; the command also becomes `process.command_line`, and a refusal
sets `event.outcome: failure` with sudo's words in `event.reason`. `process.name` stays sudo (the
process that logged); `process.command_line` is the command it ran, for the rules that read it.
"""

from __future__ import annotations

import re

from ingest.parsers.linux.ecs import Fields, build

_LINE = re.compile(
    r"\s*(?P<user>\S+) : (?:(?P<error>[^;=]+?) ; )?TTY=(?P<tty>[^;]*?) ; PWD=(?P<pwd>[^;]*?) ; "
    r"USER=(?P<target>[^;]*?) ;(?: GROUP=(?P<group>[^;]*?) ;)?(?: TSID=\S+ ;)?(?: ENV=[^;]*? ;)? "
    r"COMMAND=(?P<command>.*)$"
)
_REFUSED = (
    "not in sudoers",
    "not allowed",
    "incorrect password",
    "password is required",
    "a terminal is required",
)


def parse(message: str) -> Fields | None:
    m = _LINE.match(message)
    if not m:
        return None
    error, command = m["error"], m["command"]
    refused = bool(error) and any(word in error.lower() for word in _REFUSED)
    sudo = {"tty": m["tty"], "pwd": m["pwd"], "user": m["target"], "command": command, "error": error}
    return build(
        category=["process"],
        type=["start"] if not refused else ["start", "denied"],
        action="sudo_command" if not refused else "sudo_refused",
        outcome="failure" if refused else "success",
        reason=error,
        user={"name": m["user"], "effective": {"name": m["target"]}},
        group={"name": m["group"]} if m["group"] else None,
        process={"command_line": command, "working_directory": m["pwd"]},
        extra={"system": {"auth": {"sudo": {k: v for k, v in sudo.items() if v}}}},
    )
