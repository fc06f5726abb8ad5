"""Logon outcomes from Windows Security events and ECS authentication events, for the logon heuristics.

Failures: 4625 (logon failed), 4771 (Kerberos pre-authentication failed), 4776 with a non-zero
Status (NTLM credential validation failed); ECS `event.category: authentication` with
`event.outcome: failure`. Successes: 4624, or ECS authentication with `event.outcome: success`.

Linux (ingest/parsers/linux): sshd's `Failed ...` / `Accepted ...` lines and PAM's authentication
failures are ECS authentication events and count like Windows logons. Two kinds are skipped so that
one attempt counts once: sshd's `Invalid user X from ...` (it announces the connection; each attempt
that follows logs its own `Failed ... for invalid user X`) and PAM lines of the sshd service (sshd
logs the same attempt itself, with the source port). rsyslog's `message repeated 5 times: [ Failed
password ...]` stands for five attempts (`Logon.count`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from detectors.heuristics import fields

FAILURE_IDS = frozenset({4625, 4771})
NTLM_VALIDATION = 4776
SUCCESS_IDS = frozenset({4624})
AUTH_IDS = FAILURE_IDS | SUCCESS_IDS | {NTLM_VALIDATION}

_COUNTED_BY_PROGRAM = frozenset({"sshd"})  # PAM services whose program logs each attempt itself

ACCOUNT = ("TargetUserName", "user.name", "TargetUser")
SOURCE = ("IpAddress", "source.ip", "SourceAddress", "SourceIp")
WORKSTATION = ("WorkstationName", "Workstation", "source.domain")


@dataclass(frozen=True, slots=True)
class Logon:
    failed: bool
    account: str | None  # lower-cased, without domain
    source: str | None  # an address, or `ws:<name>` when the event names a workstation only
    host: str | None
    source_ip: str | None
    count: int = 1  # attempts the event stands for (rsyslog's "message repeated N times")


def _account(event: Mapping[str, Any]) -> str | None:
    name = fields.text(event, ACCOUNT)
    if not name:
        return None
    return name.rsplit("\\", 1)[-1].split("@", 1)[0].strip().lower() or None


def logon(event: Mapping[str, Any]) -> Logon | None:
    """The logon outcome an event reports, or None when it reports none."""
    eid = fields.event_id(event)
    if eid in AUTH_IDS:
        if eid == NTLM_VALIDATION:
            status = str(event.get("Status") or "0x0").lower()
            if status in ("0x0", "0"):
                return None
            failed = True
        else:
            failed = eid in FAILURE_IDS
    elif fields.has(event, "event.category", "authentication"):
        if event.get("system.auth.ssh.event") == "Invalid" or event.get("pam_service") in _COUNTED_BY_PROGRAM:
            return None
        outcome = event.get("event.outcome")
        if outcome not in ("failure", "success"):
            return None
        failed = outcome == "failure"
    else:
        return None
    source_ip = fields.ip(fields.text(event, SOURCE))
    source = source_ip
    if source is None or source in fields.LOOPBACK:
        workstation = fields.text(event, WORKSTATION)
        source = f"ws:{workstation.lower()}" if workstation and source is None else None
    repeated = event.get("repeated")
    count = repeated if type(repeated) is int and repeated > 1 else 1
    return Logon(failed, _account(event), source, fields.host_name(event), source_ip, count)
