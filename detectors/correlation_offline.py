"""Sigma correlations over files (`socpipe scan`): each event's matches fed at the event's own time.

Rows have the shape of `socpipe scan`'s Sigma rows (rule, matched, tenant, event_ref), with
`kind: correlation`; `matched` holds the group, the aggregated value and the rules seen. At the end
of the input every open window is closed, so "fewer than" conditions are decided on what was read.
Events without a readable time (see `heuristics.fields.event_time`) are counted in `untimed`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from detectors.heuristics.fields import event_time
from detectors.sigma.correlation import CorrelationEngine
from detectors.sigma.correlation_state import CorrelationMatch
from detectors.sigma.loader import RuleSet
from detectors.sigma.model import Match

END_OF_INPUT = 10 * 365 * 86400.0  # seconds past the last event: every window has closed by then


class ScanCorrelations:
    def __init__(self, ruleset: RuleSet, tenant: str | None) -> None:
        self.engine = CorrelationEngine(ruleset)
        self.tenant = tenant
        self.untimed = 0
        self._last: tuple[float, Path, int] | None = None

    def __bool__(self) -> bool:
        return bool(self.engine.rules)

    def feed(
        self, matches: Sequence[Match], event: Mapping[str, Any], path: Path, line: int
    ) -> list[dict[str, Any]]:
        """Rows of the correlations this event's matches complete."""
        if not matches:
            return []
        ts = event_time(event)
        if ts is None:
            self.untimed += 1
            return []
        seconds = ts.timestamp()
        if self._last is None or seconds >= self._last[0]:
            self._last = (seconds, path, line)
        fired: list[CorrelationMatch] = []
        for match in matches:
            fired += self.engine.feed(match, event, self.tenant, seconds)
        return [_row(c, path, line) for c in fired if c.output]

    def finish(self) -> list[dict[str, Any]]:
        """Close every open window at the end of the input."""
        if self._last is None:
            return []
        seconds, path, line = self._last
        fired = self.engine.advance(self.tenant, now=seconds + END_OF_INPUT)
        return [_row(c, path, line) for c in fired if c.output]


def _row(match: CorrelationMatch, path: Path, line: int) -> dict[str, Any]:
    tags = list(match.tags)
    return {
        "id": match.id,
        "kind": "correlation",
        "rule": {
            "id": match.correlation_id,
            "title": match.title,
            "level": match.level,
            "author": match.author,
            "status": None,
            "logsource": {"correlation": match.type},
            "path": None,
        },
        "tags": tags,
        "attack": [t.split(".", 1)[1] for t in tags if t.startswith("attack.")],
        "matched": {"group": match.group, "value": match.value, "rules": match.rules},
        "tenant": match.tenant,
        "event_ref": {"path": str(path), "line": line},
        "window": {"start": match.window_start, "end": match.window_end, "events": match.event_refs},
    }
