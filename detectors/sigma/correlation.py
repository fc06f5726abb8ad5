"""Sigma correlation rules over streaming, event-time windows keyed by tenant + rule + group.

`feed(match, event, tenant, timestamp)` adds a base-rule match to the windows of every
correlation that references its rule and returns the correlations that fire. Semantics:

- a window is any interval of length `timespan` (event time); entries are kept sorted, so events
  arriving out of order land where they belong;
- growth conditions (gt, gte) are checked as soon as a match arrives, on every window that
  contains it; shrink and equality conditions (lt, lte, eq, neq) are checked when a window closes,
  i.e. once the tenant's watermark (highest event time seen) passed its end plus the lateness. Those
  windows tumble: one opens at the group's first entry, is decided once, and its entries are consumed,
  so the tail of a burst is never taken for a quiet window of its own;
- a match older than watermark - timespan - allowed_lateness is late: counted, dropped;
- after firing, the window's entries are consumed, so one burst gives one correlation match.

Types: event_count, value_count, temporal (distinct referenced rules, or an extended boolean
condition over them), temporal_ordered, value_sum, value_avg, value_median, value_percentile.
State is plain pydantic, see correlation_state.py, and kept per tenant: the detector persists it
one tenant at a time (`snapshot_tenant()` / `restore_tenant()`), since a batch touches few tenants;
`snapshot()` / `restore()` carry every tenant at once. Restored windows of a correlation that is
gone, or whose group-by changed, are dropped (logged): they can never close or fire correctly.
"""

from __future__ import annotations

import bisect
import uuid
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from detectors.sigma.conditions import MISSING, getter
from detectors.sigma.correlation_rules import GROWTH, OPS, CorrelationSpec, aggregate, compile_correlation
from detectors.sigma.correlation_state import (
    STATE_VERSION,
    CorrelationMatch,
    CorrelationState,
    GroupState,
    WindowEntry,
)
from detectors.sigma.loader import RuleSet
from detectors.sigma.model import DETECTION_NS, Match
from detectors.sigma.modifiers import parse_timestamp
from detectors.sigma.report import RuleProblem
from schemas.detection import MAX_RELATED_EVENTS
from socpipe.logging import get_logger

if TYPE_CHECKING:  # pySigma is imported only where correlations are parsed
    from sigma.correlations import SigmaCorrelationRule

log = get_logger(__name__)

SWEEP_EVERY = 1.0  # seconds of event time between sweeps of a tenant's groups


def _refuse(ruleset: RuleSet, corr: SigmaCorrelationRule, reason: str) -> None:
    ruleset.report.failed.append(
        RuleProblem(
            path=str(corr.source.path) if corr.source and corr.source.path else None,
            rule_id=str(corr.id) if corr.id else None,
            title=corr.title,
            reason=reason,
            kind="correlation",
        )
    )


def _unrunnable_chains(specs: Mapping[str, CorrelationSpec]) -> dict[str, str]:
    """Correlations that can never be fed: they reference a correlation that did not load (itself
    perhaps for this reason), or they are on a cycle of references."""
    refused: dict[str, str] = {}
    changed = True
    while changed:
        changed = False
        for key, spec in specs.items():
            missing = [k for k in spec.chained if k not in specs or k in refused]
            if key not in refused and missing:
                refused[key] = f"references correlation {missing[0]!r}, which did not load"
                changed = True

    def on_cycle(start: str) -> bool:
        seen, stack = set(), list(specs[start].chained)
        while stack:
            key = stack.pop()
            if key == start:
                return True
            if key in specs and key not in seen:
                seen.add(key)
                stack += specs[key].chained
        return False

    for key in specs:
        if key not in refused and on_cycle(key):
            refused[key] = "chained correlations reference each other in a cycle"
    return refused


class CorrelationEngine:
    """Streaming correlation over base-rule matches; state survives restarts via snapshot/restore."""

    def __init__(self, ruleset: RuleSet, *, allowed_lateness: float = 0.0) -> None:
        self.lateness = allowed_lateness
        self.pipeline = ruleset.pipeline
        compiled: dict[str, CorrelationSpec] = {}
        sources: dict[str, SigmaCorrelationRule] = {}
        for corr in ruleset.correlations:
            try:
                c = compile_correlation(corr)
            except ValueError as exc:
                _refuse(ruleset, corr, str(exc))
                continue
            compiled[c.id], sources[c.id] = c, corr
        for key, reason in _unrunnable_chains(compiled).items():
            _refuse(ruleset, sources[key], reason)
            del compiled[key]
        # Like base rules (loader._silence_referenced): quiet only when no reference says `generate: true`.
        loud = {key for c in compiled.values() if c.generate for key in c.chained}
        for c in compiled.values():
            for key in c.chained:
                compiled[key].output = key in loud
        self._corrs = compiled
        self._by_rule: dict[str, list[CorrelationSpec]] = {}
        for c in compiled.values():
            for key in c.refs:
                self._by_rule.setdefault(key, []).append(c)
        self._groups: dict[str, dict[str, GroupState]] = {}  # tenant ("" for none) -> key -> window
        self._watermarks: dict[str, float] = {}
        self._changed: set[tuple[str, str]] = set()  # (tenant, group key)
        self._swept: dict[str, float] = {}
        self.late_dropped = 0

    @property
    def rules(self) -> list[str]:
        return list(self._corrs)

    def feed(
        self, match: Match, event: Mapping[str, Any], tenant: str | None, timestamp: datetime | float | str
    ) -> list[CorrelationMatch]:
        """Add one base-rule match; return the correlations it (or the windows it closes) fire."""
        ts = self._seconds(timestamp)
        out: list[CorrelationMatch] = []
        horizon = max(self._watermarks.get(tenant or "", ts), ts) - self.lateness
        for corr, rule_key, group, value in self.contributions(match, event):
            out += self._add_unless_late(corr, rule_key, match.event_ref, group, value, tenant, ts, horizon)
        return self._advanced(out, tenant, ts)

    def contributions(
        self, match: Match, event: Mapping[str, Any]
    ) -> list[tuple[CorrelationSpec, str, dict[str, Any], Any]]:
        """(correlation, rule key, group-by values, aggregated value) for each correlation the match feeds.

        What a stateless detector computes from the event so that only these values travel to the
        stateful stage (`feed_values`), which then holds the windows.
        """
        corrs = self._by_rule.get(match.rule.id) or self._by_rule.get(match.rule.name or "")
        if not corrs:
            return []
        rule_key = match.rule.id if match.rule.id in self._by_rule else (match.rule.name or "")
        return [(corr, rule_key, *self._values(corr, rule_key, event)) for corr in corrs]

    def feed_values(  # noqa: PLR0917  (one argument per value a contribution carries)
        self,
        correlation: str,
        rule_key: str,
        ref: str,
        group: dict[str, Any],
        value: Any,
        tenant: str | None,
        timestamp: datetime | float | str,
    ) -> list[CorrelationMatch]:
        """`feed` for one correlation, from the values `contributions` computed; an unknown
        correlation (gone in a rule reload) only moves the watermark."""
        ts = self._seconds(timestamp)
        out: list[CorrelationMatch] = []
        corr = self._corrs.get(correlation)
        if corr is not None:
            horizon = max(self._watermarks.get(tenant or "", ts), ts) - self.lateness
            out += self._add_unless_late(corr, rule_key, ref, group, value, tenant, ts, horizon)
        return self._advanced(out, tenant, ts)

    def _add_unless_late(  # noqa: PLR0917
        self,
        corr: CorrelationSpec,
        rule_key: str,
        ref: str,
        group: dict[str, Any],
        value: Any,
        tenant: str | None,
        ts: float,
        horizon: float,
    ) -> list[CorrelationMatch]:
        if ts < horizon - corr.span:
            self.late_dropped += 1
            return []
        return self._add(corr, rule_key=rule_key, ref=ref, group=group, value=value, tenant=tenant, ts=ts)

    def _advanced(
        self, fired: list[CorrelationMatch], tenant: str | None, ts: float
    ) -> list[CorrelationMatch]:
        tkey = tenant or ""
        self._watermarks[tkey] = max(self._watermarks.get(tkey, ts), ts)
        fired += self._close(tenant)
        return self._chain(fired, tenant)

    def _values(
        self, corr: CorrelationSpec, rule_key: str, event: Mapping[str, Any]
    ) -> tuple[dict[str, Any], Any]:
        group = {g: self._field(event, corr.aliases.get(g, {}).get(rule_key, g)) for g in corr.group_by}
        value = None
        if corr.field:
            value = self._field(event, corr.aliases.get(corr.field, {}).get(rule_key, corr.field))
        return group, value

    def families(self) -> dict[str, str]:
        """Correlation id -> the id naming its chain (the smallest id among the correlations chained
        with it), for correlations that chain; a chain's windows must live together."""
        links: dict[str, set[str]] = {key: set() for key in self._corrs}
        for key, corr in self._corrs.items():
            for other in corr.chained:
                if other in links:
                    links[key].add(other)
                    links[other].add(key)
        out: dict[str, str] = {}
        for start, neighbours in links.items():
            if start in out or not neighbours:
                continue
            seen, stack = {start}, [start]
            while stack:
                for nxt in links[stack.pop()] - seen:
                    seen.add(nxt)
                    stack.append(nxt)
            out.update(dict.fromkeys(seen, min(seen)))
        return out

    def advance(
        self, tenant: str | None, now: datetime | float | str | None = None
    ) -> list[CorrelationMatch]:
        """Close windows the tenant's watermark has passed; evict entries no window can use.

        `now` moves the watermark (e.g. to the time of any event of the tenant, matched or not,
        or to the wall clock when the stream is idle) so that lt/lte/eq/neq windows close.
        """
        return self._chain(self._close(tenant, now), tenant)

    def _close(self, tenant: str | None, now: datetime | float | str | None = None) -> list[CorrelationMatch]:
        tkey = tenant or ""
        if now is not None:
            t = self._seconds(now)
            self._watermarks[tkey] = max(self._watermarks.get(tkey, t), t)
        watermark = self._watermarks.get(tkey)
        if watermark is None or watermark - self._swept.get(tkey, float("-inf")) < SWEEP_EVERY:
            return []
        self._swept[tkey] = watermark
        out: list[CorrelationMatch] = []
        groups = self._groups.get(tkey, {})
        for key, group in list(groups.items()):
            corr = self._corrs[group.correlation]  # restore admits only groups of known correlations
            closed = watermark - self.lateness - corr.span
            while group.entries and group.entries[0].ts < closed:
                if corr.op not in GROWTH:
                    # Decided once per window, then consumed whether it fired or not: the window of a
                    # burst's last events must not pass for a quiet period of its own.
                    window = [e for e in group.entries if e.ts <= group.entries[0].ts + corr.span]
                    fired = self._check(corr, group, window)
                    if fired is not None:
                        out.append(fired)
                    self._consume(group, window)
                    continue
                group.entries.pop(0)
                self._changed.add((tkey, key))
            if not group.entries:
                del groups[key]
        if not groups:
            self._groups.pop(tkey, None)
        return out

    def _add(
        self,
        corr: CorrelationSpec,
        *,
        rule_key: str,
        ref: str,
        group: dict[str, Any],
        value: Any,
        tenant: str | None,
        ts: float,
    ) -> list[CorrelationMatch]:
        key = (
            f"{tenant or ''}|{corr.id}|"
            + orjson.dumps(group, default=str, option=orjson.OPT_SORT_KEYS).decode()
        )
        groups = self._groups.setdefault(tenant or "", {})
        state = groups.get(key)
        if state is None:
            state = groups[key] = GroupState(key=key, tenant=tenant, correlation=corr.id, group=group)
        entry = WindowEntry(ts=ts, rule=rule_key, ref=ref, value=value)
        bisect.insort(state.entries, entry, key=lambda e: (e.ts, e.ref))
        self._changed.add((tenant or "", key))
        if corr.op not in GROWTH:
            return []
        for start in [e.ts for e in state.entries if ts - corr.span <= e.ts <= ts]:
            window = [e for e in state.entries if start <= e.ts <= start + corr.span]
            fired = self._check(corr, state, window)
            if fired is not None:
                self._consume(state, window)
                return [fired]
        return []

    def _chain(self, fired: list[CorrelationMatch], tenant: str | None) -> list[CorrelationMatch]:
        """Feed correlation matches to the correlations that reference them (Sigma's chaining), at the
        time their window ended, with their group-by values as the event; their matches in turn too."""
        out: list[CorrelationMatch] = []
        pending = list(fired)
        while pending:
            match = pending.pop(0)
            out.append(match)
            for corr in self._by_rule.get(match.correlation_id, ()):
                group, value = self._values(corr, match.correlation_id, match.group)
                pending += self._add(
                    corr,
                    rule_key=match.correlation_id,
                    ref=match.id,
                    group=group,
                    value=value,
                    tenant=tenant,
                    ts=match.window_end,
                )
        return out

    def _field(self, event: Mapping[str, Any], name: str) -> Any:
        v = getter(self.pipeline.field_names(name))(event)
        return None if v is MISSING else v

    def _check(
        self, corr: CorrelationSpec, state: GroupState, window: list[WindowEntry]
    ) -> CorrelationMatch | None:
        value = aggregate(corr, window)
        if value is None or not OPS[corr.op](value, corr.count):
            return None
        refs = sorted(e.ref for e in window)
        digest = orjson.dumps(
            [corr.id, state.tenant, state.group, refs], default=str, option=orjson.OPT_SORT_KEYS
        )
        return CorrelationMatch(
            id=str(uuid.uuid5(DETECTION_NS, digest.decode())),
            correlation_id=corr.id,
            title=corr.title,
            level=corr.level,
            type=corr.type,
            tenant=state.tenant,
            group=state.group,
            window_start=window[0].ts,
            window_end=window[-1].ts,
            value=value,
            rules=sorted({e.rule for e in window}),
            event_refs=refs,
            first_refs=[e.ref for e in window[:MAX_RELATED_EVENTS]],
            tags=corr.tags,
            author=corr.author,
            output=corr.output,
        )

    def _consume(self, state: GroupState, window: list[WindowEntry]) -> None:
        used = {id(e) for e in window}
        state.entries = [e for e in state.entries if id(e) not in used]
        self._changed.add((state.tenant or "", state.key))

    @staticmethod
    def _seconds(ts: datetime | float | str) -> float:
        dt = parse_timestamp(ts)
        if dt is None:
            raise ValueError(f"unreadable timestamp {ts!r}")
        return dt.timestamp()

    def tenants(self) -> list[str]:
        """Tenants ("" for none) the engine holds windows or a watermark for."""
        return sorted(self._groups.keys() | self._watermarks.keys())

    def snapshot_tenant(self, tenant: str | None) -> dict[str, Any] | None:
        """One tenant's state as JSON-able data (a CorrelationState); None if the engine never saw it."""
        tkey = tenant or ""
        if tkey not in self._watermarks and tkey not in self._groups:
            return None
        watermarks = {tkey: self._watermarks[tkey]} if tkey in self._watermarks else {}
        groups = list(self._groups.get(tkey, {}).values())
        return CorrelationState(watermarks=watermarks, groups=groups).model_dump(mode="json")

    def restore_tenant(self, tenant: str | None, state: Mapping[str, Any]) -> None:
        """Replace one tenant's windows and watermark with a `snapshot_tenant()`'s."""
        saved = CorrelationState.model_validate(state)
        tkey = tenant or ""
        self._groups.pop(tkey, None)
        self._swept.pop(tkey, None)
        if tkey in saved.watermarks:
            self._watermarks[tkey] = saved.watermarks[tkey]
        self._merge([g for g in saved.groups if (g.tenant or "") == tkey])

    def snapshot(self) -> CorrelationState:
        """The whole state (deep copy), for a checkpoint."""
        return CorrelationState(
            watermarks=dict(self._watermarks),
            late_dropped=self.late_dropped,
            groups=[g.model_copy(deep=True) for groups in self._groups.values() for g in groups.values()],
        )

    def changed(self) -> list[GroupState]:
        """Groups changed since the last call (deleted ones come back empty): one compacted record each."""
        out = []
        for tkey, key in sorted(self._changed):
            group = self._groups.get(tkey, {}).get(key)
            if group is None:
                group = GroupState(key=key, tenant=tkey or None, correlation=key.split("|")[1], group={})
            out.append(group.model_copy(deep=True))
        self._changed.clear()
        return out

    def restore(self, state: CorrelationState | list[GroupState]) -> None:
        """Merge saved state (a snapshot, or the latest GroupState of each key): later wins."""
        if isinstance(state, CorrelationState):
            if state.version != STATE_VERSION:
                raise ValueError(
                    f"correlation state version {state.version}; this engine reads {STATE_VERSION}"
                )
            for t, w in state.watermarks.items():
                self._watermarks[t] = max(w, self._watermarks.get(t, w))
            self.late_dropped += state.late_dropped
        groups = state.groups if isinstance(state, CorrelationState) else state
        self._merge([g.model_copy(deep=True) for g in groups])

    def _merge(self, groups: list[GroupState]) -> None:
        """Put saved groups (owned from now on) in place, an empty one deleting its key; windows that
        cannot fit today's correlation rules are dropped and logged."""
        dropped: Counter[str] = Counter()
        for g in groups:
            tkey = g.tenant or ""
            corr = self._corrs.get(g.correlation)
            if g.entries and (corr is None or set(g.group) != set(corr.group_by)):
                dropped[g.correlation] += 1
                continue
            if g.entries:
                self._groups.setdefault(tkey, {})[g.key] = g
            elif g.key in self._groups.get(tkey, {}):
                del self._groups[tkey][g.key]
                if not self._groups[tkey]:
                    del self._groups[tkey]
        for correlation, n in dropped.items():
            log.warning(
                "correlation windows dropped: the rule is gone or its group-by changed",
                correlation=correlation,
                windows=n,
            )
