"""STIX 2.1 bundles (OASIS STIX 2.1, sections 4.7 indicator and 7.2 data markings).

The bundle's objects are validated with pydantic where socpipe reads them (indicator, marking
definition); the patterns go through detectors.intel.patterns. TLP comes from the indicator's
`object_marking_refs`: the well-known TLP 1.0 and TLP 2.0 marking-definition ids, or a marking
definition in the bundle naming its level. An unmarked indicator takes the feed's default TLP.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

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


class StixIndicator(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    id: str
    pattern: str
    pattern_type: str = "stix"
    valid_from: str | None = None
    valid_until: str | None = None
    created: str | None = None
    modified: str | None = None
    confidence: int | None = Field(default=None, ge=0, le=100)
    labels: list[str] = Field(default_factory=list)
    indicator_types: list[str] = Field(default_factory=list)
    object_marking_refs: list[str] = Field(default_factory=list)
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


def read_stix(data: bytes, source: str, default_tlp: Tlp, report: LoadReport) -> Iterator[Indicator]:
    try:
        bundle = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{source}: not JSON: {exc}") from exc
    if not isinstance(bundle, dict) or bundle.get("type") != "bundle":
        raise ValueError(f'{source}: not a STIX bundle (no top-level "type": "bundle")')
    objects = [o for o in bundle.get("objects") or [] if isinstance(o, dict)]
    markings = {
        str(o["id"]): tlp
        for o in objects
        if o.get("type") == "marking-definition" and (tlp := marking_tlp(o)) is not None
    }
    markings = {**WELL_KNOWN_TLP, **markings}
    intern = Interner()
    for number, obj in enumerate(objects):
        if obj.get("type") != "indicator":
            continue
        where = f"object {number} ({obj.get('id', '?')})"
        try:
            stix = StixIndicator.model_validate(obj)
        except ValidationError as exc:
            report.skip(f"invalid indicator: {exc.errors()[0]['msg']}", where)
            continue
        if stix.revoked:
            report.skip("revoked", where)
            continue
        if stix.pattern_type != "stix":
            report.skip(f"pattern_type {stix.pattern_type}: only stix patterns are read", where)
            continue
        try:
            pairs = comparisons(stix.pattern)
        except UnsupportedPatternError as exc:
            report.skip(f"unsupported pattern: {exc}", where)
            continue
        tlp = next((markings[m] for m in stix.object_marking_refs if m in markings), default_tlp)
        labels = tuple(sorted({*stix.labels, *stix.indicator_types}))
        provenance = intern(Provenance(source, tlp, stix.confidence, labels))
        try:
            first, last = epoch(stix.valid_from or stix.created), epoch(stix.modified)
            until = epoch(stix.valid_until)
        except ValueError as exc:
            report.skip(f"bad timestamp: {exc}", where)
            continue
        for kind, raw in pairs:
            try:
                value = values.normalise(kind, raw)
            except values.BadValueError as exc:
                report.skip(f"bad value: {exc}", where)
                continue
            yield Indicator(kind, value, provenance, stix.id, first, last, until)
