"""su: switching user. `(to root) alice on pts/0`, `FAILED SU (to root) alice on pts/0`,
`Successful su for root by alice`, `FAILED su for root by alice`, `+ pts/0 alice:root` (Debian)."""

from __future__ import annotations

import re

from ingest.parsers.linux.ecs import Fields, build

_TO = re.compile(r"(?P<failed>FAILED SU )?\(to (?P<target>[^)]+)\) (?P<user>\S+) on (?P<tty>\S+)")
_FOR = re.compile(r"(?P<result>Successful|FAILED) su for (?P<target>\S+) by (?P<user>\S+)")
_SHORT = re.compile(r"(?P<sign>[+-]) (?P<tty>\S+) (?P<user>[^:\s]+):(?P<target>\S+)$")


def parse(message: str) -> Fields | None:
    if m := _TO.match(message):
        failed = bool(m["failed"])
    elif m := _FOR.match(message):
        failed = m["result"] == "FAILED"
    elif m := _SHORT.match(message):
        failed = m["sign"] == "-"
    else:
        return None
    return build(
        category=["authentication", "session"] if not failed else ["authentication"],
        type=["start"] if not failed else ["info"],
        action="su",
        outcome="failure" if failed else "success",
        user={"name": m["user"], "effective": {"name": m["target"]}},
    )
