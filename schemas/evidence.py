"""Compliance evidence: append-only records, hash-chained per tenant so tampering is detectable."""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from schemas.common import TenantId


class EvidenceType(StrEnum):
    detection = "detection"
    incident_opened = "incident_opened"
    incident_updated = "incident_updated"
    incident_closed = "incident_closed"
    notice_sent = "notice_sent"
    notice_failed = "notice_failed"
    triage_action = "triage_action"
    sla_breach = "sla_breach"  # a service-level clock passed its deadline (responders/sla/check.py)


class EvidenceRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: TenantId
    sequence: int = Field(ge=0)
    record_type: EvidenceType
    subject_id: str = Field(description="The detection, incident or notice this is evidence of.")
    occurred_at: datetime
    controls: list[str] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)
    evidence_key: str | None = Field(default=None, description="Deterministic key of the subject's state.")
    recorded_at: datetime | None = None
    previous_hash: str
    content_hash: str = ""

    def compute_hash(self) -> str:
        """SHA-256 over the canonical JSON of every field but the hash itself."""
        body = self.model_dump(mode="json", exclude={"content_hash"})
        return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()

    def sealed(self) -> EvidenceRecord:
        return self.model_copy(update={"content_hash": self.compute_hash()})


GENESIS_HASH = "0" * 64
