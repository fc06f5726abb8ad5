"""Windows event JSON (EVTX-to-JSON layout) to a flat event whose keys are the Windows names.

`{"Event": {"System": ..., "EventData": ..., "UserData": ...}}`, as evtx_dump and python-evtx
write it, becomes one flat dict, the shape Sigma rules for Windows are written against
(see ../shared/corpus/README.md):

- System fields keep their names; XML attributes become `Provider_Name`, `Provider_Guid`,
  `ExecutionProcessID`, `ExecutionThreadID`, `SystemTime`, `UserID`, `ActivityID`, ...;
- `EventData.<Name>` becomes `<Name>`; unnamed `<Data>` elements become `Data` (string or list);
- leaves of `UserData` become `<Leaf>`;
- a key that clashes with a System field is renamed `EventData_<key>` / `UserData_<key>`.

A record that is already flat (no `Event` / `System`) is returned unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
            attrs = value.get(ATTRS) or {}
            prefix = _PREFIXED.get(key, "")
            for name, attr in attrs.items():
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
    """Flatten one nested Windows event record (see module docstring); flat input passes through."""
    event = record.get("Event", record)
    if not isinstance(event, Mapping) or "System" not in event:
        return dict(record)
    flat = _system(event.get("System") or {})
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
