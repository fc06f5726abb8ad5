"""Password spraying: one source failing to log on as many different accounts.

State per source: the accounts it failed against in the last `window`, each with its last failure
time (a distinct count, at most `threshold * 4` accounts kept), the number of failures, and until
when a finding is suppressed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import Field

from detectors.heuristics.auth import AUTH_IDS, logon
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
from detectors.windows import DistinctWindow, Duration, LruMap, WindowSpec
from schemas.detection import Entity


class PasswordSprayingConfig(HeuristicConfig):
    threshold: int = Field(
        default=10, ge=2, description="Distinct accounts failed within `window` that fire."
    )
    window: Duration = Field(default=1800.0, gt=0)
    suppress: Duration = Field(default=3600.0, ge=0, description="Quiet time per source after a finding.")
    ignore_machine_accounts: bool = True


class _Source:
    __slots__ = ("accounts", "failures", "quiet_until")

    def __init__(self, spec: WindowSpec) -> None:
        self.accounts = DistinctWindow(spec)
        self.failures = 0
        self.quiet_until = NEVER


@register
class PasswordSpraying(Heuristic[PasswordSprayingConfig]):
    name = "password_spraying"
    config_model = PasswordSprayingConfig
    rule_id = "socpipe-heuristic-password-spraying"
    title = "Password spraying: one source failing against many accounts"
    tags = ("attack.credential_access", "attack.t1110", "attack.t1110.003")
    event_ids = AUTH_IDS

    def __init__(self, config: PasswordSprayingConfig) -> None:
        super().__init__(config)
        self.spec = WindowSpec(config.window, config.lateness, max(config.threshold * 4, 64))
        self.state: LruMap[str, _Source] = LruMap(config.max_keys)

    def partition_key(self, event: Mapping[str, Any]) -> str | None:
        """The source: its state holds the accounts it failed against."""
        attempt = logon(event)
        if attempt is None or not attempt.failed or not attempt.source or not attempt.account:
            return None
        return attempt.source

    def feed(self, event: Mapping[str, Any], tenant: str, timestamp: datetime) -> list[Finding]:
        attempt = logon(event)
        if attempt is None or not attempt.failed or not attempt.source or not attempt.account:
            return []
        account, source = attempt.account, attempt.source
        if self.config.ignore_machine_accounts and account.endswith("$"):
            return []
        allow = self.allow
        if allow.users(account) or allow.sources(source.removeprefix("ws:")) or allow.hosts(attempt.host):
            return []
        ts = timestamp.timestamp()
        state = self.state.setdefault(source, lambda: _Source(self.spec))
        if not state.accounts.add(account, ts):
            self.late += 1
            return []
        state.failures += 1
        distinct = len(state.accounts)
        if distinct < self.config.threshold or ts < state.quiet_until:
            return []
        state.quiet_until = ts + self.config.suppress
        accounts = list(reversed(state.accounts.values()))
        start = state.accounts.first_time()
        window = self.config.window
        explanation = (
            f"{source} failed to log on as {distinct} different accounts within {duration_text(window)} "
            f"(threshold {self.config.threshold}): {sample(accounts)}; "
            f"last on host {attempt.host or 'unknown'}."
        )
        return [
            self.finding(
                tenant=tenant,
                key=f"source:{source}",
                entity=Entity(host=attempt.host, user=account, source_ip=attempt.source_ip),
                window_start=start,
                event_time=ts,
                explanation=explanation,
                evidence={
                    "distinct_accounts": distinct,
                    "threshold": self.config.threshold,
                    "window_seconds": window,
                    "accounts": accounts[:50],
                    "failures_since_tracked": state.failures,
                    "first_failure": to_datetime(start).isoformat(),
                    "source": source,
                },
            )
        ]

    def keys(self) -> int:
        return len(self.state)

    def snapshot(self) -> dict[str, Any]:
        return {
            "keys": [
                [k, s.accounts.snapshot(), s.failures, dump_time(s.quiet_until)]
                for k, s in self.state.items()
            ]
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        self.state = LruMap(self.config.max_keys)
        for key, accounts, failures, quiet in state.get("keys", []):
            s = _Source(self.spec)
            s.accounts = DistinctWindow.restore(self.spec, accounts)
            s.failures = int(failures)
            s.quiet_until = load_time(quiet)
            self.state[key] = s
