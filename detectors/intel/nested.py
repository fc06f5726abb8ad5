"""The fields matching reads, taken straight from an ECS event's parsed JSON, for the retro-hunt.

`EcsEvent.flat()` validates the whole event and dumps it again (tens of microseconds); a hunt over a
million held events needs only the forty names of detectors/intel/fields.py, so it follows just their
paths in the nested JSON (the source's own names in `original` winning on a clash, as in `flat()`).
An event that hits an indicator is then validated and flattened properly before a detection is made.
"""

from __future__ import annotations

from typing import Any

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
