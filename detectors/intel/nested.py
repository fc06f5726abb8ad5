"""The flat view of an ECS event read straight from its JSON, for the retro-hunt's first pass.

`EcsEvent.flat()` validates and re-serialises the whole event (tens of microseconds); a hunt over a
million held events only needs to ask the few fields in detectors/intel/fields.py, so this answers
`get("source.ip")` from the parsed JSON, the source's own names (`original`) winning as in `flat()`.
An event that hits an indicator is then validated and flattened properly before a detection is made.
"""

from __future__ import annotations

from typing import Any


class NestedView:
    """`get(dotted_name)` over a parsed ECS event payload."""

    __slots__ = ("_original", "_payload")

    def __init__(self, payload: dict[str, Any]) -> None:
        self._payload = payload
        original = payload.get("original")
        self._original: dict[str, Any] = original if isinstance(original, dict) else {}

    def get(self, name: str, default: Any = None, /) -> Any:
        if name in self._original:
            return self._original[name]
        node: Any = self._payload
        for part in name.split("."):
            if not isinstance(node, dict):
                return default
            node = node.get(part)
            if node is None:
                return default
        return node
