"""Types shared by several schemas: tenant ids, severities, deterministic ids."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import StringConstraints

SCHEMA_VERSION = 1

# A tenant id ends up in index names, topic keys and file names: keep it to a safe, lower-case slug.
TenantId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]


class Severity(StrEnum):
    """Sigma levels, which double as incident severities."""

    informational = "informational"
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]

    @classmethod
    def parse(cls, level: str | None, default: Severity | None = None) -> Severity:
        """A rule's `level` as a severity; a missing or unknown one (rules in the wild have both) is
        `default`, medium unless given."""
        try:
            return cls((level or "").lower())
        except ValueError:
            return default or cls.medium


_SEVERITY_RANK = {s: i for i, s in enumerate(Severity)}


def deterministic_id(*parts: object) -> str:
    """A stable id from its parts, so a replay writes the same document instead of a new one."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).hexdigest()
    return digest[:32]


def utc_now() -> datetime:
    return datetime.now(UTC)
