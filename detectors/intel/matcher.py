"""IndicatorMatcher: one event's fields against the loaded indicators -> Detections.

Stateless: the same event always gives the same detections, with the same ids (tenant, indicator,
event), so the live detector and a retro-hunt that meet the same event write one detection, not two.
An indicator matches for a tenant when it is in the global index or that tenant's, is not expired at
the time of the match, and neither the indicator's value nor the event's value is on the tenant's
allow-list (an allow-list entry is matched like an indicator: a CIDR block or a parent domain covers
what lies under it).

TLP: a detection of a TLP:RED or TLP:AMBER+STRICT indicator gets the rule id INTEL_RESTRICTED_RULE_ID
and a title that names neither the indicator nor its source, and the entity's address is left out
when it is the indicator itself; the provenance stays in `matched` for the provider's analysts.
Notices (responders/notices/render.py) then say only that an indicator matched and how to ask.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from detectors.detection import entity_of
from detectors.intel.fields import NAMES, Fields, observations
from detectors.intel.index import IndicatorIndex, lookup
from detectors.intel.model import Indicator
from detectors.intel.prefilter import HitFilter
from schemas.common import Severity
from schemas.detection import (
    INTEL_RESTRICTED_RULE_ID,
    INTEL_RULE_ID,
    RETROSPECTIVE_TAG,
    Detection,
    DetectionKind,
    EventRef,
    RuleRef,
)

_EMPTY_INDEX = IndicatorIndex()


class IndicatorMatcher:
    """The global indicators, each tenant's own, and each tenant's allow-list, matched on one event."""

    def __init__(
        self,
        global_index: IndicatorIndex | None = None,
        tenants: Mapping[str, IndicatorIndex] | None = None,
        allow: Mapping[str, IndicatorIndex] | None = None,
        *,
        severity: Severity = Severity.high,
        clock: Callable[[], float] = time.time,
        retrospective: bool = False,
        memo_size: int = 100_000,
    ) -> None:
        self.global_index = global_index or _EMPTY_INDEX
        self.tenants = dict(tenants or {})
        self.allow = dict(allow or {})
        self.severity = severity
        self.clock = clock
        self.retrospective = retrospective
        self.global_empty = not len(self.global_index)
        self._global_only = (self.global_index,)
        self._scopes = {tenant: (self.global_index, own) for tenant, own in self.tenants.items()}
        # Field values repeat (the same binaries' Hashes, the same addresses): one index probe per value.
        self.could_hit = HitFilter((self.global_index, *self.tenants.values()), memo_size)

    def __len__(self) -> int:
        return len(self.global_index) + sum(len(i) for i in self.tenants.values())

    def indexes(self, tenant: str) -> tuple[IndicatorIndex, ...]:
        return self._scopes.get(tenant, self._global_only)

    def hits(self, flat: Fields, tenant: str) -> list[tuple[str, str, Indicator]]:
        """(field, value, indicator) of every live, not allow-listed indicator the event contains."""
        if self.global_empty and tenant not in self.tenants:
            return []
        if isinstance(flat, dict):
            if NAMES.isdisjoint(flat):  # most events (three in four of the corpus's): nothing to look up
                return []
            if not self.could_hit({name: flat[name] for name in NAMES.intersection(flat)}):
                return []
        seen = observations(flat)
        now = self.clock()
        allow = self.allow.get(tenant)
        found: dict[str, tuple[str, str, Indicator]] = {}
        for kind, field, value in seen:
            for index in self.indexes(tenant):
                for indicator in lookup(index, kind, value):
                    if indicator.key in found or indicator.expired(now):
                        continue
                    if allow is not None and (
                        lookup(allow, kind, value) or lookup(allow, indicator.kind, indicator.value)
                    ):
                        continue
                    found[indicator.key] = (field, value, indicator)
        return list(found.values())

    def match(
        self, flat: Mapping[str, Any], tenant: str, event_time: datetime, ref: EventRef
    ) -> list[Detection]:
        """One detection per indicator the event hits (however many of its fields carry it)."""
        return [
            self.detection((field, value, indicator), flat, tenant, event_time, ref)
            for field, value, indicator in self.hits(flat, tenant)
        ]

    def detection(
        self,
        hit: tuple[str, str, Indicator],
        flat: Mapping[str, Any],
        tenant: str,
        event_time: datetime,
        ref: EventRef,
    ) -> Detection:
        field, value, indicator = hit
        provenance = indicator.provenance
        tlp = f"TLP:{provenance.tlp.upper()}"
        restricted = provenance.tlp.restricted
        tags = ["socpipe.intel", f"tlp.{provenance.tlp}", *(f"intel.{label}" for label in provenance.labels)]
        if self.retrospective:
            tags.append(RETROSPECTIVE_TAG)
        entity = entity_of(dict(flat))
        if restricted and entity.source_ip == value:
            entity = entity.model_copy(update={"source_ip": None})
        if restricted:
            title = f"Threat intelligence match ({tlp}: details from your SOC on request)"
        else:
            title = f"Threat intelligence match: {indicator.kind} {indicator.value} ({provenance.source})"
        when = "found by a retro-hunt: " if self.retrospective else ""
        return Detection(
            id=Detection.make_id(tenant, f"intel:{indicator.key}", ref.event_id),
            tenant=tenant,
            kind=DetectionKind.intel,
            rule=RuleRef(
                id=INTEL_RESTRICTED_RULE_ID if restricted else INTEL_RULE_ID,
                title=title,
                level=self.severity,
                tags=tags,
            ),
            event_time=event_time,
            matched={
                "field": field,
                "value": value,
                "intel": indicator.describe(),
                "retrospective": self.retrospective,
            },
            entity=entity,
            event_ref=ref,
            explanation=(
                f"{when}{field} {value} matched the {indicator.kind} indicator {indicator.value} of "
                f"{provenance.source} ({tlp}, confidence {provenance.confidence})"
            ),
        )

    def as_retrospective(self) -> IndicatorMatcher:
        """The same indicators, making detections marked as found by a retro-hunt."""
        return IndicatorMatcher(
            self.global_index,
            self.tenants,
            self.allow,
            severity=self.severity,
            clock=self.clock,
            retrospective=True,
            memo_size=1_000_000,  # a hunt reads a week of events once: remember more of their values
        )
