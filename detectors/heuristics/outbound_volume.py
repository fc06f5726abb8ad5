"""Unusual outbound volume: bytes a host sends in one period far above its own baseline.

State per host: the byte sums of the open periods (`bucket` long, closed once the host's newest event
is `lateness` past their end) and an exponentially weighted mean and variance of its closed periods
(`alpha`; periods without traffic are not part of the baseline). The current period fires, once,
when the baseline has `min_periods` periods and the sum so far is at least `min_bytes`, at least
`ratio` times the mean and more than `sigmas` standard deviations above it.

Reads the bytes the host sent: ECS `source.bytes` (the host as the source of the flow), Zeek's
`orig_bytes`, Suricata's `flow.bytes_toserver`, or the fields named in `bytes_fields`. Traffic to
private, loopback and link-local addresses is left out unless `include_internal` is set.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from pydantic import Field

from detectors.heuristics import fields
from detectors.heuristics.base import Heuristic, HeuristicConfig, duration_text, to_datetime
from detectors.heuristics.finding import Finding
from detectors.heuristics.registry import register
from detectors.windows import Duration, Ewma, LruMap, TumblingSums
from schemas.detection import Entity

_DEST = ("destination.ip", "id.resp_h", "dest_ip", "DestinationIp")
_SOURCE = ("source.ip", "id.orig_h", "src_ip", "SourceIp")


# The organisation's own address space: RFC 1918, shared (CGNAT), loopback, link-local, multicast, ULA.
_INTERNAL = tuple(
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "224.0.0.0/4",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
    )
)


@lru_cache(maxsize=65536)
def _internal(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in _INTERNAL if net.version == ip.version)


class OutboundVolumeConfig(HeuristicConfig):
    bytes_fields: list[str] = Field(
        default_factory=lambda: ["source.bytes", "orig_bytes", "flow.bytes_toserver"]
    )
    bucket: Duration = Field(default=3600.0, gt=0, description="Length of one period.")
    alpha: float = Field(default=0.05, gt=0, le=1, description="Weight of the newest period in the baseline.")
    min_periods: int = Field(default=24, ge=1, description="Closed periods in the baseline before it fires.")
    sigmas: float = Field(default=4.0, ge=0)
    ratio: float = Field(default=3.0, ge=1)
    min_bytes: float = Field(default=100e6, ge=0, description="Bytes per period below which nothing fires.")
    include_internal: bool = False


class _Host:
    __slots__ = ("baseline", "fired", "sums")

    def __init__(self, bucket: float) -> None:
        self.sums = TumblingSums(bucket)
        self.baseline = Ewma()
        self.fired: float | None = None  # start of the period that already fired


@register
class OutboundVolume(Heuristic[OutboundVolumeConfig]):
    name = "outbound_volume"
    config_model = OutboundVolumeConfig
    rule_id = "socpipe-heuristic-outbound-volume"
    title = "Unusual outbound volume: a host sending far above its baseline"
    tags = ("attack.exfiltration", "attack.t1048", "attack.t1041")
    event_ids = frozenset[int]()  # Windows events carry no byte counts: flows only

    def __init__(self, config: OutboundVolumeConfig) -> None:
        super().__init__(config)
        self.bytes_fields = tuple(config.bytes_fields)
        self.state: LruMap[str, _Host] = LruMap(config.max_keys)

    def partition_key(self, event: Mapping[str, Any]) -> str | None:
        """The host: its baseline is its own."""
        sent = fields.number(event, self.bytes_fields)
        if not sent or sent < 0:
            return None
        return fields.host(event) or fields.ip(fields.text(event, _SOURCE))

    def feed(  # noqa: PLR0911  (guard clauses: one return per reason to skip the event)
        self, event: Mapping[str, Any], tenant: str, timestamp: datetime
    ) -> list[Finding]:
        sent = fields.number(event, self.bytes_fields)
        if not sent or sent < 0:
            return []
        dest = fields.ip(fields.text(event, _DEST))
        config = self.config
        if dest and not config.include_internal and _internal(dest):
            return []
        host = fields.host(event) or fields.ip(fields.text(event, _SOURCE))
        if not host or self.allow.hosts(host) or (dest and self.allow.destinations(dest)):
            return []
        ts = timestamp.timestamp()
        state = self.state.setdefault(host, lambda: _Host(config.bucket))
        added = state.sums.add(ts, sent, config.lateness)
        if added is None:
            self.late += 1
            return []
        start, total, closed = added
        for period in closed:
            state.baseline.update(period, config.alpha)
        base = state.baseline
        if base.n < config.min_periods or state.fired == start or total < config.min_bytes:
            return []
        limit = max(base.mean * config.ratio, base.mean + config.sigmas * base.std)
        if total <= limit:
            return []
        state.fired = start
        explanation = (
            f"host {host} sent {total / 1e6:,.1f} MB in the {duration_text(config.bucket)} from "
            f"{to_datetime(start):%Y-%m-%d %H:%M} UTC, against a baseline of {base.mean / 1e6:,.1f} MB "
            f"(std {base.std / 1e6:,.1f} MB over {base.n} periods): "
            f"{total / max(base.mean, 1):,.1f}x the mean, above the limit of {limit / 1e6:,.1f} MB"
            + (f"; last destination {dest}." if dest else ".")
        )
        return [
            self.finding(
                tenant=tenant,
                key=f"host:{host}",
                entity=Entity(host=fields.host_name(event) or host),
                window_start=start,
                event_time=ts,
                explanation=explanation,
                evidence={
                    "bytes": total,
                    "baseline_mean": round(base.mean, 1),
                    "baseline_std": round(base.std, 1),
                    "baseline_periods": base.n,
                    "limit": round(limit, 1),
                    "period_seconds": config.bucket,
                    "last_destination": dest,
                },
            )
        ]

    def keys(self) -> int:
        return len(self.state)

    def snapshot(self) -> dict[str, Any]:
        return {
            "keys": [[k, s.sums.snapshot(), s.baseline.snapshot(), s.fired] for k, s in self.state.items()]
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        self.state = LruMap(self.config.max_keys)
        for key, sums, baseline, fired in state.get("keys", []):
            s = _Host(self.config.bucket)
            s.sums = TumblingSums.restore(self.config.bucket, sums)
            s.baseline = Ewma.restore(baseline)
            s.fired = None if fired is None else float(fired)
            self.state[key] = s
