"""Brute force: many failed logons for one account or from one source, and the same followed by a success.

State per key (`account:<name>` and `source:<address>`): the failure times in the last `window`
(at most `threshold * 4` kept), a few of the other side's values (sources of an account, accounts of
a source) for the explanation, and until when a finding of each kind is suppressed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import Field

from detectors.heuristics.auth import AUTH_IDS, Logon, logon
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
from detectors.windows import Duration, LruMap, TimestampWindow, WindowSpec
from schemas.detection import Entity

RELATED_KEPT = 16


class BruteForceConfig(HeuristicConfig):
    threshold: int = Field(default=10, ge=2, description="Failed logons within `window` that fire.")
    window: Duration = Field(default=300.0, gt=0)
    success_threshold: int | None = Field(
        default=None,
        ge=1,
        description="Failures before a success that fire the success finding; None: threshold.",
    )
    suppress: Duration = Field(default=3600.0, ge=0, description="Quiet time per key after a finding.")
    by_account: bool = True
    by_source: bool = True
    ignore_machine_accounts: bool = Field(default=True, description="Skip accounts ending in $ (computers).")


class _Key:
    __slots__ = ("fails", "quiet_until", "related", "success_quiet_until")

    def __init__(self, spec: WindowSpec) -> None:
        self.fails = TimestampWindow(spec)
        self.related: OrderedDict[str, None] = OrderedDict()
        self.quiet_until = NEVER
        self.success_quiet_until = NEVER

    def relate(self, value: str | None) -> None:
        if value:
            self.related.pop(value, None)
            self.related[value] = None
            if len(self.related) > RELATED_KEPT:
                self.related.popitem(last=False)


@register
class BruteForce(Heuristic[BruteForceConfig]):
    name = "brute_force"
    config_model = BruteForceConfig
    rule_id = "socpipe-heuristic-brute-force"
    title = "Brute force: many failed logons"
    tags = ("attack.credential_access", "attack.t1110", "attack.t1110.001")
    event_ids = AUTH_IDS
    success_rule_id = "socpipe-heuristic-brute-force-success"
    success_title = "Brute force followed by a successful logon"
    success_tags = (*tags, "attack.initial_access", "attack.t1078")

    def __init__(self, config: BruteForceConfig) -> None:
        super().__init__(config)
        self.spec = WindowSpec(config.window, config.lateness, config.threshold * 4)
        self.state: LruMap[str, _Key] = LruMap(config.max_keys)
        self.success_threshold = config.success_threshold or config.threshold

    def _keys(self, attempt: Logon) -> list[tuple[str, str | None]]:
        """(state key, the other side's value) for each enabled, non-allowed side of the attempt."""
        out: list[tuple[str, str | None]] = []
        account, source = attempt.account, attempt.source
        if account and (self.config.ignore_machine_accounts and account.endswith("$")):
            account = None
        if account and self.allow.users(account):
            account = None
        if source and self.allow.sources(source.removeprefix("ws:")):
            source = None
        if account and self.config.by_account:
            out.append((f"account:{account}", source))
        if source and self.config.by_source:
            out.append((f"source:{source}", account))
        return out

    def partition_key(self, event: Mapping[str, Any]) -> str | None:
        """Tenant-wide: an attempt updates both its account's and its source's state."""
        return None if logon(event) is None else ""

    def feed(self, event: Mapping[str, Any], tenant: str, timestamp: datetime) -> list[Finding]:
        attempt = logon(event)
        if attempt is None or self.allow.hosts(attempt.host):
            return []
        keys = self._keys(attempt)
        if not keys:
            return []
        ts = timestamp.timestamp()
        if attempt.failed:
            return [f for key, other in keys if (f := self._failure(key, other, attempt, tenant, ts))]
        for key, _ in keys:  # at most one success finding per logon: the account's, else the source's
            found = self._success(key, attempt, tenant, ts)
            if found:
                return [found]
        return []

    def _failure(self, key: str, other: str | None, attempt: Logon, tenant: str, ts: float) -> Finding | None:
        state = self.state.setdefault(key, lambda: _Key(self.spec))
        if not state.fails.add(ts):
            self.late += 1
            return None
        for _ in range(min(attempt.count, self.spec.cap) - 1):  # a repeated line: its other attempts
            state.fails.add(ts)
        state.relate(other)
        window = self.config.window
        count = state.fails.count_between(ts - window, ts)
        if count < self.config.threshold or ts < state.quiet_until:
            return None
        state.quiet_until = ts + self.config.suppress
        start = state.fails.first_since(ts - window)
        kind, value = key.split(":", 1)
        related = list(reversed(state.related))
        if kind == "account":
            what = f"for account {value!r}"
            side = (
                f"from {len(related)} source(s): {sample(related)}" if related else "from an unknown source"
            )
        else:
            what = f"from {value}"
            side = (
                f"against {len(related)} account(s): {sample(related)}"
                if related
                else "against unknown accounts"
            )
        explanation = (
            f"{count} failed logons {what} within {duration_text(window)} "
            f"(threshold {self.config.threshold}), {side}; last on host {attempt.host or 'unknown'}."
        )
        return self.finding(
            tenant=tenant,
            key=key,
            entity=self._entity(kind, value, attempt),
            window_start=start,
            event_time=ts,
            explanation=explanation,
            evidence={
                "failures": count,
                "threshold": self.config.threshold,
                "window_seconds": window,
                "first_failure": to_datetime(start).isoformat(),
                "last_failure": to_datetime(ts).isoformat(),
                ("sources" if kind == "account" else "accounts"): related,
            },
        )

    def _success(self, key: str, attempt: Logon, tenant: str, ts: float) -> Finding | None:
        state = self.state.peek(key)
        if state is None or ts < state.success_quiet_until:
            return None
        window = self.config.window
        count = state.fails.count_between(ts - window, ts)
        if count < self.success_threshold:
            return None
        state.success_quiet_until = ts + self.config.suppress
        start = state.fails.first_since(ts - window)
        kind, value = key.split(":", 1)
        who = f"account {attempt.account!r}" if attempt.account else "an account"
        explanation = (
            f"{who} logged on successfully from {attempt.source or 'an unknown source'} on host "
            f"{attempt.host or 'unknown'} after {count} failed logons "
            f"{'for that account' if kind == 'account' else 'from that source'} "
            f"within {duration_text(window)} (threshold {self.success_threshold})."
        )
        return self.finding(
            tenant=tenant,
            key=key,
            entity=self._entity(kind, value, attempt),
            window_start=start,
            event_time=ts,
            explanation=explanation,
            level=escalate(self.level, 2),
            rule_id=self.success_rule_id,
            title=self.success_title,
            tags=self.success_tags,
            evidence={
                "failures": count,
                "threshold": self.success_threshold,
                "window_seconds": window,
                "first_failure": to_datetime(start).isoformat(),
                "success": to_datetime(ts).isoformat(),
                "account": attempt.account,
                "source": attempt.source,
            },
        )

    @staticmethod
    def _entity(kind: str, value: str, attempt: Logon) -> Entity:
        if kind == "account":
            return Entity(host=attempt.host, user=value, source_ip=attempt.source_ip)
        return Entity(host=attempt.host, user=attempt.account, source_ip=attempt.source_ip)

    def keys(self) -> int:
        return len(self.state)

    def snapshot(self) -> dict[str, Any]:
        return {
            "keys": [
                [
                    key,
                    s.fails.snapshot(),
                    list(s.related),
                    dump_time(s.quiet_until),
                    dump_time(s.success_quiet_until),
                ]
                for key, s in self.state.items()
            ]
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        self.state = LruMap(self.config.max_keys)
        for key, times, related, quiet, success_quiet in state.get("keys", []):
            s = _Key(self.spec)
            s.fails = TimestampWindow.restore(self.spec, times)
            s.related = OrderedDict.fromkeys(related)
            s.quiet_until = load_time(quiet)
            s.success_quiet_until = load_time(success_quiet)
            self.state[key] = s
