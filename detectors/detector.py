"""Detection orchestrated once: the `Detector` every path runs, online and offline.

One event goes through the Sigma engine and the threat-intelligence indicators; the matches become
detections (except rules that only feed correlations, `generate: false`), and the event's
contributions to the stateful components are computed (detectors/contributions.py). The stateful half
applies contributions to the correlation windows and heuristic state (`apply`, `ComponentFactory`)
and returns their detections.

- `socpipe detector run` (detectors/worker.py) runs the stateless half and publishes the contributions
  to the repartition topic; `socpipe correlate run` (detectors/correlate.py) applies them per partition,
  with the state on a changelog topic.
- `socpipe scan` (cli/scan.py) runs both halves in one process over files, and `finish()` closes every
  window at the end of the input.

Both print and publish the same `Detection` model, so a detection looks the same wherever it came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from detectors.contributions import ContributionRouter
from detectors.correlation_component import CorrelationComponent
from detectors.detection import detection_from_match, entity_of
from detectors.sigma.engine import Engine
from detectors.sigma.loader import RuleSet
from schemas.common import utc_now
from schemas.contribution import ComponentKind, Contribution, Origin
from schemas.detection import Detection, EventRef

if TYPE_CHECKING:  # imported where used: a detector without heuristics (`scan --no-heuristics`) skips them
    from detectors.heuristics.config import HeuristicsConfig

# The stateful components, by the name their state is stored under (detectors/state.py).
COMPONENT_NAMES = {ComponentKind.correlation: "correlation", ComponentKind.heuristic: "heuristics"}


class StatefulComponent(Protocol):
    """Correlation or heuristics, behind one face: apply a contribution, save and load one tenant."""

    def apply(self, contribution: Contribution) -> list[Detection]: ...

    def finish(self, last: Contribution) -> list[Detection]:
        """Detections that only the end of a finite input decides (offline scans)."""
        ...

    def snapshot_tenant(self, tenant: str) -> dict[str, Any] | None:
        """The tenant's state as JSON-able data; None when the component holds nothing worth keeping."""
        ...

    def restore_tenant(self, tenant: str, state: Mapping[str, Any]) -> None:
        """Replace the tenant's state with what `snapshot_tenant` gave."""
        ...

    def dropped_tenants(self) -> list[str]:
        """Tenants whose state the component dropped by itself (a cap) since the last call."""
        ...


class IndicatorMatcher(Protocol):
    def match(
        self, flat: Mapping[str, Any], tenant: str, event_time: datetime, ref: EventRef
    ) -> list[Detection]: ...


class IntelSource(Protocol):
    """The threat-intelligence indicators in force (detectors/intel/); `current` changes between batches."""

    @property
    def current(self) -> IndicatorMatcher: ...


@dataclass(frozen=True, slots=True)
class FileRef:
    """An event's place in a file (offline), made an EventRef only when something matched: most events
    match nothing, and a scan then never pays for the model."""

    path: str
    line: int

    @property
    def event_id(self) -> str:
        return f"{self.path}:{self.line}"

    def build(self) -> EventRef:
        return EventRef(event_id=self.event_id, path=self.path, line=self.line)


@dataclass(frozen=True)
class FixedIntel:
    """Indicators that never change (`socpipe scan --intel`)."""

    current: IndicatorMatcher


class Detector:
    """The stateless half: an event in, its Sigma and indicator detections and its contributions out."""

    def __init__(
        self, engine: Engine, heuristics: HeuristicsConfig | None, intel: IntelSource | None = None
    ) -> None:
        self.engine = engine
        self.router = ContributionRouter(engine.ruleset, heuristics)
        self.intel = intel

    def use(self, engine: Engine) -> None:
        """Take a reloaded rule set (between batches)."""
        self.engine = engine
        self.router.follow_rules(engine.ruleset)

    def detect(
        self,
        flat: Mapping[str, Any],
        *,
        tenant: str,
        time: datetime | None,
        ref: EventRef | FileRef,
        origin: Origin | None = None,
    ) -> tuple[list[Detection], list[Contribution]]:
        """Sigma detections of the event, and its contributions. An event without a time (only offline:
        every pipeline event has one) gets no contributions, since windows are in event time, and its
        Sigma detections are dated when they were made."""
        matches = self.engine.match(flat, tenant=tenant, event_ref=ref.event_id)
        when = time or utc_now()
        found: list[Detection] = []
        if self.intel is not None:
            ref = ref.build() if isinstance(ref, FileRef) else ref
            found = self.intel.current.match(flat, tenant, when, ref)
        if not matches and self.router.heuristics is None:
            return found, []
        ref = ref.build() if isinstance(ref, FileRef) else ref
        entity = entity_of(flat)
        detections = [
            detection_from_match(m, tenant=tenant, event_time=when, entity=entity, event_ref=ref)
            for m in matches
            if m.rule.output
        ]
        detections += found
        if time is None:
            return detections, []
        contributions = self.router.contributions(
            flat, matches, tenant=tenant, time=time, ref=ref, entity=entity, origin=origin
        )
        return detections, contributions


@dataclass
class ComponentFactory:
    """Makes the stateful components of one state partition, under the current rule set."""

    ruleset: RuleSet
    heuristics: HeuristicsConfig | None

    def __call__(self) -> dict[str, StatefulComponent]:
        components: dict[str, StatefulComponent] = {"correlation": CorrelationComponent(self.ruleset)}
        if self.heuristics is not None:
            from detectors.heuristics.component import HeuristicsComponent

            components["heuristics"] = HeuristicsComponent(self.heuristics)
        return components

    def follow_rules(self, ruleset: RuleSet) -> None:
        """Partitions loaded after a rule reload get the new rules."""
        self.ruleset = ruleset


def apply(components: Mapping[str, StatefulComponent], contribution: Contribution) -> list[Detection]:
    """The detections one contribution completes; a component not running here (heuristics off) none."""
    component = components.get(COMPONENT_NAMES[contribution.component])
    return component.apply(contribution) if component is not None else []


@dataclass
class OfflineDetector:
    """Both halves in one process over a finite input (`socpipe scan`, replays, benchmarks)."""

    detector: Detector
    components: dict[str, StatefulComponent]
    untimed: int = 0  # events without a readable time: Sigma rules only
    _last: dict[str, Contribution] = field(default_factory=dict)  # tenant -> its latest contribution

    @classmethod
    def build(
        cls, engine: Engine, heuristics: HeuristicsConfig | None, intel: IntelSource | None = None
    ) -> OfflineDetector:
        return cls(Detector(engine, heuristics, intel), ComponentFactory(engine.ruleset, heuristics)())

    def detect(
        self, flat: Mapping[str, Any], *, tenant: str, time: datetime | None, ref: EventRef | FileRef
    ) -> list[Detection]:
        detections, contributions = self.detector.detect(flat, tenant=tenant, time=time, ref=ref)
        if time is None:
            self.untimed += 1
        for c in contributions:
            latest = self._last.get(c.tenant)
            if latest is None or c.time >= latest.time:
                self._last[c.tenant] = c
            detections += apply(self.components, c)
        return detections

    def finish(self) -> list[Detection]:
        """Close every window at the end of the input."""
        out: list[Detection] = []
        for last in self._last.values():
            for component in self.components.values():
                out += component.finish(last)
        return out
