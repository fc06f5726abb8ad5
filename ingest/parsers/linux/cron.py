"""cron and crontab: `(root) CMD (/usr/local/bin/backup)` (a job started), `(bob) REPLACE (bob)`
(a crontab replaced), `BEGIN EDIT`, `END EDIT`, `LIST`, `DELETE`."""

from __future__ import annotations

import re

from ingest.parsers.linux.ecs import Fields, build

_LINE = re.compile(
    r"\((?P<user>[^)]+)\) (?P<verb>CMD|REPLACE|BEGIN EDIT|END EDIT|LIST|DELETE|RELOAD) \((?P<arg>.*)\)$"
)
_CHANGES = {"REPLACE": "crontab-replaced", "DELETE": "crontab-deleted", "END EDIT": "crontab-edited"}


def parse(message: str) -> Fields | None:
    m = _LINE.match(message)
    if not m:
        return None
    verb, user = m["verb"], m["user"]
    if verb == "CMD":
        command = m["arg"]
        return build(
            category=["process"], type=["start"], action="cron-command",
            user={"name": user}, process={"command_line": command},
        )  # fmt: skip
    if verb in _CHANGES:
        return build(
            category=["configuration"], type=["change"], action=_CHANGES[verb],
            user={"name": user, "target": {"name": m["arg"]} if m["arg"] != user else None},
        )  # fmt: skip
    return build(
        category=["configuration"],
        type=["access"],
        action=f"crontab-{verb.lower().replace(' ', '-')}",
        user={"name": user},
    )
