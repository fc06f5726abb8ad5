"""Allow-lists: values a tenant declares benign, so a heuristic does not count or report them.

Written per category in `rules/heuristics.yaml`, at the top of `defaults` or of a tenant (for every
heuristic) or inside one heuristic's section; the lists add up. Matching is case-insensitive;
a pattern is an exact value, a glob (`svc_*`, `*>conhost.exe`), for addresses also a CIDR block
(`10.0.0.0/8`), and for domains also a parent domain (`example.com` allows `a.example.com`).
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, field_validator

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class AllowConfig(BaseModel):
    """The allow-list categories; each heuristic says which ones it reads."""

    model_config = ConfigDict(extra="forbid")

    hosts: list[str] = Field(default_factory=list, description="Host names (Computer, host.name).")
    users: list[str] = Field(default_factory=list, description="Account names.")
    sources: list[str] = Field(default_factory=list, description="Source addresses or CIDR blocks.")
    destinations: list[str] = Field(
        default_factory=list, description="Destination addresses, CIDR blocks, or `address:port` / `*:port`."
    )
    domains: list[str] = Field(default_factory=list, description="DNS domains, with their subdomains.")
    processes: list[str] = Field(
        default_factory=list, description="Process names, or `parent>child` pairs of names, globs allowed."
    )
    services: list[str] = Field(default_factory=list, description="Service names.")

    @field_validator("sources", "destinations")
    @classmethod
    def _cidr_blocks_parse(cls, values: list[str]) -> list[str]:
        for value in values:
            if "/" in value:
                try:
                    ipaddress.ip_network(value.strip(), strict=False)
                except ValueError:
                    raise ValueError(f"{value!r} is not a CIDR block like 10.0.0.0/8") from None
        return values


@lru_cache(maxsize=65536)
def _as_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


class Matcher:
    """One allow-list category compiled once: exact values in a set, globs in one regex, CIDR blocks."""

    __slots__ = ("exact", "networks", "regex", "suffixes")

    def __init__(self, patterns: list[str], *, networks: bool = False, domains: bool = False) -> None:
        self.exact: frozenset[str] = frozenset()
        self.networks: tuple[IpNetwork, ...] = ()
        self.suffixes: tuple[str, ...] = ()
        exact: set[str] = set()
        globs: list[str] = []
        nets: list[IpNetwork] = []
        for raw in patterns:
            pattern = raw.strip().lower()
            if networks and "/" in pattern:
                nets.append(ipaddress.ip_network(pattern, strict=False))
            elif any(c in pattern for c in "*?["):
                globs.append(fnmatch.translate(pattern))
            else:
                exact.add(pattern)
        self.exact = frozenset(exact)
        self.networks = tuple(nets)
        self.regex = re.compile("|".join(globs)) if globs else None
        self.suffixes = tuple("." + d.lstrip(".") for d in exact) if domains else ()

    def __bool__(self) -> bool:
        return bool(self.exact or self.networks or self.regex)

    def __call__(self, value: str | None) -> bool:
        if not value:
            return False
        value = value.lower()
        if value in self.exact:
            return True
        if self.regex is not None and self.regex.match(value):
            return True
        if self.suffixes and value.endswith(self.suffixes):
            return True
        if self.networks:
            address = _as_ip(value.rsplit(":", 1)[0] if value.count(":") == 1 else value)
            if address is not None and any(address in net for net in self.networks):
                return True
        return False


class AllowList:
    """The compiled allow-lists of one heuristic for one tenant."""

    def __init__(self, config: AllowConfig) -> None:
        self.hosts = Matcher(config.hosts)
        self.users = Matcher(config.users)
        self.sources = Matcher(config.sources, networks=True)
        self.destinations = Matcher(config.destinations, networks=True)
        self.domains = Matcher(config.domains, domains=True)
        self.processes = Matcher(config.processes)
        self.services = Matcher(config.services)
