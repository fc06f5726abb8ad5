"""Metrics as an interface with a no-op default; only a worker's entry point binds a real exporter.

Names are bare (`records_processed`, `consumer_lag`): an exporter adds its own prefix and suffixes.
Label names are the log context's (stage, topic, partition), so a metric and a log line join.
"""

from __future__ import annotations

from collections import Counter
from typing import Protocol

LabelKey = tuple[str, tuple[tuple[str, str], ...]]


class Metrics(Protocol):
    def count(self, name: str, value: int = 1, **labels: str) -> None:
        """Add to a counter (records, dead letters, outputs)."""

    def gauge(self, name: str, value: float, **labels: str) -> None:
        """Set a gauge to a value measured now (consumer lag)."""

    def observe(self, name: str, value: float, **labels: str) -> None:
        """Add one observation to a distribution (batch duration in seconds)."""

    def unset(self, name: str, **labels: str) -> None:
        """Forget a gauge's labelled value: a partition now on another worker must not report here."""


class NullMetrics:
    """The default: costs one call and records nothing."""

    def count(self, name: str, value: int = 1, **labels: str) -> None:
        return None

    def gauge(self, name: str, value: float, **labels: str) -> None:
        return None

    def observe(self, name: str, value: float, **labels: str) -> None:
        return None

    def unset(self, name: str, **labels: str) -> None:
        return None


def _key(name: str, labels: dict[str, str]) -> LabelKey:
    return name, tuple(sorted(labels.items()))


class InMemoryMetrics:
    """Keeps counts in memory: for tests and for the summary a demo prints."""

    def __init__(self) -> None:
        self.counts: Counter[LabelKey] = Counter()
        self.gauges: dict[LabelKey, float] = {}
        self.observations: dict[LabelKey, list[float]] = {}

    def count(self, name: str, value: int = 1, **labels: str) -> None:
        self.counts[_key(name, labels)] += value

    def gauge(self, name: str, value: float, **labels: str) -> None:
        self.gauges[_key(name, labels)] = value

    def observe(self, name: str, value: float, **labels: str) -> None:
        self.observations.setdefault(_key(name, labels), []).append(value)

    def unset(self, name: str, **labels: str) -> None:
        self.gauges.pop(_key(name, labels), None)
