"""The event a detection carries (`Detection.event`): the normalised ECS event, size-bounded.

Analysts triage from the detection document, so it holds the whole event behind it (parent process,
full command line, logon type), not only the fields that made the rule fire. A record can be large (a
script block, a long URL, a raw line of kilobytes), and every detection travels through Kafka and is
stored once per detection, so the event is bounded at MAX_EVENT_BYTES serialised:

1. an event that fits is kept whole;
2. otherwise only the fields that matter for triage are kept (KEPT: host, user, process with its parent
   and command line, source and destination, event.* without the raw line, winlog.event_id, the source's
   EventID, the time and the tenant), and the event is marked `truncated: true`;
3. if that is still too large, the longest strings are shortened until it fits.

The bounding happens once, in the detector (or the correlate stage for heuristics), so Kafka messages
and stored detections are bounded alike. Redaction for the client is the responder's (it knows the
tenant's policy: responders/redaction.py).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import orjson

from schemas.contribution import ComponentKind, Contribution
from schemas.detection import Detection
from schemas.event import EcsEvent

MAX_EVENT_BYTES = 16 * 1024
TRUNCATED = "truncated"  # the marker key of a bounded event
_CUT = "...[truncated]"

# What a too-large event keeps: dotted paths into the nested ECS event.
KEPT: tuple[str, ...] = (
    "@timestamp",
    "tenant",
    "host",
    "user",
    "process",
    "source",
    "destination",
    "event",
    "winlog.event_id",
    "original.EventID",
    "ingest",
)
_DROPPED_WHEN_CUT = ("event.original",)  # the raw line: the fields above are parsed from it
_TOP_LEVEL = frozenset(
    alias for name, f in EcsEvent.model_fields.items() for alias in (name, f.alias) if alias is not None
) - {"original"}


def ecs_event(event: EcsEvent) -> dict[str, Any]:
    """The event as it travels on events.ecs (nested ECS, by alias), without empty fields."""
    compact = _compact(event.model_dump(mode="json", by_alias=True, exclude_none=True))
    return compact if isinstance(compact, dict) else {}


def _compact(value: Any) -> Any:
    """Without empty lists and objects (`host.ip: []`): they say nothing and cost bytes per detection."""
    if isinstance(value, dict):
        kept = {k: _compact(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in ([], {})}
    if isinstance(value, list):
        return [_compact(v) for v in value]
    return value


def attach_event(event: EcsEvent, detections: list[Detection], contributions: list[Contribution]) -> None:
    """The bounded event onto its detections and correlation contributions (computed once, and only
    when something needs it: most events match nothing)."""
    wanting = [c for c in contributions if c.component is ComponentKind.correlation]
    if not detections and not wanting:
        return
    context = bounded(ecs_event(event))
    for detection in detections:
        detection.event = context
    for contribution in wanting:
        contribution.context = context


def bounded(event: Mapping[str, Any], limit: int = MAX_EVENT_BYTES) -> dict[str, Any]:
    """The event itself when its JSON fits in `limit` bytes, else its triage fields, marked truncated."""
    size = len(orjson.dumps(event, default=str))
    if size <= limit:
        return dict(event)
    kept: dict[str, Any] = {}
    for path in KEPT:
        value = _get(event, path)
        if value is not None:
            _put(kept, path, copy.deepcopy(value))  # cut below: the caller's event stays whole
    for path in _DROPPED_WHEN_CUT:
        _pop(kept, path)
    kept[TRUNCATED] = True
    _shorten(kept, limit)
    return kept


def from_flat(flat: Mapping[str, Any]) -> dict[str, Any]:
    """A nested event from a flat one (`EcsEvent.flat()`, as heuristic contributions carry it): ECS
    dotted names nest again, and the source's own field names go back under `original`."""
    nested: dict[str, Any] = {}
    original: dict[str, Any] = {}
    for key, value in flat.items():
        if key.split(".", 1)[0] in _TOP_LEVEL:
            if not _put(nested, key, value, overwrite=False):
                original[key] = value  # a source field whose name clashes with an ECS object
        else:
            original[key] = value
    if original:
        nested["original"] = original
    return nested


def _get(doc: Mapping[str, Any], path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _put(doc: dict[str, Any], path: str, value: Any, *, overwrite: bool = True) -> bool:
    """Set `path` in `doc`; False (nothing set) where a leaf already sits on the way."""
    *parents, leaf = path.split(".")
    here = doc
    for part in parents:
        inner = here.setdefault(part, {})
        if not isinstance(inner, dict):
            return False
        here = inner
    if not overwrite and leaf in here:
        return False
    here[leaf] = value
    return True


def _pop(doc: dict[str, Any], path: str) -> None:
    *parents, leaf = path.split(".")
    here: Any = doc
    for part in parents:
        here = here.get(part) if isinstance(here, dict) else None
    if isinstance(here, dict):
        here.pop(leaf, None)


def _shorten(doc: dict[str, Any], limit: int) -> None:
    """Halve the longest strings until the JSON fits (a kept field can be a 100 KiB command line)."""
    while len(orjson.dumps(doc, default=str)) > limit:
        strings = sorted(_strings(doc), key=lambda s: len(s[0][s[1]]), reverse=True)
        if not strings or len(strings[0][0][strings[0][1]]) <= 64:
            return  # many short fields: nothing long left to cut (the limit is far above that)
        holder, key = strings[0]
        text = holder[key]
        holder[key] = text[: len(text) // 2] + _CUT


def _strings(value: Any) -> list[tuple[Any, Any]]:
    """(container, key) of every string inside `value` (dict keys or list indices)."""
    out: list[tuple[Any, Any]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, inner in items:
        if isinstance(inner, str):
            out.append((value, key))
        else:
            out += _strings(inner)
    return out
