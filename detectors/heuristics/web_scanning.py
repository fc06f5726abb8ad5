"""Web scanning: one client requesting many distinct paths, mostly refused (4xx), within a window.

What directory brute-forcers and vulnerability scanners (dirb, gobuster, nikto, nuclei) look like in
an access log; a crawler or a user browsing asks for few distinct paths or gets mostly 2xx/3xx.
State per client address: the distinct paths in the last `window` (at most `threshold * 4` kept),
the times of its requests and of its 4xx answers in the window, and until when it is quiet.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import Field

from detectors.heuristics.base import (
    NEVER,
    Heuristic,
    HeuristicConfig,
    dump_time,
    duration_text,
    load_time,
    sample,
    to_datetime,
)
from detectors.heuristics.finding import Finding
from detectors.heuristics.registry import register
from detectors.heuristics.web import request
from detectors.windows import DistinctWindow, Duration, LruMap, TimestampWindow, WindowSpec
from schemas.detection import Entity


class WebScanningConfig(HeuristicConfig):
    threshold: int = Field(
        default=50, ge=2, description="Distinct paths one client requests within `window`."
    )
    window: Duration = Field(default=300.0, gt=0)
    min_error_share: float = Field(
        default=0.6, ge=0, le=1, description="Share of its requests in the window answered 4xx."
    )
    suppress: Duration = Field(default=3600.0, ge=0, description="Quiet time per client after a finding.")


class _Client:
    __slots__ = ("errors", "paths", "quiet_until", "requests")

    def __init__(self, paths: WindowSpec, times: WindowSpec) -> None:
        self.paths = DistinctWindow(paths)
        self.requests = TimestampWindow(times)
        self.errors = TimestampWindow(times)
        self.quiet_until = NEVER


@register
class WebScanning(Heuristic[WebScanningConfig]):
    name = "web_scanning"
    config_model = WebScanningConfig
    rule_id = "socpipe-heuristic-web-scanning"
    title = "Web scanning: one client probing many paths"
    tags = ("attack.reconnaissance", "attack.t1595", "attack.t1595.003")
    event_ids = frozenset()  # web requests only: no Windows event reaches it

    def __init__(self, config: WebScanningConfig) -> None:
        super().__init__(config)
        self.path_spec = WindowSpec(config.window, config.lateness, config.threshold * 4)
        self.time_spec = WindowSpec(config.window, config.lateness, max(config.threshold * 20, 1000))
        self.state: LruMap[str, _Client] = LruMap(config.max_keys)

    def partition_key(self, event: Mapping[str, Any]) -> str | None:
        """The client address: its state is its own."""
        req = request(event)
        return None if req is None else req.client

    def feed(self, event: Mapping[str, Any], tenant: str, timestamp: datetime) -> list[Finding]:
        req = request(event)
        if req is None or self.allow.sources(req.client) or self.allow.hosts(req.host):
            return []
        ts = timestamp.timestamp()
        state = self.state.setdefault(req.client, lambda: _Client(self.path_spec, self.time_spec))
        if not state.requests.add(ts):
            self.late += 1
            return []
        state.paths.add(req.path, ts)
        if 400 <= req.status < 500:
            state.errors.add(ts)
        distinct = len(state.paths)
        if distinct < self.config.threshold or ts < state.quiet_until:
            return []
        window = self.config.window
        total = state.requests.count_between(ts - window, ts)
        errors = state.errors.count_between(ts - window, ts)
        share = errors / total if total else 0.0
        if share < self.config.min_error_share:
            return []
        state.quiet_until = ts + self.config.suppress
        start = state.paths.first_time()
        paths = list(reversed(state.paths.values()))
        explanation = (
            f"{req.client} requested {distinct} distinct paths within {duration_text(window)} "
            f"(threshold {self.config.threshold}), {errors} of {total} requests answered 4xx "
            f"({share:.0%}, at least {self.config.min_error_share:.0%} fires), "
            f"on {req.vhost or req.host or 'unknown server'}: {sample(paths)}."
        )
        return [
            self.finding(
                tenant=tenant,
                key=f"source:{req.client}",
                entity=Entity(host=req.host, source_ip=req.client),
                window_start=start,
                event_time=ts,
                explanation=explanation,
                evidence={
                    "distinct_paths": distinct,
                    "threshold": self.config.threshold,
                    "requests": total,
                    "client_errors": errors,
                    "error_share": round(share, 3),
                    "window_seconds": window,
                    "paths": paths[:50],
                    "user_agent": req.agent,
                    "first_request": to_datetime(start).isoformat(),
                },
            )
        ]

    def keys(self) -> int:
        return len(self.state)

    def snapshot(self) -> dict[str, Any]:
        return {
            "keys": [
                [k, s.paths.snapshot(), s.requests.snapshot(), s.errors.snapshot(), dump_time(s.quiet_until)]
                for k, s in self.state.items()
            ]
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        self.state = LruMap(self.config.max_keys)
        for key, paths, requests, errors, quiet in state.get("keys", []):
            s = _Client(self.path_spec, self.time_spec)
            s.paths = DistinctWindow.restore(self.path_spec, paths)
            s.requests = TimestampWindow.restore(self.time_spec, requests)
            s.errors = TimestampWindow.restore(self.time_spec, errors)
            s.quiet_until = load_time(quiet)
            self.state[key] = s
