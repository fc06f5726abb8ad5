"""systemd-logind: `New session 42 of user bob.`, `Session 42 logged out. ...`, `Removed session 42.`"""

from __future__ import annotations

import re

from ingest.parsers.linux.ecs import Fields, build

_NEW = re.compile(r"New session (?P<id>\S+) of user (?P<user>[^\s.]+)\.?")
_END = re.compile(r"(?:Removed session (?P<id>[^\s.]+)|Session (?P<id2>\S+) logged out)")


def parse(message: str) -> Fields | None:
    if m := _NEW.match(message):
        return build(
            category=["session"], type=["start"], action="logged-on", user={"name": m["user"]},
            extra={"system": {"auth": {"session_id": m["id"]}}},
        )  # fmt: skip
    if m := _END.match(message):
        return build(
            category=["session"], type=["end"], action="logged-off",
            extra={"system": {"auth": {"session_id": m["id"] or m["id2"]}}},
        )  # fmt: skip
    return None
