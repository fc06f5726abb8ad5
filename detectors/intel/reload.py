"""Reload the indicators while the detector runs: build, validate, swap, as detectors/reload.py does for
rules (STYLE habit 11).

Every `refresh_s` seconds (and on `request()`, e.g. from SIGHUP) the feeds are fetched and a whole new
IndicatorMatcher is built beside the running one; the stage takes it at the start of a batch (`take`),
so no batch sees two indicator sets, and the swap is one reference assignment. A build that fails (a
feed that no longer parses, a bad allow-list) is logged and the running indicators stay; a feed that
cannot be fetched keeps its last good copy (detectors.intel.feeds.FeedSet).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from detectors.intel.feeds import FeedError, FeedSet, Loaded
from detectors.intel.matcher import IndicatorMatcher
from socpipe.logging import get_logger

log = get_logger(__name__)


class IntelHolder:
    """The current matcher, and a new one when a refresh was due and built cleanly."""

    def __init__(self, feeds: FeedSet, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.feeds = feeds
        self._clock = clock
        self._requested = threading.Event()
        self.current, self.last = feeds.build()  # at start a feed that fails is an error: FeedError
        refresh = feeds.config.refresh_s
        self._next = clock() + refresh if refresh else float("inf")
        self.reloads = 0
        self.refused = 0
        log.info(
            "intel loaded",
            indicators=len(self.current),
            feeds=summary(self.last),
            seconds=round(self.last.seconds, 3),
        )

    def request(self) -> None:
        """Ask for a refresh at the next batch (safe from a signal handler)."""
        self._requested.set()

    def take(self) -> IndicatorMatcher | None:
        """A freshly built matcher when one was due and valid (it is then `current`); else None."""
        refresh = self.feeds.config.refresh_s
        if refresh and self._clock() >= self._next:
            self._next = self._clock() + refresh
            self._requested.set()
        if not self._requested.is_set():
            return None
        self._requested.clear()
        try:
            matcher, loaded = self.feeds.build()
        except (FeedError, ValueError) as exc:
            self.refused += 1
            log.error("intel not reloaded, the running indicators stay", error=str(exc))
            return None
        self.current, self.last = matcher, loaded
        self.reloads += 1
        log.info(
            "intel reloaded",
            indicators=len(matcher),
            stale=sorted(loaded.stale),
            seconds=round(loaded.seconds, 3),
        )
        return matcher


def summary(loaded: Loaded) -> dict[str, int]:
    return {name: report.loaded for name, report in loaded.reports.items()}
