"""The stateful components a detector runs beside the stateless Sigma rules.

Each is fresh per input partition (see detectors.state): Sigma correlation rules and the anomaly
heuristics, both behind the StatefulComponent face.
"""

from __future__ import annotations

from detectors.state import StatefulComponent
from detectors.worker import ComponentFactory
from socpipe.settings import Settings


def default_components(settings: Settings) -> ComponentFactory:
    def make() -> dict[str, StatefulComponent]:
        return {}

    return make
