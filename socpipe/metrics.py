"""Metrics as an interface with a no-op default; only a worker's entry point binds a real exporter."""

from __future__ import annotations

from collections import Counter
from typing import Protocol


class Metrics(Protocol):
    def count(self, name: str, value: int = 1, **labels: str) -> None: ...

    def gauge(self, name: str, value: float, **labels: str) -> None: ...


class NullMetrics:
    def count(self, name: str, value: int = 1, **labels: str) -> None:
        return None

    def gauge(self, name: str, value: float, **labels: str) -> None:
        return None


class InMemoryMetrics:
    """Keeps counts in memory: for tests and for the summary a demo prints."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()
        self.gauges: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}

    def count(self, name: str, value: int = 1, **labels: str) -> None:
        self.counts[(name, tuple(sorted(labels.items())))] += value

    def gauge(self, name: str, value: float, **labels: str) -> None:
        self.gauges[(name, tuple(sorted(labels.items())))] = value
