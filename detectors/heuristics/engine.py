"""HeuristicEngine: every enabled heuristic of an event's tenant, on event time, with JSON-able state.

Pure and synchronous like the Sigma engine: `feed(event, tenant, timestamp)` takes one flat event
and returns the findings. Each tenant gets its own heuristic instances, built from its merged
configuration on first use; their state never mixes with another tenant's. An event with a Windows
event id reaches only the heuristics that read that id (their `event_ids`).

Memory is bounded at two levels: `max_tenants` tenants (the least recently active one's state is
dropped beyond it, and counted in `stats()`), and inside each heuristic `max_keys` entities per
tenant (LRU). Each heuristic's module documents what one key holds.

State follows the input partition (see detectors/state.py): one engine per partition, and per
tenant `snapshot_tenant()` after a batch that touched the tenant, `restore_tenant()` into a fresh
engine on assignment, so a batch costs the state of the tenants it saw, not of the whole partition.
Tenants the `max_tenants` cap drops are listed in `dropped` for the store to forget them too.
`snapshot()`/`restore()` carry every tenant at once (offline scans, tests). A heuristic that raises
is counted in `errors` and logged with its name; the other heuristics still see the event.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from detectors.heuristics import fields, registry
from detectors.heuristics.base import Heuristic
from detectors.heuristics.config import HeuristicsConfig, load_config
from detectors.heuristics.finding import Finding
from detectors.windows import LruMap
from socpipe.logging import get_logger

log = get_logger(__name__)
SNAPSHOT_VERSION = 1
MAX_ROUTES = 4096  # distinct event ids whose heuristic list is cached per tenant


class _Tenant:
    """One tenant's heuristic instances, and which of them each Windows event id reaches."""

    __slots__ = ("heuristics", "routes")

    def __init__(self, heuristics: dict[str, Heuristic[Any]]) -> None:
        self.heuristics = heuristics
        self.routes: dict[int | None, list[tuple[str, Heuristic[Any]]]] = {}

    def route(self, event_id: int | None) -> list[tuple[str, Heuristic[Any]]]:
        chosen = self.routes.get(event_id)
        if chosen is None:
            chosen = [
                (name, h)
                for name, h in self.heuristics.items()
                if event_id is None or h.event_ids is None or event_id in h.event_ids
            ]
            if len(self.routes) < MAX_ROUTES:
                self.routes[event_id] = chosen
        return chosen


class HeuristicEngine:
    def __init__(self, config: HeuristicsConfig | None = None) -> None:
        self.config = config or load_config()
        self.dropped: set[str] = set()  # tenants evicted by max_tenants, until the owner clears it
        self._tenants: LruMap[str, _Tenant] = LruMap(self.config.max_tenants, on_evict=self.dropped.add)
        self.errors: Counter[str] = Counter()  # heuristic name -> exceptions raised
        # Build every configured tenant once now, so a setting that only fails on construction
        # (a heuristic's own checks) stops the start instead of the first event of that tenant.
        self._build(self.config.defaults)
        for tenant in self.config.tenants:
            self._build(self.config.for_tenant(tenant))

    @classmethod
    def from_file(cls, path: str | None = None) -> HeuristicEngine:
        return cls(load_config(path))

    @staticmethod
    def _build(configs: Mapping[str, Any]) -> dict[str, Heuristic[Any]]:
        return {name: registry.get(name)(cfg) for name, cfg in configs.items() if cfg.enabled}

    def _tenant(self, tenant: str) -> _Tenant:
        runtime = self._tenants.get(tenant)
        if runtime is None:
            runtime = _Tenant(self._build(self.config.for_tenant(tenant)))
            self._tenants[tenant] = runtime
        return runtime

    def heuristics(self, tenant: str) -> dict[str, Heuristic[Any]]:
        """The tenant's heuristic instances (with their state), built on first use."""
        return self._tenant(tenant).heuristics

    def route(self, event: Mapping[str, Any], tenant: str) -> list[tuple[str, Heuristic[Any]]]:
        """(name, heuristic) of every enabled heuristic of `tenant` that reads this event's kind."""
        return self._tenant(tenant).route(fields.event_id(event))

    def feed(
        self, event: Mapping[str, Any], tenant: str, timestamp: datetime, *, only: str | None = None
    ) -> list[Finding]:
        """Findings of every enabled heuristic of `tenant` (or of the one named `only`) on one flat
        event at its own `timestamp`."""
        if timestamp.tzinfo is None:
            timestamp = timestamp.replace(tzinfo=UTC)
        findings: list[Finding] = []
        for name, heuristic in self.route(event, tenant):
            if only is not None and name != only:
                continue
            try:
                found = heuristic.feed(event, tenant, timestamp)
            except Exception as exc:  # a broken heuristic is counted and logged, never a silent miss
                self.errors[name] += 1
                log.error("heuristic raised", heuristic=name, tenant=tenant, error=repr(exc))
                continue
            if found:
                findings.extend(found)
        return findings

    def tenants(self) -> list[str]:
        """The tenants whose state is held, least recently active first."""
        return [tenant for tenant, _ in self._tenants.items()]

    def snapshot_tenant(self, tenant: str) -> dict[str, Any] | None:
        """One tenant's state, JSON-able ({"version", "heuristics": {name: state}}); None if not held."""
        runtime = self._tenants.peek(tenant)
        if runtime is None:
            return None
        return {
            "version": SNAPSHOT_VERSION,
            "heuristics": {name: h.snapshot() for name, h in runtime.heuristics.items()},
        }

    def restore_tenant(self, tenant: str, state: Mapping[str, Any]) -> None:
        """Replace one tenant's state with a `snapshot_tenant()`'s, under today's configuration.

        State of a heuristic the tenant no longer runs is dropped (logged); a heuristic with no state
        in the snapshot starts empty.
        """
        _check_version(state)
        runtime = self._build(self.config.for_tenant(tenant))
        for name, part in state.get("heuristics", {}).items():
            if name in runtime:
                runtime[name].restore(part)
            else:
                log.warning(
                    "heuristic state dropped: not enabled for the tenant", heuristic=name, tenant=tenant
                )
        self.dropped.discard(tenant)
        self._tenants[tenant] = _Tenant(runtime)

    def snapshot(self) -> dict[str, Any]:
        """All state as JSON-able data: {"version", "tenants": {tenant: {heuristic: state}}}."""
        return {
            "version": SNAPSHOT_VERSION,
            "tenants": {
                tenant: {name: h.snapshot() for name, h in runtime.heuristics.items()}
                for tenant, runtime in self._tenants.items()
            },
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Load a `snapshot()`: the state of each tenant in it is replaced, other tenants are kept."""
        _check_version(state)
        for tenant, parts in state.get("tenants", {}).items():
            self.restore_tenant(tenant, {"version": SNAPSHOT_VERSION, "heuristics": parts})

    def stats(self) -> dict[str, Any]:
        """State pressure for metrics: keys held and late events per heuristic, tenants dropped, errors."""
        keys: Counter[str] = Counter()
        late: Counter[str] = Counter()
        for _, runtime in self._tenants.items():
            for name, heuristic in runtime.heuristics.items():
                keys[name] += heuristic.keys()
                late[name] += heuristic.late
        return {
            "tenants": len(self._tenants),
            "tenants_evicted": self._tenants.evicted,
            "keys": dict(keys),
            "late_events": dict(late),
            "errors": dict(self.errors),
        }


def _check_version(state: Mapping[str, Any]) -> None:
    version = state.get("version")
    if version != SNAPSHOT_VERSION:
        raise ValueError(f"heuristics snapshot version {version!r}; this engine reads {SNAPSHOT_VERSION}")
