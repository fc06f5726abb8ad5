"""Linux auditd records (`type=SYSCALL msg=audit(1700000000.123:42): key=value ...`), raw or enriched.

Field names stay auditd's own (`type`, `syscall`, `exe`, `a0` ...), so Sigma's auditd rules match.
String fields that auditd hex-encodes (EXECVE arguments, proctitle, exe, comm ...) are decoded. In the
enriched format (`log_format = ENRICHED`) the translated fields after the 0x1d separator are kept in
upper case (`SYSCALL=execve`, `AUID=root`); for the raw format the common x86-64 syscall numbers
are translated into `SYSCALL` too.
"""

from __future__ import annotations

import re
from typing import Any

from ingest.parsers.base import ParseError, Parser, basename, compact, make_event, parse_time, to_int
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


def parse(raw: RawRecord) -> EcsEvent:
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
    exe = fields.get("exe")
    outcome = _OUTCOMES.get(fields.get("success") or fields.get("res") or "")
    return make_event(
        raw,
        timestamp=parse_time(epoch, field="msg=audit(...)"),
        original=fields,
        event={
            "module": "auditd",
            "dataset": "auditd.log",
            "action": record_type.lower(),
            "outcome": outcome,
        },
        host={"name": node} if node else None,
        process=compact(
            pid=to_int(fields.get("pid")),
            executable=exe,
            name=fields.get("comm") or basename(exe),
            command_line=fields.get("proctitle"),
            parent=compact(pid=to_int(fields.get("ppid"))),
        ),
        user=compact(id=fields.get("uid"), name=fields.get("UID") or fields.get("acct")),
    )


PARSER = Parser(name="auditd", parse=parse, description="Linux auditd records, raw or enriched")
