"""PAM module messages, whatever program logs them: `pam_unix(sshd:auth): authentication failure; ...`,
`pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1000)`, `pam_faillock`,
password changes (`chauthtok`).

As Elastic's system integration: failures are category authentication, action
`authentication_failure`, `user.name` the account (`user=`), `source` the remote host (`rhost=`);
sessions are category session, action `logged-on` / `logged-off`, `user.name` the user who opened
it (`by`) and `user.effective.name` the one it is for. The PAM service (`sshd`, `su`, `sudo` ...)
is kept in `original.pam_service`: sshd logs each attempt itself, so the logon heuristics skip
sshd's PAM lines rather than count an attempt twice.
"""

from __future__ import annotations

import re

from ingest.parsers.linux.ecs import Fields, build, source

_HEAD = re.compile(r"(?P<module>pam_\w+)\((?P<service>[^:)]+):(?P<kind>\w+)\): (?P<rest>.*)$")
_MORE = re.compile(r"PAM (?P<count>\d+) more authentication failures?; (?P<rest>.*)$")
_KV = re.compile(r"(\w+)=(\S*)")
_SESSION = re.compile(
    r"session (?P<state>opened|closed) for user (?P<for>[^\s(]+)(?:\(uid=\d+\))?"
    r"(?: by (?P<by>[^\s(]*)(?:\(uid=(?P<uid>\d+)\))?)?"
)
_FOR_USER = re.compile(r"for user \(?'?(?P<user>[^\s')]+)")


def service(message: str) -> str | None:
    """The PAM service of a PAM message (`sshd` in `pam_unix(sshd:auth): ...`)."""
    m = _HEAD.match(message)
    return m["service"] if m else None


def _failure(rest: str, module: str, svc: str | None, action: str = "authentication_failure") -> Fields:
    kv = dict(_KV.findall(rest))
    user = kv.get("user") or (m["user"] if (m := _FOR_USER.search(rest)) else None)
    return build(
        category=["authentication"],
        type=["info"],
        action=action,
        outcome="failure",
        user={"name": user},
        src=source(kv.get("rhost") or None),
        extra={"original": {"pam_module": module, "pam_service": svc}},
    )


def parse(message: str) -> Fields | None:  # noqa: PLR0911 - one return per message shape
    if m := _MORE.match(message):
        return None  # a summary of failures already logged one by one
    m = _HEAD.match(message)
    if not m:
        return None
    module, svc, kind, rest = m["module"], m["service"], m["kind"], m["rest"]
    tags = {"original": {"pam_module": module, "pam_service": svc}}
    if "authentication failure" in rest or "password check failed" in rest:
        return _failure(rest, module, svc)
    if module == "pam_faillock" or "account temporarily locked" in rest:
        return _failure(rest, module, svc, "account-locked")
    if s := _SESSION.search(rest):
        opened = s["state"] == "opened"
        by = s["by"] or None
        return build(
            category=["session"],
            type=["start"] if opened else ["end"],
            action="logged-on" if opened else "logged-off",
            user={
                "name": by or s["for"],
                "id": s["uid"] if by else None,
                "effective": {"name": s["for"]} if by else None,
            },
            extra=tags,
        )
    if kind == "chauthtok":
        changed = "password changed" in rest
        user = rest.rsplit(" ", 1)[-1] if changed else None
        return build(
            category=["iam"],
            type=["user", "change"],
            action="password-changed",
            outcome="success" if changed else "failure",
            user={"name": user, "target": {"name": user}},
            extra=tags,
        )
    if kind == "auth" and "user unknown" in rest:
        return build(category=["authentication"], type=["info"], action="user-unknown", extra=tags)
    return None
