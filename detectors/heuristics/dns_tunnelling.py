"""DNS tunnelling: long, high-entropy subdomains, or an unusual number of distinct ones, under one domain.

State per `host|domain` (the registered domain from the public suffix list, private suffixes included:
`example.co.uk`, `evil.duckdns.org`, so one attacker's dynamic-DNS name is not lumped with every other
customer of that provider, and CDN host names such as `d1x2.cloudfront.net` have no subdomain): the
distinct subdomains queried in the last `window` (at most `volume_threshold` kept, as 12-hex-digit
digests so that a key costs the same however long the names; the last 3 names are kept as examples)
and, apart, the ones that look encoded
(at least `min_length` characters and `min_entropy` bits of Shannon entropy per character). It fires
when `min_encoded` encoded subdomains, or `volume_threshold` distinct ones, were queried in `window`.
Repeating one name adds nothing: tunnels vary their names, caches and CDNs do not.

Reads Sysmon 22 and DNS-Client 3006/3008 (QueryName), ECS dns.question.name and Zeek's `query`.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from publicsuffixlist import PublicSuffixList
from pydantic import Field

from detectors.heuristics import fields
from detectors.heuristics.base import (
    NEVER,
    Heuristic,
    HeuristicConfig,
    dump_time,
    duration_text,
    load_time,
    sample,
)
from detectors.heuristics.finding import Finding
from detectors.heuristics.registry import register
from detectors.windows import DistinctWindow, Duration, LruMap, WindowSpec
from schemas.detection import Entity

_QUERY = ("QueryName", "dns.question.name", "query")


@functools.cache
def _suffixes() -> PublicSuffixList:
    """The list bundled with the package, loaded on first use (0.1 s: not paid by commands that never
    see a DNS query), then about 2 us a lookup."""
    return PublicSuffixList()


def registered_domain(name: str) -> tuple[str, str]:
    """(registered domain, subdomain part): `a.b.example.co.uk` -> (`example.co.uk`, `a.b`).

    A name that is itself a public suffix (or a single label) has no subdomain to encode data in.
    """
    registered = _suffixes().privatesuffix(name)
    if registered is None:
        return name, ""
    return registered, name[: -len(registered)].rstrip(".")


def _digest(sub: str) -> str:
    return hashlib.blake2b(sub.encode(), digest_size=6).hexdigest()


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    if not text:
        return 0.0
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


class DnsTunnellingConfig(HeuristicConfig):
    max_keys: int = Field(default=1000, ge=1, le=1_000_000, description="Host/domain pairs kept per tenant.")
    window: Duration = Field(default=600.0, gt=0)
    min_length: int = Field(
        default=30, ge=8, description="Subdomain length (without dots) that may be encoded."
    )
    min_entropy: float = Field(default=3.5, gt=0, le=8, description="Bits per character that look encoded.")
    min_encoded: int = Field(
        default=5, ge=1, description="Distinct encoded subdomains within `window` that fire."
    )
    volume_threshold: int = Field(
        default=150, ge=2, description="Distinct subdomains within `window` that fire."
    )
    suppress: Duration = Field(default=3600.0, ge=0)


class _Domain:
    __slots__ = ("encoded", "quiet_until", "recent", "subdomains")

    def __init__(self, volume: WindowSpec, encoded: WindowSpec) -> None:
        self.subdomains = DistinctWindow(volume)  # digests of the subdomains
        self.recent: list[str] = []
        self.encoded = DistinctWindow(encoded)
        self.quiet_until = NEVER


@register
class DnsTunnelling(Heuristic[DnsTunnellingConfig]):
    name = "dns_tunnelling"
    config_model = DnsTunnellingConfig
    rule_id = "socpipe-heuristic-dns-tunnelling"
    title = "DNS tunnelling: encoded or unusually many subdomains of one domain"
    tags = ("attack.command_and_control", "attack.t1071.004", "attack.exfiltration", "attack.t1048")
    event_ids = frozenset({22, 3006, 3008})  # Sysmon DNS query; DNS-Client query started / completed

    def __init__(self, config: DnsTunnellingConfig) -> None:
        super().__init__(config)
        self.volume_spec = WindowSpec(config.window, config.lateness, config.volume_threshold)
        self.encoded_spec = WindowSpec(config.window, config.lateness, config.min_encoded * 2)
        self.state: LruMap[str, _Domain] = LruMap(config.max_keys)

    def partition_key(self, event: Mapping[str, Any]) -> str | None:
        """The host: its state is per host and registered domain."""
        query = fields.text(event, _QUERY)
        if not query or "." not in query:
            return None
        return fields.host(event) or fields.ip(fields.text(event, ("source.ip", "id.orig_h"))) or "?"

    def feed(self, event: Mapping[str, Any], tenant: str, timestamp: datetime) -> list[Finding]:
        query = fields.text(event, _QUERY)
        if not query or "." not in query:
            return []
        name = query.strip().rstrip(".").lower()
        domain, sub = registered_domain(name)
        if not sub:
            return []
        host = fields.host(event) or fields.ip(fields.text(event, ("source.ip", "id.orig_h")))
        if self.allow.domains(name) or self.allow.hosts(host):
            return []
        ts = timestamp.timestamp()
        key = f"{host or '?'}|{domain}"
        state = self.state.setdefault(key, lambda: _Domain(self.volume_spec, self.encoded_spec))
        if not state.subdomains.add(_digest(sub), ts):
            self.late += 1
            return []
        state.recent = [*state.recent[-2:], sub]
        letters = sub.replace(".", "")
        config = self.config
        bits = 0.0
        if len(letters) >= config.min_length:
            bits = entropy(letters)
            if bits >= config.min_entropy:
                state.encoded.add(sub, ts)
        encoded, distinct = len(state.encoded), len(state.subdomains)
        if (encoded < config.min_encoded and distinct < config.volume_threshold) or ts < state.quiet_until:
            return []
        state.quiet_until = ts + config.suppress
        window = duration_text(config.window)
        if encoded >= config.min_encoded:
            why = (
                f"{encoded} distinct encoded-looking subdomains (>= {config.min_length} characters, "
                f">= {config.min_entropy} bits/char; threshold {config.min_encoded})"
            )
            examples = state.encoded.values()
            start = state.encoded.first_time()
        else:
            why = f"{distinct} distinct subdomains (threshold {config.volume_threshold})"
            examples = state.recent
            start = state.subdomains.first_time()
        explanation = (
            f"host {host or 'unknown'} queried {why} of {domain} within {window}, "
            f"e.g. {sample([f'{e}.{domain}' for e in examples[-3:]], 3)}."
        )
        return [
            self.finding(
                tenant=tenant,
                key=key,
                entity=Entity(host=fields.host_name(event) or host),
                window_start=start,
                event_time=ts,
                explanation=explanation,
                evidence={
                    "domain": domain,
                    "encoded_subdomains": encoded,
                    "distinct_subdomains": distinct,
                    "min_encoded": config.min_encoded,
                    "volume_threshold": config.volume_threshold,
                    "window_seconds": config.window,
                    "last_query": name,
                    "last_entropy": round(bits or entropy(letters), 3),
                    "examples": examples[-10:],
                },
            )
        ]

    def keys(self) -> int:
        return len(self.state)

    def snapshot(self) -> dict[str, Any]:
        return {
            "keys": [
                [k, s.subdomains.snapshot(), s.encoded.snapshot(), dump_time(s.quiet_until), s.recent]
                for k, s in self.state.items()
            ]
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        self.state = LruMap(self.config.max_keys)
        for key, subdomains, encoded, quiet, recent in state.get("keys", []):
            s = _Domain(self.volume_spec, self.encoded_spec)
            s.subdomains = DistinctWindow.restore(self.volume_spec, subdomains)
            s.recent = list(recent)
            s.encoded = DistinctWindow.restore(self.encoded_spec, encoded)
            s.quiet_until = load_time(quiet)
            self.state[key] = s
