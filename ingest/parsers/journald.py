"""systemd journal entries as `journalctl -o json` writes them, one JSON object per line.

Fields as Filebeat's journald input maps them: `MESSAGE` -> `message`, `_HOSTNAME` -> `host.hostname`,
`_PID` / `_COMM` / `_EXE` / `_CMDLINE` -> `process.*`, `_UID` -> `user.id`, `_SYSTEMD_UNIT` ->
`systemd.unit`, `PRIORITY` / `SYSLOG_FACILITY` -> `log.syslog.*`; the time is
`__REALTIME_TIMESTAMP` (microseconds since the epoch). The message then goes through the same
program parsers as a syslog line (sshd, sudo, PAM ... by `SYSLOG_IDENTIFIER`), so rules and
heuristics see one shape whichever way a host ships its logs. A `MESSAGE` the journal stored as a
byte array (not UTF-8) is decoded with replacement characters. Every journal field stays in `original`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ingest.parsers import linux
from ingest.parsers.base import ParseError, Parser, compact, load_object, make_event, to_int
from ingest.parsers.syslog import FACILITIES, SEVERITIES
from schemas.event import EcsEvent
from schemas.raw import RawRecord


def _text(value: Any) -> str | None:
    if isinstance(value, list) and all(isinstance(b, int) for b in value):
        return bytes(b & 0xFF for b in value).decode("utf-8", errors="replace")
    if isinstance(value, list):  # a field given several times: the journal keeps each value
        return _text(value[0]) if value else None
    return None if value is None else str(value)


def _time(doc: dict[str, Any], raw: RawRecord) -> datetime:
    micros = to_int(doc.get("__REALTIME_TIMESTAMP")) or to_int(doc.get("_SOURCE_REALTIME_TIMESTAMP"))
    if micros is None:
        return raw.received_at
    try:
        return datetime.fromtimestamp(micros / 1_000_000, UTC)
    except (OverflowError, OSError, ValueError):
        raise ParseError(f"__REALTIME_TIMESTAMP out of range: {micros}") from None


def parse(raw: RawRecord) -> EcsEvent:
    doc = load_object(raw)
    if "MESSAGE" not in doc and "__REALTIME_TIMESTAMP" not in doc:
        raise ParseError(
            "not a journal entry: expected MESSAGE and __REALTIME_TIMESTAMP (journalctl -o json)"
        )
    message = _text(doc.get("MESSAGE")) or ""
    original = {k: _text(v) if isinstance(v, list) else v for k, v in doc.items()}
    identifier = _text(doc.get("SYSLOG_IDENTIFIER")) or _text(doc.get("_COMM"))
    hostname = _text(doc.get("_HOSTNAME"))
    priority, facility = to_int(doc.get("PRIORITY")), to_int(doc.get("SYSLOG_FACILITY"))
    syslog = compact(
        priority=priority,
        appname=identifier,
        severity=compact(code=priority, name=SEVERITIES[priority])
        if priority is not None and 0 <= priority < 8
        else None,
        facility=compact(code=facility, name=FACILITIES[facility])
        if facility is not None and 0 <= facility < len(FACILITIES)
        else None,
    )
    process = compact(
        pid=to_int(doc.get("_PID")) or to_int(doc.get("SYSLOG_PID")),
        name=identifier,
        executable=_text(doc.get("_EXE")),
        command_line=_text(doc.get("_CMDLINE")),
    )
    ecs = linux.enrich(identifier, message) or {}
    event = {"module": "journald", "dataset": "journald", **ecs.pop("event", {})}
    if "process" in ecs:
        process = {**(process or {}), **ecs.pop("process")}
    original.update(ecs.pop("original", {}))
    if hostname and ecs:
        ecs.setdefault("related", {})["hosts"] = [hostname]
    uid = _text(doc.get("_UID"))
    if uid is not None and "user" not in ecs:
        ecs["user"] = {"id": uid}
    return make_event(
        raw,
        timestamp=_time(doc, raw),
        original=original,
        log_extra={"syslog": syslog} if syslog else None,
        message=message,
        host={"name": hostname, "hostname": hostname} if hostname else None,
        process=process,
        event=event,
        systemd=compact(unit=_text(doc.get("_SYSTEMD_UNIT")), transport=_text(doc.get("_TRANSPORT"))),
        **ecs,
    )


PARSER = Parser(name="journald", parse=parse, description="systemd journal entries (journalctl -o json)")
