"""Reload the indicators while the detector runs: build, validate, swap, as detectors/reload.py does for
rules (STYLE habit 11).

Every `refresh_s` seconds (and on `request()`, e.g. from SIGHUP) the feeds are fetched (only what
changed is read: detectors.intel.feeds) and a whole new IndicatorMatcher is built beside the running
one; the stage takes it at the start of a batch (`take`), so no batch sees two indicator sets, and the
swap is one reference assignment. A build that fails (a feed that no longer parses, a bad allow-list)
is logged and the running indicators stay; a feed that cannot be fetched keeps its last good copy
(detectors.intel.feeds.FeedSet). When no feed changed there is nothing to swap.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from detectors.intel.feeds import FeedError, FeedSet, Loaded
from detectors.intel.matcher import IndicatorMatcher
from socpipe.logging import get_logger

log = get_logger(__name__)

RETRY_MISSING_S = 60.0  # how soon a feed that has never loaded is tried again


class IntelHolder:
    """The current matcher, and a new one when a refresh was due and built cleanly."""

    def __init__(self, feeds: FeedSet, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.feeds = feeds
        self._clock = clock
        self._requested = threading.Event()
        self.current, self.last = feeds.build()  # at start a feed file that fails is an error: FeedError
        self._next = clock() + self._wait(self.last)
        self.reloads = 0
        self.refused = 0
        log.info(
            "intel loaded",
            indicators=len(self.current),
            feeds=summary(self.last),
            missing=sorted(self.last.missing),
            seconds=round(self.last.seconds, 3),
        )

    def _wait(self, loaded: Loaded) -> float:
        """Seconds to the next refresh: the schedule's, sooner while a feed has no indicators at all
        (its server was away at start), so that it loads soon after the server is back."""
        refresh = self.feeds.config.refresh_s or float("inf")
        return min(refresh, RETRY_MISSING_S) if loaded.missing else refresh

    def request(self) -> None:
        """Ask for a refresh at the next batch (safe from a signal handler)."""
        self._requested.set()

    def take(self) -> IndicatorMatcher | None:
        """A freshly built matcher when one was due and valid (it is then `current`); else None."""
        if self._clock() >= self._next:
            self._next = self._clock() + self._wait(self.last)
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
        unchanged = matcher is self.current  # every feed as it was: nothing to swap
        self.current, self.last = matcher, loaded
        self._next = self._clock() + self._wait(loaded)
        if unchanged:
            log.info("intel unchanged", feeds=len(loaded.unchanged), seconds=round(loaded.seconds, 3))
            return None
        self.reloads += 1
        log.info(
            "intel reloaded",
            indicators=len(matcher),
            stale=sorted(loaded.stale),
            missing=sorted(loaded.missing),
            unchanged=sorted(loaded.unchanged),
            seconds=round(loaded.seconds, 3),
        )
        return matcher


def summary(loaded: Loaded) -> dict[str, int]:
    return {name: report.loaded for name, report in loaded.reports.items()}
