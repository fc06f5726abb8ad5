"""The fields matching reads, taken straight from an event's JSON, for the retro-hunt.

`EcsEvent.flat()` validates the whole event and dumps it again (tens of microseconds); a hunt over a
million held events needs only the forty names of detectors/intel/fields.py. `EnvelopeLookup` decodes
an events.ecs message into just those: a msgspec struct type built from the TABLE's dotted paths, so
the decoder (C) skips every other part of the event without making Python objects of it, and only the
source's own `original` fields are kept as a dict (the source's names winning on a clash, as in
`flat()`). `flat_view` does the same from already parsed JSON. An event that hits an indicator is then
validated and flattened properly before a detection is made.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from detectors.intel.fields import TABLE

# top-level key -> (path below it, dotted name) of every ECS name in TABLE
_PATHS: dict[str, list[tuple[tuple[str, ...], str]]] = {}
for _name in TABLE:
    if "." in _name:
        _top, *_rest = _name.split(".")
        _PATHS.setdefault(_top, []).append((tuple(_rest), _name))
_ORIGINAL_NAMES = frozenset(TABLE)


def flat_view(payload: dict[str, Any]) -> dict[str, Any]:
    """{dotted or source name: value} of the TABLE fields the event carries."""
    out: dict[str, Any] = {}
    for top, paths in _PATHS.items():
        node = payload.get(top)
        if not isinstance(node, dict):
            continue
        for path, name in paths:
            value: Any = node
            for step in path:
                value = value.get(step) if isinstance(value, dict) else None
                if value is None:
                    break
            if value is not None and value != []:
                out[name] = value
    original = payload.get("original")
    if isinstance(original, dict):
        for name in _ORIGINAL_NAMES & original.keys():
            out[name] = original[name]
    return out


def _struct(name: str, tree: dict[str, Any], extra: tuple[Any, ...] = ()) -> type[msgspec.Struct]:
    """A struct of the tree's keys (attributes a0, a1, ... renamed to the JSON keys), leaves as Any."""
    fields: list[Any] = []
    for i, (key, below) in enumerate(tree.items()):
        kind: Any = Any if below is None else _struct(f"{name}_{key}", below) | None
        fields.append((f"a{i}", kind, None))
    rename = {f"a{i}": key for i, key in enumerate(tree)}
    return msgspec.defstruct(name, [*fields, *extra], rename=rename)


def _tree() -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for top, paths in _PATHS.items():
        node = tree.setdefault(top, {})
        for path, _ in paths:
            below = node
            for step in path[:-1]:
                below = below.setdefault(step, {})
            below[path[-1]] = None
    return tree


_TREE = _tree()
_Payload = _struct("Payload", _TREE, (("original", dict[str, Any] | None, None),))
# (attribute of the payload, [(attributes below it, dotted name)]), in TABLE's order of top-level keys
_READ: list[tuple[str, list[tuple[tuple[str, ...], str]]]] = []
for _i, (_top, _below) in enumerate(_TREE.items()):
    _attrs = {key: f"a{j}" for j, key in enumerate(_below)}
    _steps: list[tuple[tuple[str, ...], str]] = []
    for _path, _dotted in _PATHS[_top]:
        _node, _attr_path = _below, []
        for _step in _path:
            _names = list(_node)
            _attr_path.append(f"a{_names.index(_step)}")
            _node = _node[_step] or {}
        _steps.append((tuple(_attr_path), _dotted))
    _READ.append((f"a{_i}", _steps))


class _Envelope(msgspec.Struct):
    tenant: str
    id: Any = None
    payload: _Payload | None = None  # type: ignore[valid-type]


_DECODE = msgspec.json.Decoder(_Envelope).decode


@dataclass(frozen=True, slots=True)
class Lookup:
    """What the hunt needs of a message before it knows the event hits an indicator."""

    tenant: str
    event_id: Any
    fields: dict[str, Any]


def lookup_view(message: bytes) -> Lookup | None:
    """The tenant, the envelope's id and the TABLE fields of an events.ecs message; None when it is not
    an event envelope of that shape (the detector dead-letters those; the hunt passes them)."""
    try:
        envelope = _DECODE(message)
    except msgspec.DecodeError:
        return None
    out: dict[str, Any] = {}
    payload = envelope.payload
    if payload is not None:
        for top, steps in _READ:
            node = getattr(payload, top)
            if node is None:
                continue
            for attrs, name in steps:
                value = node
                for attr in attrs:
                    value = getattr(value, attr)
                    if value is None:
                        break
                if value is not None and value != []:
                    out[name] = value
        original = payload.original
        if original:  # the source's own names win, as in EcsEvent.flat()
            for name in _ORIGINAL_NAMES & original.keys():
                out[name] = original[name]
    return Lookup(envelope.tenant, envelope.id, out)
