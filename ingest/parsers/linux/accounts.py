"""Account and group management (shadow-utils): useradd, userdel, usermod, groupadd, groupdel,
groupmod, gpasswd, passwd, chpasswd. As Elastic's system integration: category iam, type
user/group plus creation/deletion/change, outcome success unless the message says it failed."""

from __future__ import annotations

import re

from ingest.parsers.linux.ecs import Fields, build

_KV = re.compile(r"(\w+)=([^,]*)")
_NEW_USER = re.compile(r"new user: (.*)$")
_NEW_GROUP = re.compile(r"new group: (.*)$")
_DELETE_USER = re.compile(r"delete user '(?P<user>[^']+)'")
_DELETE_GROUP = re.compile(r"(?:group '(?P<group>[^']+)' removed|removed group '(?P<group2>[^']+)')")
_ADD_TO_GROUP = re.compile(r"add '(?P<user>[^']+)' to (?:shadow )?group '(?P<group>[^']+)'")
_CHANGE_USER = re.compile(r"change user '(?P<user>[^']+)' (?P<what>.+)$")
_GPASSWD = re.compile(
    r"user (?P<target>\S+) (?P<action>added|removed) by (?P<user>\S+) (?:to|from) group (?P<group>.+)$"
)
_PASSWORD = re.compile(r"password for '(?P<user>[^']+)' changed(?: by '(?P<by>[^']+)')?")
_USER_PROGRAMS = frozenset({"useradd", "userdel", "usermod", "adduser", "deluser"})
_GROUP_PROGRAMS = frozenset({"groupadd", "groupdel", "groupmod", "addgroup", "delgroup", "gpasswd"})
PROGRAMS = _USER_PROGRAMS | _GROUP_PROGRAMS | {"passwd", "chpasswd", "chage"}


def parse(program: str, message: str) -> Fields | None:  # noqa: PLR0911 - one return per message shape
    outcome = "failure" if "fail" in message else "success"
    kind = "group" if program in _GROUP_PROGRAMS else "user"
    if m := _NEW_USER.match(message):
        kv = dict(_KV.findall(m[1]))
        return build(
            category=["iam"], type=["user", "creation"], action="user-created", outcome=outcome,
            user={"name": kv.get("name"), "id": kv.get("UID")},
            group={"id": kv.get("GID")},
            extra={"system": {"auth": {"useradd": {"home": kv.get("home"), "shell": kv.get("shell")}}}},
        )  # fmt: skip
    if m := _NEW_GROUP.match(message):
        kv = dict(_KV.findall(m[1]))
        return build(
            category=["iam"], type=["group", "creation"], action="group-created", outcome=outcome,
            group={"name": kv.get("name"), "id": kv.get("GID")},
        )  # fmt: skip
    if m := _DELETE_USER.match(message):
        return build(
            category=["iam"], type=["user", "deletion"], action="user-deleted", outcome=outcome,
            user={"name": m["user"]},
        )  # fmt: skip
    if m := _DELETE_GROUP.search(message):
        return build(
            category=["iam"], type=["group", "deletion"], action="group-deleted", outcome=outcome,
            group={"name": m["group"] or m["group2"]},
        )  # fmt: skip
    if m := _ADD_TO_GROUP.match(message):
        return build(
            category=["iam"], type=["user", "change"], action="group-member-added", outcome=outcome,
            user={"name": m["user"]}, group={"name": m["group"]},
        )  # fmt: skip
    if m := _GPASSWD.match(message):
        return build(
            category=["iam"], type=["group", "change"], action=f"group-user-{m['action']}", outcome=outcome,
            user={"name": m["user"], "target": {"name": m["target"]}}, group={"name": m["group"]},
        )  # fmt: skip
    if m := _PASSWORD.search(message):
        return build(
            category=["iam"], type=["user", "change"], action="password-changed", outcome=outcome,
            user={"name": m["by"] or m["user"], "target": {"name": m["user"]}},
        )  # fmt: skip
    if m := _CHANGE_USER.match(message):
        return build(
            category=["iam"], type=["user", "change"], action="user-changed", outcome=outcome,
            reason=m["what"], user={"name": m["user"]},
        )  # fmt: skip
    if program in _USER_PROGRAMS or program in _GROUP_PROGRAMS:
        return build(category=["iam"], type=[kind], outcome=outcome)
    return None
