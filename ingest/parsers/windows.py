"""Windows event JSON (EVTX-to-JSON layout) to a flat event whose keys are the Windows names.

`{"Event": {"System": ..., "EventData": ..., "UserData": ...}}`, as evtx_dump and python-evtx
write it, becomes one flat dict, the shape Sigma rules for Windows are written against
(see ../shared/corpus/README.md):

- System fields keep their names; XML attributes become `Provider_Name`, `Provider_Guid`,
  `ExecutionProcessID`, `ExecutionThreadID`, `SystemTime`, `UserID`, `ActivityID`, ...;
- `EventData.<Name>` becomes `<Name>`; unnamed `<Data>` elements become `Data` (string or list);
- leaves of `UserData` become `<Leaf>`;
- a key that clashes with a System field is renamed `EventData_<key>` / `UserData_<key>`.

A Winlogbeat / Elastic Agent event (`{"winlog": {...}, ...}`) is recognised by its `winlog` object and
flattened to the same names by `ingest.parsers.winlogbeat`. A record that is already flat (no `Event` /
`System` / `winlog`) is returned unchanged.

`parse` (the `windows` ingest parser) maps the flat event to ECS (event.code, host.name, process.*,
user.*, source.*, destination.* ...) and keeps the flat record whole as `original`, so Sigma rules
written for Windows field names match after normalisation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ingest.parsers.base import (
    ParseError,
    Parser,
    basename,
    compact,
    load_object,
    make_event,
    parse_time,
    text,
    to_int,
)
from ingest.parsers.winlogbeat import flatten_winlogbeat, is_winlogbeat
from schemas.event import EcsEvent
from schemas.raw import RawRecord

ATTRS = "#attributes"
TEXT = "#text"
# System elements whose attributes are prefixed with the element name.
_PREFIXED = {"Provider": "Provider_", "Execution": "Execution"}


def _text(v: Any) -> Any:
    if isinstance(v, Mapping):
        if TEXT in v:
            return v[TEXT]
        return None if set(v) <= {ATTRS} else v
    return v


def _system(system: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in system.items():
        if isinstance(value, Mapping):
            attrs = value.get(ATTRS)
            prefix = _PREFIXED.get(key, "")
            # Attributes are a mapping; anything else there is hostile or broken input, not attributes.
            for name, attr in attrs.items() if isinstance(attrs, Mapping) else ():
                out[prefix + name] = attr
            if TEXT in value:
                out[key] = value[TEXT]
        elif value is not None:
            out[key] = value
    return out


def _leaves(node: Any, out: dict[str, Any]) -> None:
    if not isinstance(node, Mapping):
        return
    for key, value in node.items():
        if key == ATTRS:
            continue
        if isinstance(value, Mapping) and TEXT not in value:
            _leaves(value, out)
        else:
            out[key] = _text(value)


def _event_data(data: Any) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        return {} if data is None else {"Data": data}
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key == ATTRS:
            continue
        if key == "Data" and isinstance(value, list):
            out["Data"] = [_text(v) for v in value]
        else:
            out[key] = _text(value)
    return out


def flatten_windows_event(record: Mapping[str, Any]) -> dict[str, Any]:
    """Flatten one nested or Winlogbeat Windows event (see module docstring); flat input passes through.

    Raises ParseError for a Winlogbeat event whose `winlog` parts have the wrong types.
    """
    if is_winlogbeat(record):
        return flatten_winlogbeat(record)
    event = record.get("Event", record)
    if not isinstance(event, Mapping) or not isinstance(event.get("System"), Mapping):
        return dict(record)  # flat already (or not a Windows event: the parser refuses it)
    flat = _system(event["System"])
    system_keys = set(flat)
    for section, extract in (("EventData", _event_data), ("UserData", None)):
        if section not in event:
            continue
        part: dict[str, Any] = {}
        if extract is None:
            _leaves(event[section], part)
        else:
            part = extract(event[section])
        for key, value in part.items():
            flat[f"{section}_{key}" if key in system_keys else key] = value
    return flat


# --- ECS mapping -----------------------------------------------------------------------------------

_SYSMON = "Microsoft-Windows-Sysmon/Operational"
_DATASETS = {
    _SYSMON: "windows.sysmon_operational",
    "security": "system.security",
    "microsoft-windows-powershell/operational": "windows.powershell_operational",
    "windows powershell": "windows.powershell",
}
# Sysmon event ids: (action, categories, types)
_SYSMON_KINDS: dict[int, tuple[str, list[str], list[str]]] = {
    1: ("process-created", ["process"], ["start"]),
    3: ("network-connection-detected", ["network"], ["connection"]),
    5: ("process-terminated", ["process"], ["end"]),
    7: ("image-loaded", ["process"], ["change"]),
    8: ("create-remote-thread", ["process"], ["change"]),
    10: ("process-accessed", ["process"], ["access"]),
    11: ("file-created", ["file"], ["creation"]),
    12: ("registry-object-added-or-deleted", ["registry"], ["change"]),
    13: ("registry-value-set", ["registry"], ["change"]),
    14: ("registry-object-renamed", ["registry"], ["change"]),
    15: ("file-stream-created", ["file"], ["creation"]),
    17: ("pipe-created", ["file"], ["creation"]),
    18: ("pipe-connected", ["file"], ["access"]),
    22: ("dns-query", ["network"], ["protocol"]),
    23: ("file-deleted", ["file"], ["deletion"]),
    25: ("process-tampering", ["process"], ["change"]),
    26: ("file-deleted-detected", ["file"], ["deletion"]),
}
_SECURITY_KINDS: dict[int, tuple[str, list[str], list[str], str | None]] = {
    4624: ("logged-in", ["authentication"], ["start"], "success"),
    4625: ("logon-failed", ["authentication"], ["start"], "failure"),
    4634: ("logged-out", ["authentication"], ["end"], "success"),
    4648: ("logged-in-explicit", ["authentication"], ["start"], "success"),
    4672: ("logged-in-special", ["iam"], ["admin"], "success"),
    4688: ("created-process", ["process"], ["start"], "success"),
    4689: ("exited-process", ["process"], ["end"], "success"),
    4720: ("added-user-account", ["iam"], ["user", "creation"], "success"),
    4732: ("added-member-to-group", ["iam"], ["group", "change"], "success"),
    4768: ("kerberos-authentication-ticket-requested", ["authentication"], ["start"], None),
    4769: ("kerberos-service-ticket-requested", ["authentication"], ["start"], None),
    4776: ("credential-validated", ["authentication"], ["start"], None),
    1102: ("audit-log-cleared", ["iam"], ["admin"], "success"),
}


def _timestamp(flat: dict[str, Any], raw: RawRecord) -> Any:
    for name in ("SystemTime", "UtcTime", "TimeCreated", "@timestamp"):
        value = flat.get(name)
        if isinstance(value, str | int | float) and value != "":
            return parse_time(value, field=name)
    return raw.received_at


def _event_fields(flat: dict[str, Any], event_id: int | None, channel: str | None) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "code": str(event_id) if event_id is not None else text(flat.get("EventID")),
        "provider": text(flat.get("Provider_Name")),
        "module": "sysmon" if channel == _SYSMON else "windows",
        "dataset": _DATASETS.get(channel or "", _DATASETS.get((channel or "").lower()))
        or ("windows." + (channel or "unknown").lower().replace("/", "_").replace(" ", "_")),
    }
    if event_id is not None and channel == _SYSMON and event_id in _SYSMON_KINDS:
        fields["action"], fields["category"], fields["type"] = _SYSMON_KINDS[event_id]
    elif event_id is not None and (channel or "").lower() == "security" and event_id in _SECURITY_KINDS:
        fields["action"], fields["category"], fields["type"], fields["outcome"] = _SECURITY_KINDS[event_id]
    return {k: v for k, v in fields.items() if v is not None}


def _process(flat: dict[str, Any], sysmon: bool) -> dict[str, Any] | None:
    if sysmon:
        exe, pid = text(flat.get("Image")), to_int(flat.get("ProcessId"))
        parent_exe, parent_pid = text(flat.get("ParentImage")), to_int(flat.get("ParentProcessId"))
        parent_cmd = text(flat.get("ParentCommandLine"))
    else:  # Security 4688 and friends
        exe = text(flat.get("NewProcessName")) or text(flat.get("ProcessName"))
        pid = to_int(flat.get("NewProcessId")) if "NewProcessName" in flat else to_int(flat.get("ProcessId"))
        parent_exe = text(flat.get("ParentProcessName"))
        parent_pid = to_int(flat.get("ProcessId")) if "NewProcessName" in flat else None
        parent_cmd = None
    parent = compact(
        executable=parent_exe, name=basename(parent_exe), pid=parent_pid, command_line=parent_cmd
    )
    return compact(
        executable=exe, name=basename(exe), pid=pid, command_line=text(flat.get("CommandLine")), parent=parent
    )


def _user(flat: dict[str, Any]) -> dict[str, Any] | None:
    for name_key, domain_key, sid_key in (
        ("TargetUserName", "TargetDomainName", "TargetUserSid"),
        ("SubjectUserName", "SubjectDomainName", "SubjectUserSid"),
    ):
        name = text(flat.get(name_key))
        if name and name != "-":
            return compact(name=name, domain=text(flat.get(domain_key)), id=text(flat.get(sid_key)))
    account = text(flat.get("User"))
    if account:
        domain, _, name = account.rpartition("\\")
        return compact(name=name, domain=domain or None, id=text(flat.get("UserID")))
    return compact(id=text(flat.get("UserID")))


def _endpoints(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    source = compact(
        ip=text(flat.get("SourceIp")) or _ip(flat.get("IpAddress")),
        port=to_int(flat.get("SourcePort")) or to_int(flat.get("IpPort")) or None,
        domain=text(flat.get("SourceHostname")) or text(flat.get("WorkstationName")),
    )
    destination = compact(
        ip=text(flat.get("DestinationIp")),
        port=to_int(flat.get("DestinationPort")),
        domain=text(flat.get("DestinationHostname")),
    )
    if source:
        out["source"] = source
    if destination:
        out["destination"] = destination
    if text(flat.get("QueryName")):
        out["dns"] = {"question": {"name": text(flat.get("QueryName"))}}
    if text(flat.get("TargetFilename")):
        path = text(flat.get("TargetFilename"))
        out["file"] = {"path": path, "name": basename(path)}
    return out


def _ip(value: Any) -> str | None:
    candidate = text(value)
    return candidate if candidate and candidate != "-" else None


def parse(raw: RawRecord) -> EcsEvent:
    flat = flatten_windows_event(load_object(raw))
    if "EventID" not in flat:
        raise ParseError("not a Windows event: no Event.System.EventID, no flat EventID and no winlog object")
    event_id = to_int(flat.get("EventID"))
    if event_id is None:
        raise ParseError(f"EventID is not a number: {str(flat.get('EventID'))[:40]!r}")
    channel = text(flat.get("Channel"))
    computer = text(flat.get("Computer"))
    return make_event(
        raw,
        timestamp=_timestamp(flat, raw),
        original=flat,
        event=_event_fields(flat, event_id, channel),
        host={"name": computer, "hostname": computer} if computer else None,
        process=_process(flat, channel == _SYSMON),
        user=_user(flat),
        **_endpoints(flat),
    )


PARSER = Parser(
    name="windows",
    parse=parse,
    description="Windows event JSON (Security, Sysmon, ...): nested EVTX, flat, or Winlogbeat/Elastic Agent",
)
