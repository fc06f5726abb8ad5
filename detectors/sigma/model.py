"""What the Sigma engine hands out: rule metadata, matches and deterministic detection ids."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

# Namespace of detection ids: uuid5(DETECTION_NS, "<rule id>|<tenant>|<event ref>").
DETECTION_NS = uuid.UUID("6f1d8f5e-2b8a-5c38-9a53-5a0c1f0e7d21")


class RuleInfo(BaseModel):
    """The parts of a Sigma rule a detection carries (author kept: the DRL requires attribution)."""

    model_config = ConfigDict(frozen=True)
    id: str
    name: str | None = None
    title: str
    level: str | None = None
    status: str | None = None
    author: str | None = None
    tags: tuple[str, ...] = ()
    logsource: dict[str, str] = Field(default_factory=dict)
    path: str | None = None
    # False when a correlation with `generate: false` (Sigma's default) references the rule: its
    # matches feed the correlation but are no detection of their own.
    output: bool = True

    @property
    def attack(self) -> tuple[str, ...]:
        """ATT&CK tags (`attack.t1059.001`, `attack.execution`) without the namespace."""
        return tuple(t.split(".", 1)[1] for t in self.tags if t.startswith("attack."))


class Match(BaseModel):
    """One rule matching one event."""

    model_config = ConfigDict(frozen=True)
    id: str  # deterministic: same rule, tenant and event give the same id
    rule: RuleInfo
    matched: dict[str, Any]  # field -> value of the selections that made the rule match
    tenant: str | None = None
    event_ref: str  # the caller's reference to the event, else a digest of its content
    pipeline: str  # field-mapping pipeline name@version

    @property
    def rule_id(self) -> str:
        return self.rule.id

    @property
    def tags(self) -> tuple[str, ...]:
        return self.rule.tags

    @property
    def attack(self) -> tuple[str, ...]:
        return self.rule.attack


def event_digest(event: Mapping[str, Any]) -> str:
    """A stable content reference for an event: sha256 of its canonical JSON."""
    blob = orjson.dumps(event, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def detection_id(rule_id: str, tenant: str | None, event_ref: str) -> str:
    return str(uuid.uuid5(DETECTION_NS, f"{rule_id}|{tenant or ''}|{event_ref}"))
