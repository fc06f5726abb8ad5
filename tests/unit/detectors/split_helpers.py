"""The detector and correlate stages as production runs them, without a bus.

The contributions the stateless detector publishes become the correlate stage's input, spread over
partitions by their Kafka key with the producer's own partitioner (murmur2), offsets contiguous per
partition as Kafka gives them. Tests of detection behaviour run through this split, so they check
what the two workers compute together.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from kafka.partitioner.default import murmur2

from detectors.build import build_engine, rule_paths
from detectors.correlate import CorrelateStage
from detectors.detector import ComponentFactory, Detector
from detectors.heuristics.config import load_config
from detectors.reload import RuleReloader
from detectors.state import StateStore
from detectors.worker import DetectorStage
from socpipe.bus import Inbound
from socpipe.settings import Settings, load_settings
from socpipe.worker import StageOutput


class NoKafkaStore(StateStore):
    """A StateStore that starts every partition empty (the state topic is tested against real Kafka)."""

    def _read_tenants(self, prefix: bytes) -> dict[str, bytes]:
        return {}


def partition_of(key: bytes, partitions: int) -> int:
    """The partition kafka-python's default partitioner gives a keyed message."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


class Split:
    """`process(batch)` runs the detector stage, then the correlate stage on what it published."""

    name = "split"

    def __init__(self, detector: DetectorStage, correlate: CorrelateStage, partitions: int = 3) -> None:
        self.detector = detector
        self.correlate = correlate
        self.topics = detector.topics
        self.partitions = partitions
        self.offsets = [0] * partitions
        self.contributions = 0

    def process(self, batch: Sequence[Inbound]) -> StageOutput:
        first = self.detector.process(batch)
        inbound = []
        out = StageOutput(dead_letters=list(first.dead_letters))
        for message in first.messages:
            if message.topic != self.topics.contributions:
                out.messages.append(message)
                continue
            assert message.key is not None and message.value is not None
            partition = partition_of(message.key, self.partitions)
            offset = self.offsets[partition]
            inbound.append(Inbound(message.topic, partition, offset, message.value, message.key))
            self.offsets[partition] += 1
        self.contributions += len(inbound)
        second = self.correlate.process(inbound)
        out.messages += second.messages
        out.dead_letters += second.dead_letters
        return out


class Reloaders:
    """The two stages' reloaders, asked together as an operator's SIGHUP to both workers would."""

    def __init__(self, *reloaders: RuleReloader) -> None:
        self.all = reloaders

    def request(self) -> None:
        for reloader in self.all:
            reloader.request()

    @property
    def reloads(self) -> int:
        return min(r.reloads for r in self.all)

    @property
    def refused(self) -> int:
        return min(r.refused for r in self.all)

    def take(self) -> object:
        return next((e for r in self.all if (e := r.take()) is not None), None)


def make_split(
    settings: Settings, *, poll_s: float | None = None, clock: list[float] | None = None, partitions: int = 3
) -> tuple[Split, Reloaders]:
    now = clock if clock is not None else [0.0]
    engine = build_engine(settings)
    factory = ComponentFactory(engine.ruleset, load_config())
    store = NoKafkaStore(settings, "g", factory)

    def reloader(state: StateStore | None) -> RuleReloader:
        return RuleReloader(
            lambda: build_engine(settings, strict=True),
            lambda: rule_paths(settings),
            state,
            poll_s=poll_s,
            clock=lambda: now[0],
        )

    first, second = reloader(None), reloader(store)
    detector = DetectorStage(Detector(engine, load_config()), settings.topics, first)
    correlate = CorrelateStage(store, settings.topics, second)
    return Split(detector, correlate, partitions), Reloaders(first, second)


def split_for_rules(rules: Path, **kwargs: object) -> tuple[Split, Reloaders]:
    return make_split(load_settings(rules_dirs=[rules]), **kwargs)  # type: ignore[arg-type]
