"""STIX 2.1 bundles (OASIS STIX 2.1, sections 4.7 indicator and 7.2 data markings).

The bundle is decoded with msgspec: each object is first kept as its raw JSON, then an indicator is
decoded and validated straight into a typed struct (StixIndicator) and a marking definition into a
dict. msgspec rather than orjson + pydantic, because a million-indicator bundle as Python dicts costs
gigabytes and the per-object validation was the largest share of the load time. The patterns go
through detectors.intel.patterns. TLP comes from the indicator's
`object_marking_refs`: the well-known TLP 1.0 and TLP 2.0 marking-definition ids, or a marking
definition in the bundle naming its level. An unmarked indicator takes the feed's default TLP.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import msgspec

from detectors.intel import values
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


class StixIndicator(msgspec.Struct, kw_only=True):
    """The indicator properties socpipe reads (others are ignored), validated as they are decoded."""

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


class _Head(msgspec.Struct):
    """An object's type, all that is decoded of objects that are neither indicators nor markings."""

    type: Any = None


class _Bundle(msgspec.Struct):
    """The bundle with each object left as its raw JSON text, decoded one at a time below."""

    type: Any = None
    objects: list[msgspec.Raw] | None = None


_HEAD = msgspec.json.Decoder(_Head)
_INDICATOR = msgspec.json.Decoder(StixIndicator, strict=False)  # lax, as pydantic was: "85", 85.0
_BUNDLE = msgspec.json.Decoder(_Bundle)


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


def read_stix(data: bytes, source: str, default_tlp: Tlp, report: LoadReport) -> Iterator[Indicator]:
    """The bundle's indicators. A million-indicator bundle is not made into a million dicts: the bundle
    is decoded with each object kept as raw JSON, and each indicator straight into a StixIndicator."""
    try:
        bundle = _BUNDLE.decode(data)
    except msgspec.ValidationError as exc:
        raise ValueError(f"{source}: not a STIX bundle: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise ValueError(f"{source}: not JSON: {exc}") from exc
    if bundle.type != "bundle":
        raise ValueError(f'{source}: not a STIX bundle (no top-level "type": "bundle")')
    objects = bundle.objects or []
    heads = [_head(raw) for raw in objects]
    markings = {**WELL_KNOWN_TLP}
    for raw, head in zip(objects, heads, strict=True):
        if head == "marking-definition":
            obj = msgspec.json.decode(raw)
            if (tlp := marking_tlp(obj)) is not None:
                markings[str(obj["id"])] = tlp
    read = _IndicatorReader(source, default_tlp, markings, report)
    for number, (raw, head) in enumerate(zip(objects, heads, strict=True)):
        if head == "indicator":
            yield from read(number, raw)


class _IndicatorReader:
    """One indicator object -> its Indicators. What many indicators share is worked out once per bundle:
    the provenance per (markings, confidence, labels), and each distinct timestamp."""

    def __init__(self, source: str, default_tlp: Tlp, markings: dict[str, Tlp], report: LoadReport) -> None:
        self.source, self.default_tlp, self.markings, self.report = source, default_tlp, markings, report
        self.intern = Interner()
        self.provenances: dict[tuple[object, ...], Provenance] = {}
        self.times: dict[str | None, float | None] = {}

    def __call__(self, number: int, raw: msgspec.Raw) -> list[Indicator]:
        try:
            stix = _INDICATOR.decode(raw)
        except msgspec.ValidationError as exc:
            self.report.skip(f"invalid indicator: {exc}", f"object {number} ({_id(raw)})")
            return []
        where = f"object {number} ({stix.id})"
        if stix.revoked:
            self.report.skip("revoked", where)
            return []
        if stix.pattern_type != "stix":
            self.report.skip(f"pattern_type {stix.pattern_type}: only stix patterns are read", where)
            return []
        try:
            pairs = comparisons(stix.pattern)
            first = self._time(stix.valid_from or stix.created)
            last, until = self._time(stix.modified), self._time(stix.valid_until)
        except UnsupportedPatternError as exc:
            self.report.skip(f"unsupported pattern: {exc}", where)
            return []
        except ValueError as exc:
            self.report.skip(f"bad timestamp: {exc}", where)
            return []
        provenance = self._provenance(stix)
        out = []
        for kind, raw_value in pairs:
            try:
                value = values.normalise(kind, raw_value)
            except values.BadValueError as exc:
                self.report.skip(f"bad value: {exc}", where)
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


def _head(raw: msgspec.Raw) -> Any:
    try:
        return _HEAD.decode(raw).type
    except msgspec.DecodeError:  # an object that is not a JSON object: not an indicator
        return None


def _id(raw: msgspec.Raw) -> str:
    obj = msgspec.json.decode(raw)
    return str(obj.get("id", "?")) if isinstance(obj, dict) else "?"
