"""A notice to a client organisation about one state change of one of its incidents."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from schemas.common import TenantId, deterministic_id


class NoticeStatus(StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"
    superseded = "superseded"  # never sent: an open notice claimed in the same round announced it already


class Notice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    tenant: TenantId
    incident_id: str
    incident_state: str
    channel: str
    destination: str
    subject: str
    status: NoticeStatus = NoticeStatus.pending
    attempts: int = 0
    sent_at: datetime | None = None
    receipt: str | None = None
    error: str | None = None
    first_tried_at: datetime | None = None  # the first delivery round: the give-up age counts from it
    retry_at: datetime | None = None  # a transient failure's next round (the sweep's); None: none planned

    @staticmethod
    def make_id(tenant: str, incident_id: str, incident_state: str, channel: str, destination: str) -> str:
        """At most one notice per incident state change and destination, whatever is replayed."""
        return deterministic_id("notice", tenant, incident_id, incident_state, channel, destination)
