"""Beaconing: one host connecting to one destination at regular intervals (low jitter).

State per `host|destination:port`: the connection times of the last `window` (at most
`max_samples`; connections closer than `merge_within` count as one). Once there are
`min_connections`, the intervals between them are checked: their median must lie within
[`min_interval`, `max_interval`] and their jitter, the median absolute deviation over the median
(robust to a missed beacon), must be at most `max_jitter`.

Reads Sysmon 3 (initiated connections), Security 5156 (outbound Windows Filtering Platform
connections) and ECS/Zeek connection events (source.ip or host.name to destination.ip:port).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from datetime import datetime
from itertools import pairwise
from statistics import median
from typing import Any

from pydantic import Field, model_validator

from detectors.heuristics import fields
from detectors.heuristics.base import (
    NEVER,
    Heuristic,
    HeuristicConfig,
    dump_time,
    duration_text,
    load_time,
    to_datetime,
)
from detectors.heuristics.finding import Finding
from detectors.heuristics.registry import register
from detectors.windows import Duration, LruMap, TimestampWindow, WindowSpec
from schemas.detection import Entity

_OUTBOUND_5156 = frozenset({"%%14593", "outbound"})


class BeaconingConfig(HeuristicConfig):
    max_keys: int = Field(
        default=2000, ge=1, le=1_000_000, description="Host/destination pairs kept per tenant."
    )
    min_connections: int = Field(
        default=10, ge=4, description="Connections needed before the intervals count."
    )
    max_samples: int = Field(default=48, ge=4, description="Connection times kept per pair (the newest).")
    window: Duration = Field(default=12 * 3600.0, gt=0, description="How far back connection times are kept.")
    max_jitter: float = Field(
        default=0.1, gt=0, le=1, description="Largest median absolute deviation / median."
    )
    min_interval: Duration = Field(default=10.0, gt=0)
    max_interval: Duration = Field(default=3600.0, gt=0)
    merge_within: Duration = Field(default=2.0, ge=0, description="Connections this close count as one.")
    suppress: Duration = Field(default=12 * 3600.0, ge=0, description="Quiet time per pair after a finding.")

    @model_validator(mode="after")
    def _consistent(self) -> BeaconingConfig:
        if self.max_samples < self.min_connections:
            raise ValueError("max_samples must be at least min_connections")
        if self.max_interval <= self.min_interval:
            raise ValueError("max_interval must be above min_interval")
        return self


def connection(event: Mapping[str, Any]) -> tuple[str, str, str, str | None] | None:
    """(host, destination address, destination port, process) of an outbound connection, or None."""
    eid = fields.event_id(event)
    if eid == 3 and "DestinationIp" in event:
        initiated = event.get("Initiated")
        if initiated not in (True, "true", "True"):
            return None
        dest, port, process = event.get("DestinationIp"), event.get("DestinationPort"), event.get("Image")
    elif eid == 5156 and "DestAddress" in event:
        if str(event.get("Direction", "")).lower() not in _OUTBOUND_5156:
            return None
        dest, port, process = event.get("DestAddress"), event.get("DestPort"), event.get("Application")
    elif "destination.ip" in event and eid is None:
        dest, port, process = (
            event.get("destination.ip"),
            event.get("destination.port"),
            event.get("process.name"),
        )
    else:
        return None
    host = fields.host(event) or fields.ip(fields.text(event, ("source.ip", "SourceIp", "SourceAddress")))
    dest = fields.ip(str(dest)) if dest else None
    if not host or not dest or _ignored(dest):
        return None
    return host, dest, str(port or ""), str(process) if process else None


def _ignored(dest: str) -> bool:
    """Loopback, link-local, multicast and broadcast destinations never beacon out."""
    if dest.startswith(("127.", "169.254.", "ff", "fe80:")) or dest in (
        "::1",
        "255.255.255.255",
        "0.0.0.0",
        "::",
    ):
        return True
    head = dest.split(".", 1)[0]
    return head.isdigit() and 224 <= int(head) <= 239


class _Pair:
    __slots__ = ("process", "quiet_until", "times")

    def __init__(self, spec: WindowSpec) -> None:
        self.times = TimestampWindow(spec)
        self.quiet_until = NEVER
        self.process: str | None = None


@register
class Beaconing(Heuristic[BeaconingConfig]):
    name = "beaconing"
    config_model = BeaconingConfig
    rule_id = "socpipe-heuristic-beaconing"
    title = "Beaconing: connections at regular intervals"
    tags = ("attack.command_and_control", "attack.t1071", "attack.t1573")
    event_ids = frozenset({3, 5156})

    def __init__(self, config: BeaconingConfig) -> None:
        super().__init__(config)
        self.spec = WindowSpec(config.window, config.lateness, config.max_samples)
        self.state: LruMap[str, _Pair] = LruMap(config.max_keys)

    def partition_key(self, event: Mapping[str, Any]) -> str | None:
        """The host: its state is per host and destination."""
        found = connection(event)
        return None if found is None else found[0]

    def feed(  # noqa: PLR0911  (guard clauses: one return per reason to skip the event)
        self, event: Mapping[str, Any], tenant: str, timestamp: datetime
    ) -> list[Finding]:
        found = connection(event)
        if found is None:
            return []
        host, dest, port, process = found
        allow = self.allow
        if allow.destinations(dest) or allow.destinations(f"{dest}:{port}") or allow.hosts(host):
            return []
        if process and allow.processes(fields.basename(process)):
            return []
        ts = timestamp.timestamp()
        key = f"{host}|{dest}:{port}"
        pair = self.state.setdefault(key, lambda: _Pair(self.spec))
        times = pair.times.times
        i = bisect_left(times, ts)
        merge = self.config.merge_within
        if (i < len(times) and times[i] - ts <= merge) or (i > 0 and ts - times[i - 1] <= merge):
            return []
        if not pair.times.add(ts):
            self.late += 1
            return []
        pair.process = process or pair.process
        if len(times) < self.config.min_connections or ts < pair.quiet_until:
            return []
        return self._check(pair, key, (fields.host_name(event) or host, dest, port), tenant, ts)

    def _check(
        self, pair: _Pair, key: str, where: tuple[str, str, str], tenant: str, ts: float
    ) -> list[Finding]:
        host, dest, port = where
        times = pair.times.times
        gaps = [b - a for a, b in pairwise(times)]
        period = median(gaps)
        config = self.config
        if not config.min_interval <= period <= config.max_interval:
            return []
        jitter = median(abs(g - period) for g in gaps) / period
        if jitter > config.max_jitter:
            return []
        pair.quiet_until = ts + config.suppress
        spread = (min(gaps), max(gaps))
        target = f"{dest}:{port}" if port else dest
        explanation = (
            f"host {host} connected to {target} {len(times)} times over "
            f"{duration_text(times[-1] - times[0])}, every {duration_text(period)} (median) "
            f"with jitter {jitter:.1%} (limit {config.max_jitter:.0%}); "
            f"intervals from {spread[0]:.0f}s to {spread[1]:.0f}s"
            + (f", process {pair.process}." if pair.process else ".")
        )
        return [
            self.finding(
                tenant=tenant,
                key=key,
                entity=Entity(host=host),
                window_start=times[0],
                event_time=ts,
                explanation=explanation,
                evidence={
                    "destination": dest,
                    "port": port,
                    "connections": len(times),
                    "median_interval_seconds": period,
                    "jitter": round(jitter, 4),
                    "max_jitter": config.max_jitter,
                    "min_gap_seconds": spread[0],
                    "max_gap_seconds": spread[1],
                    "process": pair.process,
                    "first": to_datetime(times[0]).isoformat(),
                    "last": to_datetime(times[-1]).isoformat(),
                },
            )
        ]

    def keys(self) -> int:
        return len(self.state)

    def snapshot(self) -> dict[str, Any]:
        return {
            "keys": [
                [k, p.times.snapshot(), p.process, dump_time(p.quiet_until)] for k, p in self.state.items()
            ]
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        self.state = LruMap(self.config.max_keys)
        for key, times, process, quiet in state.get("keys", []):
            pair = _Pair(self.spec)
            pair.times = TimestampWindow.restore(self.spec, times)
            pair.process = process
            pair.quiet_until = load_time(quiet)
            self.state[key] = pair
