"""Web attack burst: one client sending many requests that carry attack payloads, within a window.

Single requests with a SQL injection or a traversal are what SigmaHQ's web rules flag, one detection
each; an exploitation tool (sqlmap, a fuzzer, a worm) sends dozens in minutes. This heuristic says so
once per client and burst, with the attack families seen (web.ATTACKS) and whether any was answered
2xx (a payload the application may have run). State per client: the times of its attack requests in
the last `window`, the families and sample targets seen, the 2xx count, and until when it is quiet.
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
    escalate,
    load_time,
    sample,
    to_datetime,
)
from detectors.heuristics.finding import Finding
from detectors.heuristics.registry import register
from detectors.heuristics.web import attacks, request
from detectors.windows import Duration, LruMap, TimestampWindow, WindowSpec
from schemas.common import Severity
from schemas.detection import Entity

SAMPLES_KEPT = 10


class WebAttackConfig(HeuristicConfig):
    threshold: int = Field(default=5, ge=1, description="Attack requests from one client within `window`.")
    window: Duration = Field(default=600.0, gt=0)
    suppress: Duration = Field(default=3600.0, ge=0, description="Quiet time per client after a finding.")


class _Client:
    __slots__ = ("families", "hits", "quiet_until", "samples", "succeeded")

    def __init__(self, spec: WindowSpec) -> None:
        self.hits = TimestampWindow(spec)
        self.families: dict[str, int] = {}
        self.samples: list[str] = []
        self.succeeded = 0
        self.quiet_until = NEVER


@register
class WebAttack(Heuristic[WebAttackConfig]):
    name = "web_attack"
    config_model = WebAttackConfig
    rule_id = "socpipe-heuristic-web-attack-burst"
    title = "Web attack burst: one client sending many attack payloads"
    default_level = Severity.high
    tags = ("attack.initial_access", "attack.t1190")
    event_ids = frozenset()  # web requests only: no Windows event reaches it

    def __init__(self, config: WebAttackConfig) -> None:
        super().__init__(config)
        self.spec = WindowSpec(config.window, config.lateness, config.threshold * 4)
        self.state: LruMap[str, _Client] = LruMap(config.max_keys)

    def partition_key(self, event: Mapping[str, Any]) -> str | None:
        """The client address: its state is its own."""
        req = request(event)
        return None if req is None or not attacks(event, req) else req.client

    def feed(self, event: Mapping[str, Any], tenant: str, timestamp: datetime) -> list[Finding]:
        req = request(event)
        if req is None:
            return []
        found = attacks(event, req)
        if not found or self.allow.sources(req.client) or self.allow.hosts(req.host):
            return []
        ts = timestamp.timestamp()
        state = self.state.setdefault(req.client, lambda: _Client(self.spec))
        if not state.hits.add(ts):
            self.late += 1
            return []
        for family in found:
            state.families[family] = state.families.get(family, 0) + 1
        if len(state.samples) < SAMPLES_KEPT:
            state.samples.append(req.target[:200])
        if 200 <= req.status < 300:
            state.succeeded += 1
        window = self.config.window
        count = state.hits.count_between(ts - window, ts)
        if count < self.config.threshold or ts < state.quiet_until:
            return []
        state.quiet_until = ts + self.config.suppress
        start = state.hits.first_since(ts - window)
        families = sorted(state.families, key=lambda f: -state.families[f])
        answered = (
            f"; {state.succeeded} answered 2xx (the application may have run them)" if state.succeeded else ""
        )
        explanation = (
            f"{req.client} sent {count} requests with attack payloads within {duration_text(window)} "
            f"(threshold {self.config.threshold}) to {req.vhost or req.host or 'unknown server'}: "
            f"{sample(families)}{answered}. Examples: {sample(state.samples, 3)}."
        )
        finding = self.finding(
            tenant=tenant,
            key=f"source:{req.client}",
            entity=Entity(host=req.host, source_ip=req.client),
            window_start=start,
            event_time=ts,
            explanation=explanation,
            level=escalate(self.level) if state.succeeded else None,
            evidence={
                "attack_requests": count,
                "threshold": self.config.threshold,
                "window_seconds": window,
                "families": dict(state.families),
                "answered_2xx": state.succeeded,
                "samples": list(state.samples),
                "user_agent": req.agent,
                "first_attack": to_datetime(start).isoformat(),
            },
        )
        state.families, state.samples, state.succeeded = {}, [], 0
        return [finding]

    def keys(self) -> int:
        return len(self.state)

    def snapshot(self) -> dict[str, Any]:
        return {
            "keys": [
                [k, s.hits.snapshot(), s.families, s.samples, s.succeeded, dump_time(s.quiet_until)]
                for k, s in self.state.items()
            ]
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        self.state = LruMap(self.config.max_keys)
        for key, hits, families, samples, succeeded, quiet in state.get("keys", []):
            s = _Client(self.spec)
            s.hits = TimestampWindow.restore(self.spec, hits)
            s.families = {str(f): int(n) for f, n in families.items()}
            s.samples = [str(x) for x in samples]
            s.succeeded = int(succeeded)
            s.quiet_until = load_time(quiet)
            self.state[key] = s
