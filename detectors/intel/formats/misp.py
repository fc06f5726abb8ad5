"""MISP event JSON (MISP core format, draft-dulaunoy-misp-core-format): `{"Event": {...}}`, a list
of those, or a `{"response": [...]}` search result.

Attributes of the types below become indicators; `to_ids: false` attributes are context, not
detection material, and are skipped, as MISP's own IDS exports do. TLP comes from the attribute's,
else the event's, `tlp:` tags; confidence from `misp:confidence-level` style tags is not guessed.

The document is streamed an event at a time (detectors.intel.formats.stream): where the events sit
(`Event`, `item.Event`, `response.item.Event`...) is read from its head, then each event is parsed
and validated alone, so a search result of many events costs one event at a time, not the document.
One event is held whole while it is read (MISP's own feeds are one event a file). Each event is
validated into msgspec structs (as STIX indicators are): pydantic models were a sixth of a
million-attribute load.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import msgspec

from detectors.intel import values
from detectors.intel.formats import stream
from detectors.intel.formats.report import LoadReport
from detectors.intel.model import Indicator, IndicatorKind, Interner, Provenance, Tlp, epoch

TYPES: dict[str, IndicatorKind] = {
    "ip-dst": IndicatorKind.ip,
    "ip-src": IndicatorKind.ip,
    "domain": IndicatorKind.domain,
    "hostname": IndicatorKind.domain,
    "url": IndicatorKind.url,
    "link": IndicatorKind.url,
    "md5": IndicatorKind.md5,
    "sha1": IndicatorKind.sha1,
    "sha256": IndicatorKind.sha256,
    "email": IndicatorKind.email,
    "email-src": IndicatorKind.email,
    "email-dst": IndicatorKind.email,
}
# Composite types `a|b`: the parts socpipe matches, by position.
COMPOSITE: dict[str, tuple[IndicatorKind | None, ...]] = {
    "ip-dst|port": (IndicatorKind.ip, None),
    "ip-src|port": (IndicatorKind.ip, None),
    "domain|ip": (IndicatorKind.domain, IndicatorKind.ip),
    "filename|md5": (None, IndicatorKind.md5),
    "filename|sha1": (None, IndicatorKind.sha1),
    "filename|sha256": (None, IndicatorKind.sha256),
}


class MispTag(msgspec.Struct, gc=False):
    name: str


class MispAttribute(msgspec.Struct, kw_only=True, gc=False):
    """The attribute properties socpipe reads (MISP carries many more: ignored, not kept)."""

    type: str
    value: str
    uuid: str | None = None
    to_ids: bool = True
    deleted: bool = False
    category: str | None = None
    first_seen: str | None = None
    last_seen: str | None = None
    timestamp: str | int | None = None
    Tag: list[MispTag] = []


class MispObject(msgspec.Struct, gc=False):
    Attribute: list[MispAttribute] = []


class MispEvent(msgspec.Struct, kw_only=True, gc=False):
    info: str = ""
    uuid: str | None = None
    date: str | None = None
    threat_level_id: str | int | None = None
    Tag: list[MispTag] = []
    Attribute: list[MispAttribute] = []
    Object: list[MispObject] = []


def _events(data: IO[bytes], source: str) -> Iterator[Any]:
    """Each `Event` object of the document, one at a time; ValueError if it holds none."""
    first = stream.head(data)
    if not first.lstrip().startswith((b"{", b"[")):
        raise ValueError(f"{source}: not MISP event JSON (not a JSON object or list)")
    path = stream.path_of(first, "Event")
    if path is None:
        raise ValueError(f'{source}: no MISP event found (expected {{"Event": {{...}}}})')
    yield from stream.items(data, path)


def _tlp(tags: list[MispTag]) -> Tlp | None:
    return next((t for tag in tags if (t := Tlp.parse(tag.name if ":" in tag.name else None))), None)


def read_misp(data: IO[bytes], source: str, default_tlp: Tlp, report: LoadReport) -> Iterator[Indicator]:
    """The indicators of every event of the stream (seekable: its head is peeked at for the shape)."""
    intern = Interner()
    number = -1
    try:
        for number, raw in enumerate(_events(data, source)):
            yield from _event(number, raw, source, default_tlp, report=report, intern=intern)
    except stream.JSONError as exc:
        raise ValueError(f"{source}: {stream.malformed(exc, data, 'event', number + 2)}") from exc


def _event(
    number: int, raw: Any, source: str, default_tlp: Tlp, *, report: LoadReport, intern: Interner
) -> Iterator[Indicator]:
    """One event's indicators."""
    try:
        event = msgspec.convert(raw, MispEvent, strict=False)  # lax, as pydantic's: "1" for true, 1 for "1"
    except msgspec.ValidationError as exc:
        report.skip(f"invalid event: {exc}", f"event {number}")
        return
    event_tlp = _tlp(event.Tag) or default_tlp
    event_labels = tuple(sorted({t.name for t in event.Tag if not t.name.lower().startswith("tlp:")}))
    # What an event's attributes share is worked out once: the provenance per distinct set of the
    # attribute's own tags (most have none), and each distinct timestamp.
    provenances: dict[tuple[str, ...], Provenance] = {}
    times = _Times()
    attributes = event.Attribute + [a for obj in event.Object for a in obj.Attribute]
    for attribute in attributes:
        if attribute.deleted or not attribute.to_ids:
            continue
        kinds = COMPOSITE.get(attribute.type) or (
            (TYPES[attribute.type],) if attribute.type in TYPES else None
        )
        if kinds is None:
            report.skip(f"attribute type {attribute.type} is not matched", _where(event, number, attribute))
            continue
        parts = attribute.value.split("|") if len(kinds) > 1 else (attribute.value,)
        tags = tuple(t.name for t in attribute.Tag) if attribute.Tag else ()
        provenance = provenances.get(tags)
        if provenance is None:
            labels = tuple(sorted({*event_labels, *(t for t in tags if ":" not in t)}))
            if event.info:
                labels = (*labels, event.info)
            tlp = _tlp(attribute.Tag) or event_tlp
            provenance = provenances[tags] = intern(Provenance(source, tlp, None, labels))
        try:
            first = times(attribute.first_seen) or times(event.date)
            last = times(attribute.last_seen) or times(attribute.timestamp)
        except ValueError as exc:
            report.skip(f"bad timestamp: {exc}", _where(event, number, attribute))
            continue
        for kind, part in zip(kinds, parts, strict=False):
            if kind is None:
                continue
            try:
                value = values.normalise(kind, values.refang(part))
            except values.BadValueError as exc:
                report.skip(f"bad value: {exc}", _where(event, number, attribute))
                continue
            yield Indicator(kind, value, provenance, attribute.uuid, first, last)


def _where(event: MispEvent, number: int, attribute: MispAttribute) -> str:
    return f"event {event.uuid or number} attribute {attribute.uuid or attribute.value!r}"


class _Times(dict[Any, float | None]):
    """`epoch` of each distinct timestamp once (an event's attributes share a few)."""

    def __call__(self, value: Any) -> float | None:
        try:
            return self[value]
        except KeyError:
            found = self[value] = epoch(value)
            return found
