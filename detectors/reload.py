"""Reload the Sigma rules while the detector runs: build, validate, swap (STYLE habit 11).

SIGHUP asks for a reload, and so, when polling is on, does any change of a rule file (path, size or
modification time, checked at most every `poll_s` seconds). The stage takes the new rules at the start
of a batch (`take`), so no batch ever sees two rule sets. The new rule set is built whole and strict:
if any rule, correlation or tenant setting fails, every problem is logged with its path and rule id
and the running rules stay, so a typo in one file never takes detection down or silently loses rules.
Note that strict means a rule set that loaded only partly at start (strict_rules off) must be fixed
whole before a reload is accepted.

On a swap, the open correlation windows move to the new rules (components with `follow_rules`):
windows of correlations that still exist with the same group-by carry on, the others are dropped and
logged. Heuristics do not depend on the Sigma rules and keep their state as it is.

The build runs on the worker's thread between two batches: the batch waits for the compile (seconds
for thousands of rules, well inside the consumer's poll interval), and there is no second engine
being built beside a running one to reason about.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from detectors.sigma.engine import Engine
from detectors.sigma.loader import RuleSet, rule_files
from detectors.sigma.report import RuleLoadError
from detectors.state import StateStore
from socpipe.logging import get_logger

log = get_logger(__name__)

Fingerprint = tuple[tuple[str, int, int], ...]


@runtime_checkable
class FollowsRules(Protocol):
    """What depends on the rule set: correlation windows, the factory of partition components."""

    def follow_rules(self, ruleset: RuleSet) -> None: ...


def fingerprint(paths: Sequence[Path]) -> Fingerprint | None:
    """(path, mtime, size) of every rule file under `paths` (a missing path counts as such);
    None when a file vanished while looking (a save in progress: look again next time)."""
    out: list[tuple[str, int, int]] = []
    try:
        for path in paths:
            if not path.exists():
                out.append((str(path), -1, -1))
                continue
            for file in rule_files([path]):
                stat = file.stat()
                out.append((str(file), stat.st_mtime_ns, stat.st_size))
    except OSError:
        return None
    return tuple(out)


class RuleReloader:
    """Builds a new engine when asked (SIGHUP, a changed rule file) and hands it over once, if valid."""

    def __init__(
        self,
        build: Callable[[], Engine],
        paths: Callable[[], Sequence[Path]],
        state: StateStore | None = None,
        *,
        poll_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if poll_s is not None and poll_s <= 0:
            raise ValueError(f"rule reload poll interval must be positive seconds, got {poll_s}")
        self._build = build
        self._paths = paths
        self.state = state
        self.poll_s = poll_s
        self._clock = clock
        self._requested = threading.Event()
        self._next_poll = clock() + poll_s if poll_s is not None else float("inf")
        self._seen = fingerprint(paths()) if poll_s is not None else None
        self.reloads = 0  # swaps done
        self.refused = 0  # reloads refused, the running rules kept

    def request(self) -> None:
        """Ask for a reload at the next batch (safe from a signal handler)."""
        self._requested.set()

    def install_sighup(self, *also: Callable[[], None]) -> bool:
        """Reload on SIGHUP, and ask `also` (e.g. the intel feeds' refresh) too: an operator's one
        signal reloads all a worker reads; False where signals cannot be set (not the main thread)."""
        if not hasattr(signal, "SIGHUP") or threading.current_thread() is not threading.main_thread():
            return False

        def on_hup(*_: object) -> None:
            self.request()
            for ask in also:
                ask()

        signal.signal(signal.SIGHUP, on_hup)
        return True

    def take(self) -> Engine | None:
        """The new engine if a reload was asked for and it built cleanly (state moved over); else None."""
        self._poll()
        if not self._requested.is_set():
            return None
        self._requested.clear()
        started = time.perf_counter()
        try:
            engine = self._build()
        except RuleLoadError as exc:
            self._refuse(exc)
            return None
        except Exception as exc:  # a tuning file or pipeline that does not load: keep the running rules
            self.refused += 1
            log.error("rules not reloaded, the running rules stay", error=f"{type(exc).__name__}: {exc}")
            return None
        if self.state is not None:
            holders: list[object] = [self.state.make_components]
            holders += [c for partition in self.state.partitions() for c in partition.components.values()]
            for holder in holders:
                if isinstance(holder, FollowsRules):
                    holder.follow_rules(engine.ruleset)
        self.reloads += 1
        report = engine.ruleset.report
        log.info(
            "rules reloaded",
            rules=report.loaded,
            correlations=report.correlations,
            filters=report.filters,
            seconds=round(time.perf_counter() - started, 3),
        )
        return engine

    def _poll(self) -> None:
        if self.poll_s is None or self._clock() < self._next_poll:
            return
        self._next_poll = self._clock() + self.poll_s
        now = fingerprint(self._paths())
        if now is not None and now != self._seen:
            self._seen = now
            log.info("rule files changed, reloading")
            self.request()

    def _refuse(self, exc: RuleLoadError) -> None:
        self.refused += 1
        for problem in exc.report.failed:
            log.error(
                "rule reload refused",
                path=problem.path,
                rule_id=problem.rule_id,
                title=problem.title,
                kind=problem.kind,
                reason=problem.reason,
            )
        log.error("rules not reloaded, the running rules stay", problems=len(exc.report.failed))
