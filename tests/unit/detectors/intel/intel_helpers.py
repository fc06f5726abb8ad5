"""Shared set-up of the intel unit tests: the sample feeds and a matcher over them."""

from __future__ import annotations

from pathlib import Path

from detectors.intel.config import FeedConfig, IntelConfig
from detectors.intel.feeds import FeedSet
from detectors.intel.matcher import IndicatorMatcher
from detectors.intel.model import Tlp

DATA = Path(__file__).resolve().parents[3] / "data" / "intel"
SAMPLES = ("bundle.json", "misp_event.json", "list.csv", "list.txt")
NOW = 1_765_000_000.0  # 2025-12-06: after the expired samples' valid_until


def feed(name: str, **extra: object) -> FeedConfig:
    return FeedConfig.model_validate({"name": name, "path": DATA / name, "tlp": Tlp.amber, **extra})


def sample_matcher(*, live: bool = False, **config: object) -> IndicatorMatcher:
    """The four sample feeds; as of NOW, or with `live` as of the wall clock."""
    feeds = IntelConfig.model_validate({"feeds": [feed(n) for n in SAMPLES], **config})
    matcher, _ = FeedSet(feeds).build(now=None if live else NOW)
    if not live:
        matcher.clock = lambda: NOW
    return matcher
