"""STIX 2.1 bundles (OASIS STIX 2.1, sections 4.7 indicator and 7.2 data markings).

The bundle is streamed a chunk at a time (detectors.intel.formats.jsonarray): its `objects` come as
raw JSON, never the whole document at once, so a million-indicator bundle (~350 MB) costs the
indicators it yields, not its own size. Each indicator object is decoded and validated by msgspec
straight into a typed struct (StixIndicator), lenient like pydantic's lax mode; msgspec rather than
orjson + pydantic, because a million indicators as dicts and models cost gigabytes and ~20 s. The
patterns go through detectors.intel.patterns. TLP comes from the indicator's `object_marking_refs`:
the well-known TLP 1.0 and TLP 2.0 marking-definition ids, or a marking definition in the bundle
naming its level. An indicator referring to a marking definition not yet seen (the specification
does not order a bundle's objects) is read when the bundle ends. An unmarked indicator takes the
feed's default TLP.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Annotated, Any

import msgspec

from detectors.intel import values
from detectors.intel.formats.jsonarray import MalformedJsonError, NotAnArrayError, TopLevelArray
from detectors.intel.formats.report import LoadReport
from detectors.intel.model import Indicator, Interner, Provenance, Tlp, epoch
from detectors.intel.patterns import UnsupportedPatternError, comparisons

# TLP 1.0 (STIX 2.1 section 7.2.1.4) and TLP 2.0 (OASIS TLP 2.0 marking definitions).
WELL_KNOWN_TLP = {
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": Tlp.clear,
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": Tlp.green,
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": Tlp.amber,
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": Tlp.red,
    "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487": Tlp.clear,
    "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb": Tlp.green,
    "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421": Tlp.amber,
    "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003": Tlp.amber_strict,
    "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1": Tlp.red,
}


class StixIndicator(msgspec.Struct, kw_only=True, gc=False):
    """The indicator properties socpipe reads (others are ignored), validated as they are converted."""

    type: str
    id: str
    pattern: str
    pattern_type: str = "stix"
    valid_from: str | None = None
    valid_until: str | None = None
    created: str | None = None
    modified: str | None = None
    confidence: Annotated[int, msgspec.Meta(ge=0, le=100)] | None = None
    labels: tuple[str, ...] = ()
    indicator_types: tuple[str, ...] = ()
    object_marking_refs: tuple[str, ...] = ()
    revoked: bool = False


def marking_tlp(obj: dict[str, Any]) -> Tlp | None:
    """The TLP level a marking-definition object of the bundle states, in any of its published shapes."""
    if (known := WELL_KNOWN_TLP.get(str(obj.get("id")))) is not None:
        return known
    definition = obj.get("definition")
    if isinstance(definition, dict) and (tlp := Tlp.parse(str(definition.get("tlp", "")))):
        return tlp
    for extension in (obj.get("extensions") or {}).values():
        if isinstance(extension, dict) and (tlp := Tlp.parse(str(extension.get("tlp_2_0", "")))):
            return tlp
    return Tlp.parse(str(obj.get("name", ""))) or Tlp.parse(str(obj.get("definition_type", "")))


class _Head(msgspec.Struct, gc=False):
    """An object's type, all that is decoded of objects that are neither indicators nor markings."""

    type: Any = None


_HEAD = msgspec.json.Decoder(_Head)
_INDICATOR = msgspec.json.Decoder(StixIndicator, strict=False)  # lax, as pydantic was: "85", 85.0


def read_stix(data: IO[bytes], source: str, default_tlp: Tlp, report: LoadReport) -> Iterator[Indicator]:
    """The bundle's indicators, read object by object from the stream. ValueError if it is not a
    bundle, or if its JSON is malformed however far in (nothing is kept of a failed read: the caller
    builds the whole set before it replaces the running one)."""
    first = data.read(64).lstrip()
    data.seek(0)
    if not first.startswith(b"{"):
        raise ValueError(f"{source}: not a STIX bundle (not a JSON object)")
    objects = TopLevelArray(data, "objects")
    markings = {**WELL_KNOWN_TLP}
    seen: set[str] = set(WELL_KNOWN_TLP)  # every marking definition so far, TLP or not
    read = _IndicatorReader(source, default_tlp, markings, report)
    waiting: list[tuple[int, StixIndicator]] = []  # indicators marked by a definition not yet seen
    checked = False
    try:
        for number, raw in enumerate(objects):
            if not checked:  # the members before `objects` are known once the first one is read
                _check(objects.members, source, before=True)
                checked = True
            kind = _head(raw)
            if kind == "indicator":
                stix = read.convert(number, raw)
                if stix is None:
                    continue
                if stix.object_marking_refs and not seen.issuperset(stix.object_marking_refs):
                    waiting.append((number, stix))
                    continue
                yield from read(number, stix)
            elif kind == "marking-definition":
                obj = msgspec.json.decode(raw)
                seen.add(str(obj.get("id")))
                if (tlp := marking_tlp(obj)) is not None:
                    markings[str(obj["id"])] = tlp
    except NotAnArrayError as exc:
        raise ValueError(f"{source}: not a STIX bundle (its objects are not a list)") from exc
    except MalformedJsonError as exc:
        raise ValueError(f"{source}: malformed JSON in its objects: {exc}") from exc
    _check(objects.members, source, before=False)
    for number, stix in waiting:
        yield from read(number, stix)


def _check(members: dict[str, Any], source: str, *, before: bool) -> None:
    """The top-level `"type": "bundle"`; while streaming only the members before `objects` are known,
    so a `type` after them (JSON does not order members) is checked at the end."""
    kind = members.get("type")
    if kind == "bundle" or (before and kind is None):
        return
    raise ValueError(f'{source}: not a STIX bundle (no top-level "type": "bundle")')


class _IndicatorReader:
    """One indicator object -> its Indicators. What many indicators share is worked out once per bundle:
    the provenance per (markings, confidence, labels), and each distinct timestamp."""

    def __init__(self, source: str, default_tlp: Tlp, markings: dict[str, Tlp], report: LoadReport) -> None:
        self.source, self.default_tlp, self.markings, self.report = source, default_tlp, markings, report
        self.intern = Interner()
        self.provenances: dict[tuple[object, ...], Provenance] = {}
        self.times: dict[str | None, float | None] = {}

    def convert(self, number: int, raw: msgspec.Raw) -> StixIndicator | None:
        """The indicator object as a validated struct; None (skipped, counted) if it is not valid."""
        try:
            return _INDICATOR.decode(raw)
        except msgspec.ValidationError as exc:
            self.report.skip(f"invalid indicator: {exc}", f"object {number} ({_id(raw)})")
            return None

    def __call__(self, number: int, stix: StixIndicator) -> list[Indicator]:
        if stix.revoked:
            self.report.skip("revoked", _where(number, stix))
            return []
        if stix.pattern_type != "stix":
            reason = f"pattern_type {stix.pattern_type}: only stix patterns are read"
            self.report.skip(reason, _where(number, stix))
            return []
        try:
            pairs = comparisons(stix.pattern)
            first = self._time(stix.valid_from or stix.created)
            last, until = self._time(stix.modified), self._time(stix.valid_until)
        except UnsupportedPatternError as exc:
            self.report.skip(f"unsupported pattern: {exc}", _where(number, stix))
            return []
        except ValueError as exc:
            self.report.skip(f"bad timestamp: {exc}", _where(number, stix))
            return []
        provenance = self._provenance(stix)
        out = []
        for kind, raw_value in pairs:
            try:
                value = values.normalise(kind, raw_value)
            except values.BadValueError as exc:
                self.report.skip(f"bad value: {exc}", _where(number, stix))
                continue
            out.append(Indicator(kind, value, provenance, stix.id, first, last, until))
        return out

    def _provenance(self, stix: StixIndicator) -> Provenance:
        key = (stix.object_marking_refs, stix.confidence, stix.labels, stix.indicator_types)
        found = self.provenances.get(key)
        if found is None:
            refs = stix.object_marking_refs
            tlp = next((self.markings[m] for m in refs if m in self.markings), self.default_tlp)
            labels = tuple(sorted({*stix.labels, *stix.indicator_types}))
            found = self.provenances[key] = self.intern(Provenance(self.source, tlp, stix.confidence, labels))
        return found

    def _time(self, text: str | None) -> float | None:
        try:
            return self.times[text]
        except KeyError:
            self.times[text] = found = epoch(text)
            return found


def _where(number: int, stix: StixIndicator) -> str:
    return f"object {number} ({stix.id})"


def _head(raw: msgspec.Raw) -> Any:
    try:
        return _HEAD.decode(raw).type
    except msgspec.DecodeError:  # an object that is not a JSON object: not an indicator
        return None


def _id(raw: msgspec.Raw) -> str:
    obj = msgspec.json.decode(raw)
    return str(obj.get("id", "?")) if isinstance(obj, dict) else "?"
