"""The flat view of an ECS event made straight from its JSON, for the retro-hunt's first pass.

`EcsEvent.flat()` validates the whole event and dumps it again (tens of microseconds); a hunt over a
million held events flattens the parsed JSON the same way (dotted names, `original` and `ingest` left
out of the walk, the source's own names winning on a clash), a few microseconds. An event that hits an
indicator is then validated and flattened properly before a detection is made of it.
"""

from __future__ import annotations

from typing import Any

_SKIP = ("original", "ingest")


def flat_view(payload: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in payload.items():
        if key not in _SKIP:
            _walk(value, key, out)
    original = payload.get("original")
    if isinstance(original, dict):
        out.update(original)
    return out


def _walk(value: Any, path: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _walk(inner, f"{path}.{key}", out)
    elif value is not None and value != []:
        out[path] = value
