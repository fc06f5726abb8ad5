"""Linux auditd records (`type=SYSCALL msg=audit(1700000000.123:42): key=value ...`), raw or enriched.

Field names stay auditd's own (`type`, `syscall`, `exe`, `a0` ...), so Sigma's auditd rules match.
String fields that auditd hex-encodes (EXECVE arguments, proctitle, exe, comm ...) are decoded. In the
enriched format (`log_format = ENRICHED`) the translated fields after the 0x1d separator are kept in
upper case (`SYSCALL=execve`, `AUID=root`); for the raw format the common x86-64 syscall numbers
are translated into `SYSCALL` too. ECS: `event.category`/`type` per record type as Filebeat's auditd
module sets them, `process.args` and the full `process.command_line` from EXECVE's arguments (the
executable too when the first argument is a path), `user.*` from uid/auid/euid and acct, and
`source.ip` from addr. `parse` reads one record as one event; the records of one kernel event (SYSCALL,
EXECVE, CWD, PATH, PROCTITLE ... of one serial) are joined into one event by `ingest.parsers.audit_join`,
which the normalise stage and the file reader (`socpipe parse`, `socpipe scan`) both use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ingest.parsers.base import ParseError, basename, compact, make_event, parse_time, to_int
from ingest.parsers.linux.ecs import source
from schemas.event import EcsEvent
from schemas.raw import RawRecord

_HEADER = re.compile(r"(?:node=(\S+) )?type=(\S+) msg=audit\((\d{1,12}(?:\.\d{1,9})?):(\d+)\):\s?")
_PAIR = re.compile(r"""([\w.-]+)=("[^"]*"|'[^']*'|\S*)""")
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")
# Fields that hold untrusted strings: auditd writes them quoted, or hex-encoded when they contain
# spaces, quotes or control characters.
_STRING_FIELDS = {"comm", "exe", "name", "cwd", "proctitle", "key", "cmd", "data", "path", "new", "old"}
_ARG = re.compile(r"a\d+(?:\[\d+\])?")
_OUTCOMES = {"yes": "success", "success": "success", "no": "failure", "failed": "failure"}
# x86-64 numbers of the syscalls that Sigma rules and common audit rule sets name.
_X86_64 = {
    0: "read", 1: "write", 2: "open", 41: "socket", 42: "connect", 43: "accept", 49: "bind", 50: "listen",
    56: "clone", 57: "fork", 58: "vfork", 59: "execve", 62: "kill", 82: "rename", 84: "rmdir", 87: "unlink",
    90: "chmod", 92: "chown", 99: "sysinfo", 101: "ptrace", 103: "syslog", 133: "mknod", 135: "personality",
    165: "mount", 175: "init_module", 257: "openat", 263: "unlinkat", 268: "fchmodat", 313: "finit_module",
    319: "memfd_create", 322: "execveat",
}  # fmt: skip


# ECS category and type per record type, as Filebeat's auditd module sets them.
_CATEGORIES: dict[str, tuple[list[str], list[str]]] = {
    "USER_AUTH": (["authentication"], ["info"]),
    "USER_LOGIN": (["authentication", "session"], ["start"]),
    "USER_LOGOUT": (["session"], ["end"]),
    "USER_START": (["session"], ["start"]),
    "USER_END": (["session"], ["end"]),
    "USER_ACCT": (["authentication"], ["info"]),
    "USER_ERR": (["authentication"], ["info"]),
    "CRED_ACQ": (["authentication"], ["info"]),
    "CRED_DISP": (["authentication"], ["info"]),
    "CRED_REFR": (["authentication"], ["info"]),
    "USER_CMD": (["process"], ["start"]),
    "EXECVE": (["process"], ["start"]),
    "SYSCALL": (["process"], ["info"]),
    "ADD_USER": (["iam"], ["user", "creation"]),
    "DEL_USER": (["iam"], ["user", "deletion"]),
    "ADD_GROUP": (["iam"], ["group", "creation"]),
    "DEL_GROUP": (["iam"], ["group", "deletion"]),
    "USER_MGMT": (["iam"], ["user", "change"]),
    "GRP_MGMT": (["iam"], ["group", "change"]),
    "USER_CHAUTHTOK": (["iam"], ["user", "change"]),
    "ACCT_LOCK": (["iam"], ["user", "change"]),
    "ACCT_UNLOCK": (["iam"], ["user", "change"]),
    "SERVICE_START": (["process"], ["start"]),
    "SERVICE_STOP": (["process"], ["end"]),
    "CONFIG_CHANGE": (["configuration"], ["change"]),
    "DAEMON_START": (["process"], ["start"]),
    "DAEMON_END": (["process"], ["end"]),
    "AVC": (["host"], ["info"]),
    "ANOM_ABEND": (["process"], ["end"]),
    "ANOM_PROMISCUOUS": (["network"], ["info"]),
}
# event.action per record type, in the words Filebeat's auditd module uses.
_ACTIONS = {
    "USER_AUTH": "authenticated", "USER_ACCT": "was-authorized", "USER_LOGIN": "logged-in",
    "USER_LOGOUT": "logged-out", "USER_START": "started-session", "USER_END": "ended-session",
    "USER_ERR": "error", "CRED_ACQ": "acquired-credentials", "CRED_DISP": "disposed-credentials",
    "CRED_REFR": "refreshed-credentials", "USER_CMD": "ran-command", "EXECVE": "executed",
    "ADD_USER": "added-user-account", "DEL_USER": "deleted-user-account",
    "ADD_GROUP": "added-group-account-to", "DEL_GROUP": "deleted-group-account-from",
    "USER_MGMT": "modified-user-account", "GRP_MGMT": "modified-group-account",
    "USER_CHAUTHTOK": "changed-password", "ACCT_LOCK": "locked-account", "ACCT_UNLOCK": "unlocked-account",
    "SERVICE_START": "started-service", "SERVICE_STOP": "stopped-service",
    "CONFIG_CHANGE": "changed-audit-configuration", "DAEMON_START": "started-audit",
    "DAEMON_END": "stopped-audit",
}  # fmt: skip
_AUTH_RECORDS = frozenset({"USER_AUTH", "USER_ACCT"})  # acct: the account authenticated as
_UNSET = "4294967295"  # auid of a process no login started (a daemon): no audit user
_ARGN = re.compile(r"a(\d+)$")


def _user(fields: dict[str, Any], name: str | None, record_type: str) -> dict[str, Any] | None:
    """ECS `user` as Filebeat's auditd module fills it: on records with an euid (SYSCALL) `user.id` is
    the uid and `user.effective.id` the euid; on user-space records (USER_*, ADD_USER ...) `user.id`
    is the login user (auid) and `user.effective.id` the uid the program ran as."""
    auid = fields.get("auid") if fields.get("auid") not in (None, _UNSET) else None
    if "euid" in fields:
        uid, effective = fields.get("uid"), fields.get("euid")
    else:
        uid, effective = auid or fields.get("uid"), fields.get("uid")
    acct = fields.get("acct")
    return compact(
        id=uid,
        name=name,
        audit=compact(id=auid, name=fields.get("AUID")),
        effective=compact(
            id=effective, name=fields.get("EUID") or (acct if record_type in _AUTH_RECORDS else None)
        ),
        target=compact(
            id=fields.get("id") if record_type in ("ADD_USER", "DEL_USER") else None,
            name=acct if record_type == "USER_CHAUTHTOK" else None,
        ),
    )


def _args(fields: dict[str, Any]) -> list[str]:
    """EXECVE's a0..aN in order (argc says how many), as the full command line's words."""
    count = to_int(fields.get("argc"))
    numbered = sorted(
        (int(m.group(1)), str(v)) for k, v in fields.items() if (m := _ARGN.match(k)) is not None
    )
    args = [v for _, v in numbered]
    return args[:count] if count is not None else args


def _decode(value: str, hex_encoded: bool) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    if hex_encoded and _HEX.fullmatch(value):
        try:
            return bytes.fromhex(value).decode("utf-8").replace("\x00", " ").strip()
        except UnicodeDecodeError:
            return value
    return value


def _pairs(text: str, fields: dict[str, Any], record_type: str) -> None:
    for key, value in _PAIR.findall(text):
        if key == "msg" and value.startswith("'") and value.endswith("'"):
            _pairs(value[1:-1], fields, record_type)  # USER_* records nest their own pairs in msg='...'
            continue
        # SYSCALL's a0..a3 are hex numbers; EXECVE's are the (possibly hex-encoded) arguments.
        hex_encoded = key in _STRING_FIELDS or (record_type == "EXECVE" and _ARG.fullmatch(key) is not None)
        fields.setdefault(key, _decode(value, hex_encoded))


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One auditd record, read: its header (type, time, serial, node) and its decoded fields."""

    raw: RawRecord
    type: str
    epoch: str
    serial: int
    node: str | None
    fields: dict[str, Any]


def read_record(raw: RawRecord) -> AuditRecord:
    """The record's header and fields, or a ParseError saying why it is not an auditd record."""
    line = raw.data.strip()
    header = _HEADER.match(line)
    if not header:
        raise ParseError("not an auditd record: expected 'type=... msg=audit(<epoch>:<serial>): ...'")
    node, record_type, epoch, serial = header.groups()
    body, _, enriched = line[header.end() :].partition("\x1d")
    fields: dict[str, Any] = {"type": record_type}
    if node:
        fields["node"] = node
    _pairs(body, fields, record_type)
    _pairs(enriched, fields, record_type)
    if "SYSCALL" not in fields and record_type == "SYSCALL" and fields.get("arch") == "c000003e":
        name = _X86_64.get(to_int(fields.get("syscall")) or -1)
        if name:
            fields["SYSCALL"] = name
    fields["audit_serial"] = int(serial)
    return AuditRecord(raw, record_type, epoch, int(serial), node, fields)


def parse(raw: RawRecord) -> EcsEvent:
    """One record as one event (a stream that cannot wait for the rest of its event: see join.py)."""
    return to_event([read_record(raw)])


def to_event(records: list[AuditRecord]) -> EcsEvent:
    """The event of one or more records of one serial (auditd.join groups them), at the first's position.

    One record: its own fields and ECS as before. Several (SYSCALL, EXECVE, CWD, PATH, PROCTITLE ...):
    `original` holds them merged (`merge`), and the ECS fields combine the SYSCALL's process and
    user with the EXECVE's full command line, as Auditbeat's joined events do: what Sigma's
    process_creation rules (`Image` with `CommandLine`) need on one event.
    """
    first = records[0]
    if len(records) == 1:
        fields, kind, user_type = first.fields, first.type, first.type
        view = fields
    else:
        fields = merge(records)
        # ECS reads one value per field: the first record's where several records had one
        view = {k: v[0] if isinstance(v, list) else v for k, v in fields.items()}
        types = {r.type for r in records}
        user_type = "SYSCALL" if "SYSCALL" in types else first.type
        kind = "EXECVE" if "EXECVE" in types else user_type
    return _event(records, fields, view, kind, user_type)


def _event(
    records: list[AuditRecord], original: dict[str, Any], fields: dict[str, Any], kind: str, user_type: str
) -> EcsEvent:
    first = records[0]
    exe = fields.get("exe")
    outcome = _OUTCOMES.get(fields.get("success") or fields.get("res") or "")
    category, kinds = _CATEGORIES.get(kind, ([], []))
    args = _args(fields) if kind == "EXECVE" else []
    command_line = " ".join(args) if args else fields.get("proctitle") or fields.get("cmd")
    if args and exe is None and args[0].startswith("/"):
        exe = args[0]
    addr = fields.get("addr") if fields.get("addr") not in (None, "?", "") else None
    src = source(addr) if addr else None
    name = fields.get("acct") if user_type != "SYSCALL" else fields.get("UID")
    user = _user(fields, name, user_type)
    related = compact(user=[name] if name else None, ip=[src["ip"]] if src and "ip" in src else None)
    cwd = fields.get("cwd") if len(records) > 1 else None
    return make_event(
        first.raw,
        timestamp=parse_time(first.epoch, field="msg=audit(...)"),
        original=original,
        event={
            "module": "auditd",
            "dataset": "auditd.log",
            "action": _ACTIONS.get(kind, kind.lower()),
            "outcome": outcome,
            "category": category,
            "type": kinds,
        },
        host={"name": first.node} if first.node else None,
        process=compact(
            pid=to_int(fields.get("pid")),
            executable=exe,
            name=fields.get("comm") or basename(exe),
            command_line=command_line,
            args=args or None,
            working_directory=cwd if isinstance(cwd, str) else None,
            parent=compact(pid=to_int(fields.get("ppid"))),
        ),
        user=user,
        group={"id": fields["id"]} if kind in ("ADD_GROUP", "DEL_GROUP") and fields.get("id") else None,
        source={k: v for k, v in src.items() if k != "address"} if src else None,
        related=related,
    )


_REGISTERS = ("a0", "a1", "a2", "a3")


def merge(records: list[AuditRecord]) -> dict[str, Any]:
    """The original fields of one event's records, in one dict that per-record Sigma rules still match.

    - `type` is the list of the record types, in order, once each: `type: EXECVE` and `type: SYSCALL`
      both match the joined event (a list matches when any element does).
    - An EXECVE's arguments are the event's `a0`, `a1` ... (what `type: EXECVE` rules read); the
      SYSCALL's own a0-a3 (register values, for an execve two pointers) move to `syscall_a0` ...
      Without an EXECVE the SYSCALL keeps them (`SYSCALL: socket` rules read `a0`).
    - Any other field found in several records with different values (PATH's `name`, `inode`,
      `nametype` of each item) is the list of its values, in record order, once each.
    """
    has_execve = any(r.type == "EXECVE" for r in records)
    merged: dict[str, Any] = {}
    types: list[str] = []
    for record in records:
        if record.type not in types:
            types.append(record.type)
        for key, value in record.fields.items():
            if key == "type":
                continue
            if has_execve and record.type == "SYSCALL" and key in _REGISTERS:
                key = f"syscall_{key}"  # noqa: PLW2901 - the SYSCALL's registers, renamed
            if key not in merged:
                merged[key] = value
                continue
            current = merged[key]
            if isinstance(current, list):
                if value not in current:
                    current.append(value)
            elif current != value:
                merged[key] = [current, value]
    merged["type"] = types
    return merged
