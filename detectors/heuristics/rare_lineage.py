"""Rare process lineage: a parent/child pair of process names never (or rarely) seen on the tenant's hosts.

The baseline is learned from the stream: how often each `parent>child` pair of file names
(lower-cased, without folders, so per-user paths do not split a pair) and each parent started. A pair
fires while it has been seen at most `max_prior` times before, once the baseline is mature (at least
`min_baseline` process starts over at least `learning_period`), and at most once per `suppress`.
Allow-listed pairs and hosts count in the baseline (they are part of what is usual) but never fire.
Pairs beyond `max_keys` are evicted least recently seen first: a common pair is seen often and
stays; an evicted rare pair would count as new again.

Reads Sysmon 1 (ParentImage, Image), Security 4688 (ParentProcessName, NewProcessName) and ECS
process events (process.parent.executable, process.executable).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import Field

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
from detectors.windows import Duration, LruMap
from schemas.detection import Entity

_SOURCES = (
    (1, "ParentImage", "Image", "CommandLine", "User"),
    (4688, "ParentProcessName", "NewProcessName", "CommandLine", "SubjectUserName"),
)
# Children whose appearance under an unusual parent points at a technique: interpreters (T1059) and
# signed binaries that proxy execution (T1218).
_TECHNIQUES = {
    **dict.fromkeys(
        ("cmd.exe", "powershell.exe", "pwsh.exe", "wscript.exe", "cscript.exe", "bash.exe"), "attack.t1059"
    ),
    **dict.fromkeys(
        ("rundll32.exe", "regsvr32.exe", "mshta.exe", "msiexec.exe", "installutil.exe"), "attack.t1218"
    ),
}
_ECS = ("process.parent.executable", "process.parent.name", "process.executable", "process.name")


class RareLineageConfig(HeuristicConfig):
    max_keys: int = Field(
        default=20000, ge=1, le=1_000_000, description="Pairs (and parents) kept per tenant."
    )
    max_prior: int = Field(
        default=0, ge=0, description="Fire while the pair was seen at most this often before."
    )
    min_baseline: int = Field(default=500, ge=0, description="Process starts learned before anything fires.")
    learning_period: Duration = Field(
        default=86400.0, ge=0, description="Time learned before anything fires."
    )
    min_parent: int = Field(default=0, ge=0, description="Fire only for parents seen at least this often.")
    suppress: Duration = Field(default=7 * 86400.0, ge=0, description="Quiet time per pair after a finding.")


class _Pair:
    __slots__ = ("count", "quiet_until")

    def __init__(self, count: int = 0, quiet_until: float = NEVER) -> None:
        self.count = count
        self.quiet_until = quiet_until


def lineage(event: Mapping[str, Any]) -> tuple[str, str, str | None, str | None] | None:
    """(parent path, child path, command line, user) of a process start, or None."""
    eid = fields.event_id(event)
    for wanted, parent_field, child_field, cmd_field, user_field in _SOURCES:
        if eid == wanted:
            parent, child = event.get(parent_field), event.get(child_field)
            if parent and child and isinstance(parent, str) and isinstance(child, str):
                return parent, child, fields.text(event, (cmd_field,)), fields.text(event, (user_field,))
            return None
    if not fields.has(event, "event.category", "process"):
        return None
    parent = fields.text(event, _ECS[:2])
    child = fields.text(event, _ECS[2:])
    if parent and child:
        return (
            parent,
            child,
            fields.text(event, ("process.command_line",)),
            fields.text(event, ("user.name",)),
        )
    return None


@register
class RareLineage(Heuristic[RareLineageConfig]):
    name = "rare_lineage"
    config_model = RareLineageConfig
    rule_id = "socpipe-heuristic-rare-lineage"
    title = "Rare process lineage: parent/child pair new to the tenant"
    tags = ("attack.execution", "attack.defense_evasion")
    event_ids = frozenset({1, 4688})

    def __init__(self, config: RareLineageConfig) -> None:
        super().__init__(config)
        self.pairs: LruMap[str, _Pair] = LruMap(config.max_keys)
        self.parents: LruMap[str, int] = LruMap(config.max_keys)
        self.total = 0
        self.since = math.inf

    def partition_key(self, event: Mapping[str, Any]) -> str | None:
        """Tenant-wide: the baseline of pairs is learned over all of the tenant's hosts."""
        return None if lineage(event) is None else ""

    def feed(self, event: Mapping[str, Any], tenant: str, timestamp: datetime) -> list[Finding]:
        found = lineage(event)
        if found is None:
            return []
        parent_path, child_path, command_line, user = found
        parent, child = fields.basename(parent_path), fields.basename(child_path)
        pair_name = f"{parent}>{child}"
        host = fields.host_name(event)
        ts = timestamp.timestamp()
        self.since = min(self.since, ts)
        pair = self.pairs.setdefault(pair_name, _Pair)
        parent_count = self.parents.get(parent) or 0
        prior, total = pair.count, self.total
        pair.count += 1
        self.parents[parent] = parent_count + 1
        self.total += 1
        config = self.config
        mature = total >= config.min_baseline and ts - self.since >= config.learning_period
        if (
            not mature
            or prior > config.max_prior
            or parent_count < config.min_parent
            or ts < pair.quiet_until
            or self.allow.processes(pair_name)  # allowed pairs are learned like any other, never reported
            or self.allow.processes(child)
            or self.allow.hosts(host)
        ):
            return []
        pair.quiet_until = ts + config.suppress
        seen = "never" if prior == 0 else f"only {prior} time(s)"
        explanation = (
            f"{parent} started {child} on host {host or 'unknown'}: "
            f"this pair was {seen} seen on the tenant's hosts in a baseline of {total} process starts "
            f"over {duration_text(ts - self.since)} ({parent} itself started {parent_count} process(es))."
        )
        return [
            self.finding(
                tenant=tenant,
                key=f"pair:{pair_name}",
                entity=Entity(host=host, user=user),
                window_start=ts,
                event_time=ts,
                explanation=explanation,
                tags=(*self.tags, _TECHNIQUES[child]) if child in _TECHNIQUES else self.tags,
                evidence={
                    "pair": pair_name,
                    "prior_count": prior,
                    "parent_count": parent_count,
                    "baseline_total": total,
                    "baseline_since": to_datetime(self.since).isoformat(),
                    "parent_path": parent_path,
                    "child_path": child_path,
                    "command_line": command_line,
                    "user": user,
                },
            )
        ]

    def keys(self) -> int:
        return len(self.pairs) + len(self.parents)

    def snapshot(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "since": None if self.since == math.inf else self.since,
            "pairs": [[k, p.count, dump_time(p.quiet_until)] for k, p in self.pairs.items()],
            "parents": [[k, n] for k, n in self.parents.items()],
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        self.total = int(state.get("total", 0))
        since = state.get("since")
        self.since = math.inf if since is None else float(since)
        self.pairs = LruMap(self.config.max_keys)
        for key, count, quiet in state.get("pairs", []):
            self.pairs[key] = _Pair(int(count), load_time(quiet))
        self.parents = LruMap(self.config.max_keys)
        for key, count in state.get("parents", []):
            self.parents[key] = int(count)
